"""Client registration rules: what a client may be registered with, checked before any write."""

from __future__ import annotations

import re
import secrets
import string
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from authserver.extensions import db
from authserver.hashing import new_secret, sha256_hex
from authserver.models import OAuthClient
from authserver.models.clients import (
    AUTH_METHODS,
    DEVICE_CODE_GRANT_TYPE,
    GRANT_TYPES,
    SECRETLESS_AUTH_METHODS,
)
from authserver.oauth.client_jwks import check_jwks_uri, parse_jwks
from authserver.oauth.scopes import SCOPES, SERVICE_SCOPES, USER_SCOPES
from authserver.services.auth_manifest import AUTH_SERVICE
from authserver.services.sync import lock_service

# A client id never begins with "-" or ".": shells and CLIs would read it as an option.
CLIENT_ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{2,99}$")
CLIENT_ID_ALPHABET = string.ascii_letters + string.digits
CLIENT_ID_LENGTH = 22  # 131 bits: unguessable, though a client id is not a secret
SERVICE_NAME_PATTERN = re.compile(r"^[a-z0-9_.-]{1,50}$")
MAX_URI_LENGTH = 2000
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "::1", "localhost"})


class RegistrationError(ValueError):
    """A client field is invalid; `field` names it, the message says why."""

    def __init__(self, field_name: str, problem: str) -> None:
        super().__init__(f"{field_name}: {problem}")
        self.field = field_name


@dataclass(frozen=True)
class ClientSpec:
    """What an operator asks for when registering a client."""

    name: str
    redirect_uris: tuple[str, ...] = ()
    post_logout_redirect_uris: tuple[str, ...] = ()
    grant_types: tuple[str, ...] = ("authorization_code", "refresh_token")
    scopes: tuple[str, ...] = ("openid", "profile", "email", "offline_access", "orgs")
    auth_method: str = "client_secret_basic"
    is_first_party: bool = False
    service_name: str | None = None
    client_id: str | None = None
    description: str | None = None
    logo_uri: str | None = None
    client_uri: str | None = None
    policy_uri: str | None = None
    tos_uri: str | None = None
    dpop_bound_access_tokens: bool = False  # RFC 9449 §5.2
    backchannel_logout_uri: str | None = None  # OIDC Back-Channel Logout 1.0 §2.2
    backchannel_logout_session_required: bool = False
    jwks: dict | None = None
    jwks_uri: str | None = None
    require_pushed_authorization_requests: bool = False


# RFC 7591 §2: URIs shown to people; every one is https, so no page of ours links or loads
# anything in the clear.
PAGE_URI_FIELDS = ("logo_uri", "client_uri", "policy_uri", "tos_uri")


def validate(spec: ClientSpec) -> None:
    """Raise RegistrationError for the first field that breaks a rule."""
    _check_name(spec.name)
    if spec.client_id is not None:
        _check_client_id(spec.client_id)
    if spec.auth_method not in AUTH_METHODS:
        raise RegistrationError("auth_method", f"must be one of {', '.join(AUTH_METHODS)}")
    _check_grant_types(spec)
    _check_scopes(spec)
    _check_keys(spec)
    for uri in spec.redirect_uris:
        check_redirect_uri(uri, "redirect_uri")
    for uri in spec.post_logout_redirect_uris:
        check_redirect_uri(uri, "post_logout_redirect_uri")
    for field_name in PAGE_URI_FIELDS:
        if uri := getattr(spec, field_name):  # empty: none
            check_page_uri(uri, field_name)
    if spec.backchannel_logout_uri is not None:
        check_backchannel_logout_uri(spec.backchannel_logout_uri)
    if spec.service_name is not None and not SERVICE_NAME_PATTERN.match(spec.service_name):
        raise RegistrationError("service", "use 1 to 50 of a-z 0-9 _ . -")
    if spec.service_name == AUTH_SERVICE:
        # Only the server declares the auth roles; a client bound to auth could replace them.
        raise RegistrationError("service", f"{AUTH_SERVICE} is the server's own service")


