"""The operators' web console at /admin: one routes module per area, the CLI's own rules."""
