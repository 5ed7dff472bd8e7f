"""WebAuthn with py_webauthn: register authenticators, verify assertions, single-use challenges.

The relying party id is the issuer's host and the only accepted origin is the issuer's
origin (WebAuthn Level 3 §5.1.3 step 9, §7.1 step 9). Challenges live server-side, bound to
the person or the half-finished sign-in they were made for, and are deleted on first use.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import webauthn
from webauthn.helpers import (
    parse_authentication_credential_json,
    parse_client_data_json,
    parse_registration_credential_json,
)
from webauthn.helpers.exceptions import WebAuthnException
from webauthn.helpers.structs import (
    AuthenticationCredential,
    AuthenticatorSelectionCriteria,
    AuthenticatorTransport,
    CredentialDeviceType,
    PublicKeyCredentialDescriptor,
    RegistrationCredential,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from authserver.clock import utcnow
from authserver.config import Settings
from authserver.extensions import db
from authserver.models import User, WebAuthnChallenge, WebAuthnCredential

CHALLENGE_TTL = timedelta(minutes=3)
TIMEOUT_MS = 120_000
MAX_CREDENTIAL_JSON = 64 * 1024
MAX_NAME = 64
REGISTER, SECOND_FACTOR, PASSKEY = "register", "second_factor", "passkey"


class WebAuthnRefused(Exception):
    """The ceremony failed; `reason` is for the log and audit, never shown."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class RelyingParty:
    id: str
    origin: str
    name: str

    @classmethod
    def of(cls, settings: Settings) -> RelyingParty:
        parts = urlsplit(settings.issuer)
        return cls(
            id=parts.hostname or "", origin=f"{parts.scheme}://{parts.netloc}", name="authserver"
        )


def _remember(challenge: bytes, purpose: str, **binding: uuid.UUID | None) -> None:
    db.session.add(
        WebAuthnChallenge(
            challenge_hash=WebAuthnChallenge.hash_of(challenge),
            purpose=purpose,
            expires_at=utcnow() + CHALLENGE_TTL,
            **binding,
        )
    )
    db.session.flush()


def _descriptors(user_id: uuid.UUID) -> list[PublicKeyCredentialDescriptor]:
    return [
        PublicKeyCredentialDescriptor(
            id=credential.credential_id,
            transports=[AuthenticatorTransport(t) for t in credential.transports if _known(t)],
        )
        for credential in WebAuthnCredential.all_of(user_id)
    ]


def _known(transport: str) -> bool:
    return transport in {member.value for member in AuthenticatorTransport}


def registration_options(user: User, settings: Settings) -> str:
    """Options for navigator.credentials.create(), as JSON. A discoverable credential is
    preferred, so the same authenticator also signs in without an email (a passkey)."""
    rp = RelyingParty.of(settings)
    options = webauthn.generate_registration_options(
        rp_id=rp.id,
        rp_name=rp.name,
        user_id=user.id.bytes,  # the user handle: random, no personal data (§14.6.1)
        user_name=user.email,
        user_display_name=user.display_name,
        timeout=TIMEOUT_MS,
        exclude_credentials=_descriptors(user.id),
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.PREFERRED,
            user_verification=UserVerificationRequirement.PREFERRED,
        ),
    )
    _remember(options.challenge, REGISTER, user_id=user.id)
    return webauthn.options_to_json(options)


@dataclass(frozen=True)
class Assertion:
    """A credential the person just proved to hold, and whether it verified them."""

    credential: WebAuthnCredential
    user_verified: bool


def _client_challenge(credential: RegistrationCredential | AuthenticationCredential) -> bytes:
    return parse_client_data_json(credential.response.client_data_json).challenge


def _parsed(raw: str, parse: Any) -> Any:
    if not isinstance(raw, str) or len(raw) > MAX_CREDENTIAL_JSON:
        raise WebAuthnRefused("malformed")
    try:
        credential = parse(raw)
        _client_challenge(credential)
    except (WebAuthnException, ValueError, TypeError, KeyError) as error:
        raise WebAuthnRefused("malformed") from error
    return credential


