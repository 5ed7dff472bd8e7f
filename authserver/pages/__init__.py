"""The hosted pages' shared parts: the brand, the app being signed in to, the language."""
