"""The demo: a relying party of this server, and the data `make demo` seeds for it."""
