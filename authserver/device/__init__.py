"""The hosted page of the device grant (RFC 8628 §3.3): the person types the user code."""