def register(user: User, raw: str, name: str, settings: Settings) -> Assertion:
    """Verify an attestation made for this person's live challenge and store the key."""
    credential = _parsed(raw, parse_registration_credential_json)
    challenge = _client_challenge(credential)
    taken = WebAuthnChallenge.take(challenge, REGISTER)
    if taken is None or taken.user_id != user.id:
        raise WebAuthnRefused("challenge_unknown_or_used")
    rp = RelyingParty.of(settings)
    try:
        verified = webauthn.verify_registration_response(
            credential=credential,
            expected_challenge=challenge,
            expected_rp_id=rp.id,
            expected_origin=rp.origin,
        )
    except WebAuthnException as error:
        raise WebAuthnRefused(f"registration_invalid: {error}") from error
    if WebAuthnCredential.find(verified.credential_id) is not None:
        raise WebAuthnRefused("credential_already_registered")
    stored = WebAuthnCredential(
        user_id=user.id,
        name=clean_name(name),
        credential_id=verified.credential_id,
        public_key=verified.credential_public_key,
        sign_count=verified.sign_count,
        is_synced=verified.credential_device_type == CredentialDeviceType.MULTI_DEVICE,
        transports=[t.value for t in credential.response.transports or []],
    )
    db.session.add(stored)
    db.session.flush()
    return Assertion(stored, verified.user_verified)


def clean_name(name: str) -> str:
    printable = "".join(char for char in (name or "") if char.isprintable()).strip()
    return printable[:MAX_NAME] or "Security key"


def second_factor_options(user: User, sign_in_id: uuid.UUID, settings: Settings) -> str:
    """Options for navigator.credentials.get() naming the person's own credentials."""
    options = webauthn.generate_authentication_options(
        rp_id=RelyingParty.of(settings).id,
        timeout=TIMEOUT_MS,
        allow_credentials=_descriptors(user.id),
        user_verification=UserVerificationRequirement.PREFERRED,
    )
    _remember(options.challenge, SECOND_FACTOR, sign_in_id=sign_in_id)
    return webauthn.options_to_json(options)


def passkey_options(settings: Settings) -> str:
    """Options for a sign-in without an email: any discoverable credential, verified."""
    options = webauthn.generate_authentication_options(
        rp_id=RelyingParty.of(settings).id,
        timeout=TIMEOUT_MS,
        user_verification=UserVerificationRequirement.REQUIRED,
    )
    _remember(options.challenge, PASSKEY)
    return webauthn.options_to_json(options)


def authenticate(
    raw: str,
    purpose: str,
    settings: Settings,
    *,
    sign_in_id: uuid.UUID | None = None,
    user_id: uuid.UUID | None = None,
) -> Assertion:
    """Verify an assertion against its single-use challenge and the stored key, and move
    the sign counter. WebAuthn Level 3 §7.2 step 21: a counter that did not grow may mean
    a cloned authenticator, so the assertion is refused (py_webauthn checks it)."""
    credential = _parsed(raw, parse_authentication_credential_json)
    challenge = _client_challenge(credential)
    taken = WebAuthnChallenge.take(challenge, purpose)
    if taken is None or taken.sign_in_id != sign_in_id:
        raise WebAuthnRefused("challenge_unknown_or_used")
    stored = WebAuthnCredential.find(credential.raw_id, for_update=True)
    if stored is None or (user_id is not None and stored.user_id != user_id):
        raise WebAuthnRefused("credential_unknown")
    if purpose == PASSKEY and credential.response.user_handle != stored.user_id.bytes:
        raise WebAuthnRefused("user_handle_mismatch")  # §7.2 step 6
    rp = RelyingParty.of(settings)
    try:
        verified = webauthn.verify_authentication_response(
            credential=credential,
            expected_challenge=challenge,
            expected_rp_id=rp.id,
            expected_origin=rp.origin,
            credential_public_key=stored.public_key,
            credential_current_sign_count=stored.sign_count,
            require_user_verification=purpose == PASSKEY,
        )
    except WebAuthnException as error:
        raise WebAuthnRefused(f"assertion_invalid: {error}") from error
    stored.sign_count = verified.new_sign_count
    stored.last_used_at = utcnow()
    return Assertion(stored, verified.user_verified)
