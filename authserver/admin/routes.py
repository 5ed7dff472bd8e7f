"""The admin blueprint with every area's routes registered on it."""

from __future__ import annotations

from authserver.admin import audit_log, clients, dashboard, keys, orgs, people, services
from authserver.admin.console import admin

AREAS = (dashboard, people, clients, services, orgs, keys, audit_log)

__all__ = ["AREAS", "admin"]
