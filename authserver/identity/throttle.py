"""Throttling of guessed secrets, by OWASP's device cookies ("Slow Down Online Guessing
Attacks with Device Cookies"), so that a stranger's guesses can never lock the owner out.

- A browser that signed in to a person's account before carries a signed device cookie
  naming that person. Its attempts at that account are limited by the cookie's own
  allowance only: failures elsewhere do not touch it.
- Every other client is untrusted for the account. Untrusted clients share one allowance
  per account (a stranger can exhaust it, but only for other untrusted clients) and each
  address has an allowance of its own across accounts.
- Only failures count: each attempt is counted as one before the secret is checked, and
  given back when it was right. The counters are the rate limiter's (shared through Redis).

A step names the secret being guessed ("password", "second-step"), so each step has its
own counters while the device cookie is shared.

A device cookie trusts a browser under the password the person had when it signed in: each
entry carries a stamp of the password hash, so a changed or reset password ends the trust
of every browser that signed in before (one that signed in with a stolen password could
otherwise go on guessing the new one, a close variant, on an allowance of its own).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from flask import Response, current_app, request
from itsdangerous import BadSignature, URLSafeTimedSerializer

from authserver import ratelimits
from authserver.config import current_settings
from authserver.models import User

# Failed attempts allowed before a pause.
ACCOUNT_LIMIT = "5 per minute;20 per hour"  # untrusted clients together, per account
DEVICE_LIMIT = "5 per minute;20 per hour"  # one trusted browser, per account
ADDRESS_LIMIT = "20 per minute;200 per hour"  # untrusted clients, per IP address
# And every client together, per account, at the steps where device cookies could multiply
# the allowance. A cookie comes with every finished sign-in and lives 180 days, so whoever
# signed in with the password alone while the account had no second factor may hold a few;
# without a ceiling each would bring its own allowance of second-factor guesses. It is the
# untrusted clients' and one trusted browser's allowances together, so the other party's
# guesses alone never pause the owner's browser: only several of the account's cookies can.
SECOND_STEP = "second-step"
CEILINGS = {SECOND_STEP: "10 per minute;40 per hour"}
DEVICE_COOKIE_TTL = 180 * 86400
MAX_DEVICES = 5  # people remembered per browser (a shared family computer)
SALT = "authserver.device-cookie"


@dataclass(frozen=True)
class Attempt:
    """One try at a secret: which step, whose account, from where, by which device."""

    step: str
    account: str
    address: str
    device: str | None  # the nonce of this browser's device cookie for the account's person


def attempt(step: str, account: str, user: User | None) -> Attempt:
    """This request's attempt at `account` (the name typed, or a person's id); `user` is the
    person it names, if there is one: a device cookie for them makes the browser trusted."""
    device = _device_nonce(user) if user is not None else None
    return Attempt(step, account, request.remote_addr or "unknown", device)


def reserve(guess: Attempt) -> int:
    """Count the attempt as a failure now, before the secret is checked, so that attempts
    at once cannot all pass (ratelimits.reserve); the seconds to wait when an allowance is
    spent (then nothing is counted), else 0. `succeeded` gives the failure back."""
    reserved: list[tuple[str, tuple[str, ...]]] = []
    for rate, key in _counters(guess):
        if wait := ratelimits.reserve(rate, *key):
            for reserved_rate, reserved_key in reserved:
                ratelimits.release(reserved_rate, *reserved_key)
            return wait
        reserved.append((rate, key))
    return 0


def succeeded(guess: Attempt) -> None:
    """The secret was right: the failure `reserve` counted did not happen."""
    for rate, key in _counters(guess):
        ratelimits.release(rate, *key)


def _counters(guess: Attempt) -> list[tuple[str, tuple[str, ...]]]:
    """The address before the account: an address that is spent is refused before it can
    take, even for a moment, from the allowance the account's other clients share."""
    if guess.device is not None:
        counters = [(DEVICE_LIMIT, (guess.step, "device", guess.device))]
    else:
        counters = [
            (ADDRESS_LIMIT, (guess.step, "address", guess.address)),
            (ACCOUNT_LIMIT, (guess.step, "account", guess.account)),
        ]
    if ceiling := CEILINGS.get(guess.step):
        counters.append((ceiling, (guess.step, "every-client", guess.account)))
    return counters


def trust_device(response: Response, user: User) -> None:
    """After a successful sign-in: this browser gets a fresh device nonce for the person
    (OWASP: a new cookie at every success), keeping those of a few other people."""
    others = [(person, nonce) for person, nonce in _devices().items() if person != str(user.id)]
    entry = f"{secrets.token_urlsafe(16)}.{_password_stamp(user)}"
    devices = {str(user.id): entry, **dict(others[: MAX_DEVICES - 1])}
    settings = current_settings()
    response.set_cookie(
        device_cookie_name(),
        _serializer().dumps(devices),
        max_age=DEVICE_COOKIE_TTL,
        secure=settings.cookie_secure,
        httponly=True,
        samesite="Lax",
        path="/",
    )


def is_trusted_for(user: User) -> bool:
    """This browser signed in as the person before, under their present password (it
    carries our device cookie for them)."""
    return _device_nonce(user) is not None


def _device_nonce(user: User) -> str | None:
    """This browser's device nonce for `user`, if its cookie names them with the stamp of
    their present password."""
    entry = _devices().get(str(user.id))
    if not isinstance(entry, str):
        return None
    nonce, _, stamp = entry.rpartition(".")  # token_urlsafe has no dot
    return nonce if nonce and hmac.compare_digest(stamp, _password_stamp(user)) else None


def _password_stamp(user: User) -> str:
    """Changes whenever the password does (a new hash has a new salt), and tells nothing of
    it: a keyed digest, as the cookie is signed but readable. A person without a password
    (upstream only) has one stamp for good."""
    key = current_app.config["SECRET_KEY"].encode()
    message = f"{SALT}:{user.password_hash or ''}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()[:22]


def device_cookie_name() -> str:
    # The __Host- prefix needs Secure, so it is only used when the cookie is Secure.
    return "__Host-authserver_device" if current_settings().cookie_secure else "authserver_device"


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=SALT)


def _devices() -> dict[str, str]:
    """person id -> device nonce, from a cookie we signed; anything else trusts nobody."""
    raw = request.cookies.get(device_cookie_name())
    if not raw:
        return {}
    try:
        devices = _serializer().loads(raw, max_age=DEVICE_COOKIE_TTL)
    except BadSignature:
        return {}
    return devices if isinstance(devices, dict) else {}
