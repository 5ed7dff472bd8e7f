"""Reading the console's client form into what registration.py checks: a ClientSpec, and
the pasted JWK Set as a JSON document. The rules themselves stay in registration.py (and
client_jwks.py for keys), so the console saves nothing the CLI would refuse."""

from __future__ import annotations

import json
from typing import Any

from flask import abort
from werkzeug.datastructures import MultiDict

from authserver.admin.console import text_arg
from authserver.models.clients import DEVICE_CODE_GRANT_TYPE, TOKEN_EXCHANGE
from authserver.oauth.client_jwks import MAX_JWKS_BYTES
from authserver.oauth.registration import (
    CHANGEABLE,
    MAX_URI_LENGTH,
    PAGE_URI_FIELDS,
    ClientSpec,
    RegistrationError,
)
from authserver.text import has_unstorable_text

MAX_URIS = 20_000  # the whole textarea of redirect URIs
AUTH_METHOD_LABELS = {
    "client_secret_basic": "client_secret_basic",
    "client_secret_post": "client_secret_post",
    "private_key_jwt": "private_key_jwt (no secret: the client signs assertions with its keys)",
    "none": "none (public: SPA, mobile, CLI; PKCE only)",
}
GRANT_TYPE_LABELS = {
    DEVICE_CODE_GRANT_TYPE: "device code (RFC 8628: CLIs, TVs)",
    TOKEN_EXCHANGE: "token exchange (RFC 8693: API keys)",
}
# The form's checkboxes and the fields they set; an unticked box is not sent: False.
FLAGS = {
    "first_party": "is_first_party",
    "dpop_bound_access_tokens": "dpop_bound_access_tokens",
    "backchannel_logout_session_required": "backchannel_logout_session_required",
    "require_pushed_authorization_requests": "require_pushed_authorization_requests",
}


def _lines(form: MultiDict[str, str], name: str) -> tuple[str, ...]:
    raw = form.get(name, "")
    if len(raw) > MAX_URIS:
        abort(400, f"{name} is longer than {MAX_URIS} characters.")
    return tuple(line.strip() for line in raw.splitlines() if line.strip())


def _uri(form: MultiDict[str, str], name: str) -> str | None:
    return text_arg(name, form, limit=MAX_URI_LENGTH) or None


def spec_from_form(form: MultiDict[str, str]) -> ClientSpec:
    """Every field of the form but the pasted keys (read_jwks, which can be refused)."""
    return ClientSpec(
        name=text_arg("name", form, limit=100),
        redirect_uris=_lines(form, "redirect_uris"),
        post_logout_redirect_uris=_lines(form, "post_logout_redirect_uris"),
        grant_types=tuple(form.getlist("grant_type")),
        scopes=tuple(form.getlist("scope")),
        auth_method=form.get("auth_method", "client_secret_basic"),
        service_name=text_arg("service", form, limit=50) or None,
        client_id=text_arg("client_id", form, limit=100) or None,
        backchannel_logout_uri=_uri(form, "backchannel_logout_uri"),
        jwks_uri=_uri(form, "jwks_uri"),
        **{field: _uri(form, field) for field in PAGE_URI_FIELDS},
        **{field: form.get(box) == "on" for box, field in FLAGS.items()},
    )


def read_jwks(form: MultiDict[str, str]) -> dict[str, Any] | None:
    """The pasted JWK Set as a JSON object, or None when the field is empty. What it must
    hold (public asymmetric keys) is client_jwks.parse_jwks's to say, through validate()."""
    raw = form.get("jwks", "").strip()
    if not raw:
        return None
    if len(raw) > MAX_JWKS_BYTES:
        raise RegistrationError("jwks", f"must be at most {MAX_JWKS_BYTES} characters")
    try:
        document = json.loads(raw)
    except json.JSONDecodeError as error:
        raise RegistrationError("jwks", f"is not JSON ({error.msg}, line {error.lineno})") from None
    except (RecursionError, ValueError):  # nested past the parser; a 5000-digit number
        raise RegistrationError("jwks", "is not JSON this server can read") from None
    if not isinstance(document, dict):
        raise RegistrationError("jwks", 'must be a JSON object with a "keys" list')
    if has_unstorable_text(document):  # "\u0000" in JSON passes the form's own NUL check
        raise RegistrationError("jwks", "a string holds a NUL character or a lone surrogate")
    return document


def changes_from_form(spec: ClientSpec, jwks: dict | None) -> dict[str, Any]:
    """What the edit form asks of registration.change(): every field it may change. Only a
    private_key_jwt client's form shows the keys; any other sends none, and keys sent anyway
    are refused by the registration rule that keys go with private_key_jwt."""
    return {field: jwks if field == "jwks" else getattr(spec, field) for field in CHANGEABLE}


def jwks_text(jwks: dict | None) -> str:
    """The stored key set as the textarea shows it."""
    return json.dumps(jwks, indent=2) if jwks is not None else ""
