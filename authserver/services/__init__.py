"""Services: the manifests of permissions and roles they declare, and their sync."""
