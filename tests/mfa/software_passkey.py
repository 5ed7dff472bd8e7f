"""A passkey held by the test instead of a browser: a discoverable ES256 credential with
real keys and signatures, so the server verifies its assertions (py_webauthn) exactly as it
verifies Chromium's. The browser tests use Chromium's virtual authenticator; this one is for
tests that sign in many times, where a browser would be slow."""

from __future__ import annotations

import base64
import hashlib
import json
import os

import cbor2
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from authserver.extensions import db
from authserver.mfa.webauthn import RelyingParty
from authserver.models import User, WebAuthnCredential

USER_PRESENT, USER_VERIFIED = 0x01, 0x04


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class SoftwarePasskey:
    def __init__(self, user: User, rp: RelyingParty) -> None:
        self.user, self.rp = user, rp
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.credential_id = os.urandom(16)
        self.sign_count = 0
        public = self.key.public_key().public_numbers()
        # RFC 9053 §7.1.1: an EC2 key (kty 2) for ES256 (alg -7) on P-256 (crv 1).
        cose = {1: 2, 3: -7, -1: 1, -2: public.x.to_bytes(32), -3: public.y.to_bytes(32)}
        db.session.add(
            WebAuthnCredential(
                user_id=user.id,
                name="Test passkey",
                credential_id=self.credential_id,
                public_key=cbor2.dumps(cose),
                transports=["internal"],
            )
        )
        db.session.commit()

    def assertion(self, challenge: str) -> str:
        """The credential JSON a browser posts for `challenge` (base64url, from the
        options), signed by this key (WebAuthn Level 3 §6.3.3)."""
        self.sign_count += 1
        client_data = json.dumps(
            {"type": "webauthn.get", "challenge": challenge, "origin": self.rp.origin}
        ).encode()
        authenticator_data = (
            hashlib.sha256(self.rp.id.encode()).digest()
            + bytes([USER_PRESENT | USER_VERIFIED])
            + self.sign_count.to_bytes(4, "big")
        )
        signed = authenticator_data + hashlib.sha256(client_data).digest()
        signature = self.key.sign(signed, ec.ECDSA(hashes.SHA256()))
        return json.dumps(
            {
                "id": b64url(self.credential_id),
                "rawId": b64url(self.credential_id),
                "type": "public-key",
                "response": {
                    "clientDataJSON": b64url(client_data),
                    "authenticatorData": b64url(authenticator_data),
                    "signature": b64url(signature),
                    "userHandle": b64url(self.user.id.bytes),
                },
                "clientExtensionResults": {},
            }
        )
