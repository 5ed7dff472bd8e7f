"""OpenID Connect: discovery, JWKS, userinfo and logout."""
