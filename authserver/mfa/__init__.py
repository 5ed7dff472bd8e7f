"""Second factors and passkeys: TOTP, WebAuthn, recovery codes, the second sign-in step."""
