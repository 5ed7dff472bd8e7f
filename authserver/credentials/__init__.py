"""API keys and the RFC 8693 token exchange that turns one into a short-lived access token."""