def _check_name(name: str) -> None:
    if not name.strip() or len(name) > 100:
        raise RegistrationError("name", "must be 1 to 100 characters")
    if any(ord(char) < 32 or ord(char) == 127 for char in name):
        raise RegistrationError("name", "must not contain control characters")


def _check_client_id(client_id: str) -> None:
    if not CLIENT_ID_PATTERN.match(client_id):
        raise RegistrationError(
            "client_id", "use 3 to 100 of A-Z a-z 0-9 . _ -, beginning with a letter or digit"
        )
    if is_uuid(client_id):
        # A service token's `sub` is its client id and a person's is their UUID: no client
        # id may ever read as a person's (DESIGN "Boundaries").
        raise RegistrationError("client_id", "must not be a UUID (people's ids are UUIDs)")


def is_uuid(value: str) -> bool:
    """Every spelling uuid.UUID accepts (with or without dashes, any case)."""
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def _check_grant_types(spec: ClientSpec) -> None:
    grants = set(spec.grant_types)
    if not grants:
        raise RegistrationError("grant_type", "at least one is needed")
    unknown = grants - set(GRANT_TYPES)
    if unknown:
        raise RegistrationError("grant_type", f"unknown: {', '.join(sorted(unknown))}")
    if "authorization_code" in grants and not spec.redirect_uris:
        raise RegistrationError("redirect_uri", "authorization_code needs at least one")
    if "refresh_token" in grants and not grants & {"authorization_code", DEVICE_CODE_GRANT_TYPE}:
        raise RegistrationError(
            "grant_type", "refresh_token goes with authorization_code or the device code grant"
        )
    if "client_credentials" in grants:
        if spec.auth_method == "none":
            raise RegistrationError("grant_type", "a public client cannot use client_credentials")
        if spec.service_name is None:
            raise RegistrationError("service", "client_credentials is for service clients only")
        if grants != {"client_credentials"}:
            # A service acts as itself, a person-facing app for people: two clients, so that
            # no client holds both kinds of scope.
            raise RegistrationError(
                "grant_type", "client_credentials goes alone; register the app separately"
            )


def _check_scopes(spec: ClientSpec) -> None:
    unknown = set(spec.scopes) - set(SCOPES)
    if unknown:
        raise RegistrationError("scope", f"unknown: {', '.join(sorted(unknown))}")
    if set(spec.scopes) & SERVICE_SCOPES and spec.service_name is None:
        raise RegistrationError("scope", "services:sync is for clients bound to a service")
    is_service = "client_credentials" in spec.grant_types
    mismatched = set(spec.scopes) - (SERVICE_SCOPES if is_service else USER_SCOPES)
    if mismatched:
        who = "a service client" if is_service else "a client acting for people"
        raise RegistrationError("scope", f"not for {who}: {', '.join(sorted(mismatched))}")


def _check_keys(spec: ClientSpec) -> None:
    """private_key_jwt (RFC 7523, OIDC Core §9) needs the client's public keys: one JWK Set
    inline or one jwks_uri; any other method has no use for keys."""
    has_keys = spec.jwks is not None or spec.jwks_uri is not None
    if spec.auth_method != "private_key_jwt":
        if has_keys:
            raise RegistrationError("jwks", "keys are for clients that use private_key_jwt")
        return
    if (spec.jwks is None) == (spec.jwks_uri is None):
        raise RegistrationError("jwks", "private_key_jwt needs either jwks or jwks_uri")
    if spec.jwks is not None:
        try:
            parse_jwks(spec.jwks)
        except ValueError as error:
            raise RegistrationError("jwks", str(error)) from None
    if spec.jwks_uri is not None:
        check_redirect_uri(spec.jwks_uri, "jwks_uri")  # length, controls, no fragment
        problem = check_jwks_uri(spec.jwks_uri)
        if problem is not None:
            raise RegistrationError("jwks_uri", problem)


