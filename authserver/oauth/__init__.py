"""OAuth 2.0: the authorization server, its grants, checks, tokens and client registration."""
