"""Typed /api/v1 request and response bodies (Pydantic); the OpenAPI document's schemas are
generated from them, so a body is defined once."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, TypeVar

from flask import request
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic.json_schema import models_json_schema

from authserver import errors

Name = Annotated[str, Field(min_length=1, max_length=100)]
Slug = Annotated[
    str, Field(min_length=3, max_length=100, pattern=r"^[a-z0-9][a-z0-9-]{1,98}[a-z0-9]$")
]
Description = Annotated[str, Field(max_length=1000)]
QualifiedRole = Annotated[str, Field(max_length=101, description="service:role")]
Roles = Annotated[list[QualifiedRole], Field(max_length=50)]


class Body(BaseModel):
    """A request body: exactly these fields, of exactly these JSON types."""

    model_config = ConfigDict(extra="forbid", strict=True)


class View(BaseModel):
    """A response body."""

    model_config = ConfigDict(extra="forbid")


class OrganizationCreate(Body):
    name: Name
    slug: Slug


class OrganizationRename(Body):
    name: Name


class RolesReplace(Body):
    roles: Roles


class InvitationCreate(Body):
    email: Annotated[str, Field(max_length=300)]
    roles: Roles = []
    expires_in: int | None = Field(default=None, description="seconds, 3600 to 90 days")
    teams: Annotated[list[uuid.UUID], Field(max_length=50)] = []


class Organization(View):
    id: uuid.UUID
    name: str
    slug: str
    created_at: datetime


class MyOrganization(Organization):
    roles: list[str] = Field(description="my own roles in it")
    teams: list[str] = Field(description="the slugs of my teams in it")


class Member(View):
    id: uuid.UUID
    user_id: uuid.UUID
    email: str
    name: str
    roles: list[str]
    teams: list[str] = Field(description="team slugs")


class Invitation(View):
    id: uuid.UUID
    organization_id: uuid.UUID
    email: str
    roles: list[str]
    teams: list[uuid.UUID]
    state: str
    expires_at: datetime


class FactorPolicyChange(Body):
    require_second_factor: bool


class FactorPolicy(View):
    require_second_factor: bool
    updated_at: datetime | None = Field(description="null until an admin first set it")


class TeamCreate(Body):
    name: Name
    slug: Slug
    description: Description | None = None
    roles: Roles = []


class TeamUpdate(Body):
    """Fields not sent stay as they are."""

    name: Name | None = None
    description: Description | None = None
    roles: Roles | None = None


class Team(View):
    id: uuid.UUID
    organization_id: uuid.UUID
    name: str
    slug: str
    description: str | None
    roles: list[str]
    member_ids: list[uuid.UUID]
    created_at: datetime


KeyLifetime = Annotated[int, Field(ge=3600, le=366 * 86400, description="seconds")]


class PersonalKeyCreate(Body):
    name: Name
    scopes: list[Annotated[str, Field(max_length=50)]] | None = Field(
        default=None, max_length=10, description='default: ["orgs"]'
    )
    expires_in: KeyLifetime | None = None


class OrgKeyCreate(Body):
    name: Name
    roles: Roles = []
    teams: Annotated[list[uuid.UUID], Field(max_length=50)] = []
    expires_in: KeyLifetime | None = None


class ApiKey(View):
    id: uuid.UUID
    name: str
    prefix: str = Field(description="the key's first characters, to recognise it")
    organization_id: uuid.UUID | None
    scopes: list[str]
    roles: list[str]
    teams: list[uuid.UUID]
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None
    revoked_at: datetime | None


class ApiKeyCreated(ApiKey):
    key: str = Field(description="the whole key, shown this once; only its hash is kept")


class Problem(BaseModel):
    """RFC 9457 problem details, as application/problem+json. A problem may add members of
    its own (RFC 9457 §3.2): `field` (the JSON path of a refused value), `held_by`, `errors`."""

    model_config = ConfigDict(extra="allow")

    type: str = Field(description="a URI naming the kind of problem")
    title: str
    status: int
    detail: str


class AuditEvent(View):
    """An event of the organization's audit log; IP addresses and user agents stay with
    the operators."""

    id: uuid.UUID
    occurred_at: datetime
    event_type: str
    outcome: str
    actor_user_id: uuid.UUID | None
    actor_client_id: str | None
    organization_id: uuid.UUID | None
    target_type: str | None
    target_id: str | None
    request_id: str | None
    details: dict[str, Any]


class AuditPage(View):
    events: list[AuditEvent]
    next: str | None = Field(description="`before` for the next page; null on the last page")


class ManifestChanges(View):
    permissions: list[str]
    roles: list[str]


class ManifestSync(View):
    """What a manifest push created, changed, removed and left as it was."""

    service: str
    created: ManifestChanges
    changed: ManifestChanges
    removed: ManifestChanges
    unchanged: ManifestChanges
    pruned_assignments: int = Field(description="role assignments removed with the roles")


BodyModel = TypeVar("BodyModel", bound=Body)


def parse(model: type[BodyModel]) -> BodyModel:
    """The request's JSON object as `model`; any other body is a problem naming the field
    (the rules behind it, in orgs/, still decide what the values may be)."""
    document = request.get_json(silent=True)
    if not isinstance(document, dict):
        raise errors.Problem(415, "not-json", "Send a JSON object.")
    try:
        # JSON mode: strict types, yet a UUID or a date-time may come as its string.
        return model.model_validate_json(request.get_data(cache=True))
    except ValidationError as error:
        first = error.errors(include_url=False, include_input=False)[0]
        field = "/".join(str(part) for part in first["loc"])
        raise errors.Problem(
            422, "invalid", f"{field or 'body'}: {first['msg']}", field=field
        ) from None


def sent(body: Body) -> dict[str, Any]:
    """The fields the caller sent, with their values (a PATCH changes only these)."""
    return {name: getattr(body, name) for name in body.model_fields_set}


def component_schemas(used: list[type[BaseModel]]) -> dict[str, Any]:
    """JSON Schema 2020-12 (what OpenAPI 3.1 uses) of the models `used` and those they
    hold, by model name; request bodies as they are validated, answers as serialized."""
    _, top = models_json_schema(
        [(m, "validation" if issubclass(m, Body) else "serialization") for m in used],
        ref_template="#/components/schemas/{model}",
    )
    return top.get("$defs", {})
