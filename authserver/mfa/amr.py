"""Pure rules on authentication methods: RFC 8176 `amr` values, `acr`, and when a second
factor is owed. No app, no database: plain arguments in, answers out."""

from __future__ import annotations

from collections.abc import Iterable

# RFC 8176 §2 values we write. A WebAuthn credential is "hwk" when bound to its device
# and "swk" when it is a synced passkey (its private key leaves the hardware).
PASSWORD = "pwd"
ONE_TIME_CODE = "otp"  # TOTP codes and recovery codes alike are one-time passwords
HARDWARE_KEY = "hwk"
SOFTWARE_KEY = "swk"
USER_VERIFIED = "user"  # the authenticator verified the person (PIN or biometric)
MULTI_FACTOR = "mfa"

SECOND_FACTORS = frozenset({ONE_TIME_CODE, HARDWARE_KEY, SOFTWARE_KEY})
# Values an upstream may vouch for (RFC 8176 §2); anything else it sends is not ours to repeat.
RFC8176 = frozenset(
    {
        "face", "fpt", "geo", "hwk", "iris", "kba", "mca", "mfa", "otp", "pin", "pop", "pwd",
        "rba", "retina", "sc", "sms", "swk", "tel", "user", "vbm", "wia",
    }
)  # fmt: skip

# The `acr` a client asks for with acr_values to require a second factor, and that the ID
# token then carries: the OpenID PAPE multi-factor policy URI, as Auth0 uses for step-up.
ACR_MULTI_FACTOR = "http://schemas.openid.net/pape/policies/2007/06/multi-factor"
ACR_VALUES_SUPPORTED = (ACR_MULTI_FACTOR,)


def is_multi_factor(methods: Iterable[str]) -> bool:
    """A first factor and a second of our own, or an upstream's own word (`mfa`)."""
    return MULTI_FACTOR in set(methods)


def with_second_factor(methods: Iterable[str], added: Iterable[str]) -> list[str]:
    """The first factor's methods, then the second factor's, then `mfa` (RFC 8176 §2)."""
    combined = list(dict.fromkeys([*methods, *added]))
    return [*combined, MULTI_FACTOR] if MULTI_FACTOR not in combined else combined


def webauthn_methods(*, is_synced: bool, user_verified: bool) -> list[str]:
    """What one WebAuthn assertion proved: possession, and the person when verified."""
    methods = [SOFTWARE_KEY if is_synced else HARDWARE_KEY]
    return [*methods, USER_VERIFIED] if user_verified else methods


def passkey_methods(*, is_synced: bool) -> list[str]:
    """A passkey sign-in with user verification is two factors in one gesture: the key
    (possession) and the PIN or biometric that unlocked it (knowledge or inherence)."""
    return [*webauthn_methods(is_synced=is_synced, user_verified=True), MULTI_FACTOR]


def upstream_methods(provider: str, upstream_amr: Iterable[str]) -> list[str]:
    """An upstream sign-in: the provider's name (as before), then the RFC 8176 values its
    ID token vouches for. Without an `amr` claim it vouches for nothing more."""
    vouched = [value for value in upstream_amr if value in RFC8176]
    return list(dict.fromkeys([provider, *vouched]))


def acr_for(methods: Iterable[str]) -> str | None:
    """The `acr` an ID token carries: the multi-factor policy when it was met, else none."""
    return ACR_MULTI_FACTOR if is_multi_factor(methods) else None


def asks_for_multi_factor(acr_values: str | None) -> bool:
    """OIDC Core §3.1.2.1: acr_values is a space-separated list in order of preference. We
    satisfy the multi-factor value; a request naming only others gets what we have."""
    return ACR_MULTI_FACTOR in (acr_values or "").split()


def owes_second_factor(
    methods: Iterable[str], *, has_own_factor: bool, is_required: bool = False
) -> bool:
    """After a first factor: a person who enrolled one of ours gives it, and so does one
    whose request requires it (an organization policy, a client's acr_values), unless the
    first factor was already multi-factor (a passkey, or an upstream that says `mfa`)."""
    if is_multi_factor(methods):
        return False
    return has_own_factor or is_required
