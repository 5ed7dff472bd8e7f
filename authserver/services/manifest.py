"""The manifest a service pushes: its JSON Schema, and validation with an error per field."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from jsonschema import Draft202012Validator, ValidationError

NAME = r"^[a-z0-9_.-]{1,50}$"

MANIFEST_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$id": "https://authserver.dev/schemas/service-manifest.json",
    "title": "Service manifest",
    "type": "object",
    "additionalProperties": False,
    "required": ["permissions", "roles"],
    "properties": {
        "service": {"type": "string", "pattern": NAME},
        "description": {"type": "string", "maxLength": 1000},
        "permissions": {
            "type": "array",
            "maxItems": 500,
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["resource", "action"],
                "properties": {
                    "resource": {"type": "string", "pattern": NAME},
                    "action": {"type": "string", "pattern": NAME},
                    "description": {"type": "string", "maxLength": 1000},
                },
            },
        },
        "roles": {
            "type": "array",
            "maxItems": 200,
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["name", "permissions"],
                "properties": {
                    "name": {"type": "string", "pattern": NAME},
                    "description": {"type": "string", "maxLength": 1000},
                    "permissions": {
                        "type": "array",
                        "maxItems": 500,
                        "items": {
                            "type": "string",
                            "pattern": r"^[a-z0-9_.-]{1,50}:[a-z0-9_.-]{1,50}$",
                        },
                    },
                },
            },
        },
    },
}

_validator = Draft202012Validator(MANIFEST_SCHEMA)


@dataclass(frozen=True)
class FieldError:
    field: str  # a JSON Pointer into the manifest
    message: str


@dataclass(frozen=True)
class PermissionSpec:
    resource: str
    action: str
    description: str | None

    @property
    def key(self) -> str:
        return f"{self.resource}:{self.action}"


@dataclass(frozen=True)
class RoleSpec:
    name: str
    description: str | None
    permissions: frozenset[str]


@dataclass(frozen=True)
class Manifest:
    service: str
    description: str | None
    permissions: tuple[PermissionSpec, ...]
    roles: tuple[RoleSpec, ...]


class ManifestInvalid(ValueError):
    def __init__(self, errors: list[FieldError]) -> None:
        super().__init__("; ".join(f"{e.field}: {e.message}" for e in errors))
        self.errors = errors


def parse(service: str, document: Any) -> Manifest:
    """Validate against the schema, then the rules a schema cannot say; raise with every
    error found, each naming its field."""
    errors = [
        field_error
        for error in sorted(_validator.iter_errors(document), key=lambda e: list(e.absolute_path))
        for field_error in _field_errors(error)
    ]
    if errors:
        raise ManifestInvalid(errors)
    errors = _semantic_errors(service, document)
    if errors:
        raise ManifestInvalid(errors)
    return Manifest(
        service=service,
        description=document.get("description"),
        permissions=tuple(
            PermissionSpec(p["resource"], p["action"], p.get("description"))
            for p in document["permissions"]
        ),
        roles=tuple(
            RoleSpec(r["name"], r.get("description"), frozenset(r["permissions"]))
            for r in document["roles"]
        ),
    )


def _field_errors(error: ValidationError) -> list[FieldError]:
    """JSON Pointers (RFC 6901) to what is wrong; an unknown field is named itself."""
    pointer = "".join(f"/{part}" for part in error.absolute_path)
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        allowed = set(error.schema.get("properties", {}))
        return [
            FieldError(f"{pointer}/{name}", "is not a known field")
            for name in sorted(set(error.instance) - allowed)
        ]
    return [FieldError(pointer, error.message[:300])]


def _semantic_errors(service: str, document: dict[str, Any]) -> list[FieldError]:
    errors = []
    if document.get("service", service) != service:
        errors.append(FieldError("/service", f"must be {service!r}, the service in the URL"))
    declared: set[str] = set()
    for index, permission in enumerate(document["permissions"]):
        key = f"{permission['resource']}:{permission['action']}"
        if key in declared:
            errors.append(FieldError(f"/permissions/{index}", f"{key} is declared twice"))
        declared.add(key)
    names: set[str] = set()
    for index, role in enumerate(document["roles"]):
        if role["name"] in names:
            errors.append(FieldError(f"/roles/{index}/name", f"{role['name']} is declared twice"))
        names.add(role["name"])
        for position, granted in enumerate(role["permissions"]):
            if granted not in declared:
                errors.append(
                    FieldError(
                        f"/roles/{index}/permissions/{position}",
                        f"{granted} is not a permission this manifest declares",
                    )
                )
    return errors
