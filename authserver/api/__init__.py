"""/api/v1: HTTP in, Problem out."""
