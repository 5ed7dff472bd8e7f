"""Each /api/v1 route declares its operation once, where it is routed: method, path, summary,
scope, request and response models and error statuses. openapi.py builds the document from
these declarations, so a route cannot be served undocumented or documented unserved."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from flask import Blueprint
from pydantic import BaseModel

View = TypeVar("View", bound=Callable[..., Any])
# A body or an answer: a model (its schema is generated), or a JSON Schema written out.
Schema = type[BaseModel] | dict[str, Any]


@dataclass(frozen=True)
class Operation:
    method: str
    path: str  # OpenAPI's template: /api/v1/orgs/{org_id}
    summary: str
    scope: str | None  # None: served without a token
    body: Schema | None = None
    returns: Schema | None = None  # None: 204, no content
    many: bool = False  # the answer is a list of `returns`
    status: int = 200
    success: str = ""  # what the success status's description says
    errors: dict[int, str] = field(default_factory=dict)  # beside 401, 403 and 404
    query: tuple[dict[str, Any], ...] = ()


OPERATIONS: list[Operation] = []


def openapi_path(prefix: str | None, rule: str) -> str:
    """Flask's /orgs/<org_id> (or <string:org_id>) as OpenAPI's /orgs/{org_id}."""
    return re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", (prefix or "") + rule)


def route(
    blueprint: Blueprint, method: str, rule: str, summary: str, **declared: Any
) -> Callable[[View], View]:
    """Route `rule` on `blueprint` for `method`, and record its Operation."""

    def register(view: View) -> View:
        path = openapi_path(blueprint.url_prefix, rule)
        OPERATIONS.append(Operation(method.lower(), path, summary, **declared))
        return blueprint.route(rule, methods=[method])(view)

    return register
