"""Consent: whether to ask a person, and recording what they approved."""
