"""Identity: sessions, local passwords and upstream OpenID sign-in."""