def check_redirect_uri(uri: str, field_name: str) -> None:
    """RFC 9700 §2.1 and RFC 8252 §7: https, loopback http, or a private-use scheme."""
    if len(uri) > MAX_URI_LENGTH:
        raise RegistrationError(field_name, f"must be at most {MAX_URI_LENGTH} characters")
    if any(ord(char) <= 32 or ord(char) == 127 for char in uri) or "*" in uri:
        raise RegistrationError(field_name, f"{uri!r} has spaces, controls or wildcards")
    parts = urlsplit(uri)
    if parts.fragment or "#" in uri:
        raise RegistrationError(field_name, f"{uri!r} must not have a fragment")
    if parts.scheme == "https" and parts.hostname:
        return
    if parts.scheme == "http" and parts.hostname in LOOPBACK_HOSTS:
        return
    if "." in parts.scheme and parts.scheme not in ("http", "https") and parts.path:
        return  # RFC 8252 §7.1: reverse-domain private-use scheme of a native app
    raise RegistrationError(
        field_name,
        f"{uri!r} must be https, http on a loopback address, or a reverse-domain app scheme",
    )


def check_page_uri(uri: str, field_name: str) -> None:
    """An https URL with a host, bounded, without credentials, spaces or controls: what a
    page may link to or load an image from (the CSP's img-src allows https: only)."""
    if len(uri) > MAX_URI_LENGTH:
        raise RegistrationError(field_name, f"must be at most {MAX_URI_LENGTH} characters")
    if any(ord(char) <= 32 or ord(char) == 127 for char in uri):
        raise RegistrationError(field_name, f"{uri!r} has spaces or controls")
    parts = urlsplit(uri)
    if parts.scheme != "https" or not parts.hostname:
        raise RegistrationError(field_name, f"{uri!r} must be an https URL")
    if parts.username is not None or parts.password is not None:
        raise RegistrationError(field_name, f"{uri!r} must not carry credentials")


def check_backchannel_logout_uri(uri: str) -> None:
    """Back-Channel Logout 1.0 §2.2: an absolute URI without a fragment; ours are https, or
    http on a loopback address, since the server itself POSTs a logout token there."""
    field_name = "backchannel_logout_uri"
    if len(uri) > MAX_URI_LENGTH:
        raise RegistrationError(field_name, f"must be at most {MAX_URI_LENGTH} characters")
    if any(ord(char) <= 32 or ord(char) == 127 for char in uri) or "#" in uri:
        raise RegistrationError(field_name, f"{uri!r} has spaces, controls or a fragment")
    try:
        parts = urlsplit(uri)
        parts.port  # noqa: B018 - a port that is not a number raises here
    except ValueError:
        raise RegistrationError(field_name, f"{uri!r} is not a URI") from None
    if parts.scheme == "https" and parts.hostname:
        return
    if parts.scheme == "http" and parts.hostname in LOOPBACK_HOSTS:
        return
    raise RegistrationError(field_name, f"{uri!r} must be https or http on a loopback address")


def new_client_id() -> str:
    return "".join(secrets.choice(CLIENT_ID_ALPHABET) for _ in range(CLIENT_ID_LENGTH))


def register(spec: ClientSpec) -> tuple[OAuthClient, str | None]:
    """Validate and add the client; return it with its raw secret (shown once, never stored).

    The caller commits. A service named for the first time is registered with it.
    """
    validate(spec)
    client_id = spec.client_id or new_client_id()
    if OAuthClient.find(client_id) is not None:
        raise RegistrationError("client_id", f"{client_id!r} is taken")
    if spec.service_name is not None:
        lock_service(spec.service_name)  # registers it when new, race-safe
    secret = None if spec.auth_method in SECRETLESS_AUTH_METHODS else new_secret()
    client = OAuthClient(
        client_id=client_id,
        client_secret_hash=sha256_hex(secret) if secret else None,
        name=spec.name.strip(),
        description=spec.description,
        redirect_uris=list(dict.fromkeys(spec.redirect_uris)),
        post_logout_redirect_uris=list(dict.fromkeys(spec.post_logout_redirect_uris)),
        grant_types=sorted(set(spec.grant_types)),
        scopes=sorted(set(spec.scopes)),
        token_endpoint_auth_method=spec.auth_method,
        is_first_party=spec.is_first_party,
        service_name=spec.service_name,
        **{field_name: getattr(spec, field_name) for field_name in PAGE_URI_FIELDS},
        dpop_bound_access_tokens=spec.dpop_bound_access_tokens,
        backchannel_logout_uri=spec.backchannel_logout_uri,
        backchannel_logout_session_required=spec.backchannel_logout_session_required,
        jwks=spec.jwks,
        jwks_uri=spec.jwks_uri,
        require_pushed_authorization_requests=spec.require_pushed_authorization_requests,
    )
    db.session.add(client)
    db.session.flush()
    return client, secret


