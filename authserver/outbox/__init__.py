"""The outbox: outside work written with the change that causes it, delivered by a worker."""
