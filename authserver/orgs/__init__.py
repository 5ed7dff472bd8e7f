"""Organizations and members: the rules, with no HTTP and no tokens."""