# What `authserver clients update` may change; the grant types, authentication method and
# service define what a client is, so they stay (register a new client instead).
CHANGEABLE = (
    "name",
    "redirect_uris",
    "post_logout_redirect_uris",
    "scopes",
    "is_first_party",
    *PAGE_URI_FIELDS,
    "dpop_bound_access_tokens",
    "backchannel_logout_uri",
    "backchannel_logout_session_required",
    "jwks",
    "jwks_uri",
    "require_pushed_authorization_requests",
)


def change(
    client: OAuthClient, changes: dict[str, Any], *, rotate_secret: bool = False
) -> tuple[dict[str, tuple[Any, Any]], str | None]:
    """Apply `changes` (fields of CHANGEABLE) once the client as it would then be passes
    every registration rule; with `rotate_secret`, replace the secret. Returns the fields
    that changed, each with its value before and after (audited_changes), and the new raw
    secret (shown once). The caller commits."""
    future = {field: changes.get(field, getattr(client, field)) for field in CHANGEABLE}
    validate(
        ClientSpec(
            name=future["name"],
            redirect_uris=tuple(future["redirect_uris"]),
            post_logout_redirect_uris=tuple(future["post_logout_redirect_uris"]),
            grant_types=tuple(client.grant_types),
            scopes=tuple(future["scopes"]),
            auth_method=client.token_endpoint_auth_method,
            is_first_party=future["is_first_party"],
            service_name=client.service_name,
            **{field_name: future[field_name] for field_name in PAGE_URI_FIELDS},
            dpop_bound_access_tokens=future["dpop_bound_access_tokens"],
            backchannel_logout_uri=future["backchannel_logout_uri"],
            backchannel_logout_session_required=future["backchannel_logout_session_required"],
            jwks=future["jwks"],
            jwks_uri=future["jwks_uri"],
            require_pushed_authorization_requests=future["require_pushed_authorization_requests"],
        )
    )
    if rotate_secret and client.client_secret_hash is None:
        kind = "public" if client.is_public else "private_key_jwt"
        raise RegistrationError("rotate_secret", f"a {kind} client has no secret")
    changed: dict[str, tuple[Any, Any]] = {}
    for field, value in future.items():
        value = _stored_form(field, value)
        before = getattr(client, field)
        if before != value:
            setattr(client, field, value)
            changed[field] = (before, value)
    secret = None
    if rotate_secret:
        secret = new_secret()
        client.client_secret_hash = sha256_hex(secret)
        changed["client_secret"] = (None, None)  # named, never shown
    db.session.flush()
    return changed, secret


def audited_changes(changed: dict[str, tuple[Any, Any]]) -> dict[str, Any]:
    """What the audit event of a change records: the fields that changed, and for each the
    value before and after (who pointed a redirect URI, a jwks_uri or the back-channel
    logout URI elsewhere, and from what). Keys by their RFC 7638 thumbprints; a secret by
    name only."""
    values = {
        field: {"from": _audited_value(field, before), "to": _audited_value(field, after)}
        for field, (before, after) in changed.items()
        if field != "client_secret"
    }
    return {"fields": list(changed), "values": values}


def _audited_value(field: str, value: Any) -> Any:
    if field != "jwks" or value is None:
        return value
    try:
        return [key.thumbprint() for key in parse_jwks(value)]
    except ValueError:
        return "(not a valid JWK Set)"


def _stored_form(field: str, value: Any) -> Any:
    """A field as register() stores it, so that an unchanged value compares equal."""
    if field == "name":
        return value.strip()
    if field == "scopes":
        return sorted(set(value))
    if field in ("redirect_uris", "post_logout_redirect_uris"):
        return list(dict.fromkeys(value))
    if field in PAGE_URI_FIELDS:
        return value or None  # an empty value removes the URI
    return value
