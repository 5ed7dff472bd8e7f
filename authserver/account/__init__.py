"""The person's own page: profile, sessions, connected apps, organizations, invitations."""
