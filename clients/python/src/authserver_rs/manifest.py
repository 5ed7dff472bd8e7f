"""publish_manifest: a service pushes its permissions and roles to authserver at start-up."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from authserver_rs.errors import AuthserverError
from authserver_rs.introspection import ClientCredentials
from authserver_rs.verifier import discovery_url, load_manifest

log = logging.getLogger("authserver_rs")

SYNC_SCOPE = "services:sync"
API_AUDIENCE = "auth"  # the server's own API (README "API audience and scopes")
KINDS = ("created", "changed", "removed")


class ManifestRejected(AuthserverError):
    """authserver refused the manifest: start-up must stop. `problem` is its RFC 9457 body."""

    def __init__(self, status: int, problem: Mapping[str, Any]) -> None:
        self.status = status
        self.problem = dict(problem)
        super().__init__(self._explain())

    @property
    def holders(self) -> list[dict[str, str]]:
        """For a 409: who still holds the roles the manifest would remove."""
        return list(self.problem.get("held_by", []))

    def _explain(self) -> str:
        lines = [f"authserver refused the manifest ({self.status}): {self._detail()}"]
        lines += [
            f"  {h.get('role')} is held by {h.get('email')} in {h.get('organization')}"
            for h in self.holders
        ]
        lines += [f"  {e.get('field')}: {e.get('message')}" for e in self.problem.get("errors", [])]
        return "\n".join(lines)

    def _detail(self) -> str:
        return str(self.problem.get("detail") or self.problem.get("title") or "no reason given")


class PublishFailed(AuthserverError):
    """authserver stayed unreachable (or unavailable) for the whole retry budget."""


@dataclass(frozen=True)
class SyncResult:
    """What the push did, as authserver answers it: names per kind, per permissions/roles."""

    service: str
    created: Mapping[str, list[str]]
    changed: Mapping[str, list[str]]
    removed: Mapping[str, list[str]]
    pruned_assignments: int

    @property
    def has_changes(self) -> bool:
        return any(names for kind in KINDS for names in getattr(self, kind).values())

    def summary(self) -> str:
        parts = [
            f"{kind} {what} {', '.join(names)}"
            for kind in KINDS
            for what, names in getattr(self, kind).items()
            if names
        ]
        return f"manifest {self.service}: " + ("; ".join(parts) if parts else "unchanged")


def publish_manifest(
    source: Mapping[str, Any] | str | Path,
    *,
    issuer: str,
    credentials: ClientCredentials,
    prune_assignments: bool = False,
    retry_for: float = 60.0,
    echo: Callable[[str], object] = print,
    http: httpx.Client | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> SyncResult:
    """Push the manifest with a client_credentials token (scope services:sync) and print what
    changed. Retries with backoff while authserver is unreachable or answers 5xx, for up to
    `retry_for` seconds; a refusal (409 roles still held, 422 schema errors, 401/403) raises
    ManifestRejected at once, so start-up fails with the reason."""
    manifest = load_manifest(source)
    client = http or httpx.Client(timeout=10.0)
    deadline = time.monotonic() + retry_for
    delay = 0.5
    try:
        while True:
            try:
                result = _publish(client, issuer, credentials, manifest, prune_assignments)
            except _Retryable as error:
                if time.monotonic() + delay > deadline:
                    raise PublishFailed(f"authserver at {issuer} unavailable: {error}") from None
                log.warning("authserver_rs: %s; retrying in %.1f s", error, delay)
                sleep(delay)
                delay = min(delay * 2, 10.0)
                continue
            echo(result.summary())
            return result
    finally:
        if http is None:
            client.close()


class _Retryable(Exception):
    pass


def _publish(
    http: httpx.Client,
    issuer: str,
    credentials: ClientCredentials,
    manifest: Mapping[str, Any],
    prune: bool,
) -> SyncResult:
    metadata = _answer(http.get, discovery_url(issuer))
    token = _answer(
        http.post,
        metadata.json()["token_endpoint"],
        # RFC 8707: a token for our API (its audience, `auth`), which takes manifests.
        data={"grant_type": "client_credentials", "scope": SYNC_SCOPE, "resource": API_AUDIENCE},
        auth=credentials.basic_auth(),
    )
    service = manifest.get("service")
    if not isinstance(service, str) or not service:
        raise ManifestRejected(422, {"detail": "the manifest names no service"})
    response = _answer(
        http.put,
        f"{issuer.rstrip('/')}/api/v1/services/{service}/manifest",
        params={"prune_assignments": "true"} if prune else None,
        json=manifest,
        headers={"Authorization": f"Bearer {token.json()['access_token']}"},
    )
    body = response.json()
    return SyncResult(
        service=body["service"],
        created=body["created"],
        changed=body["changed"],
        removed=body["removed"],
        pruned_assignments=body.get("pruned_assignments", 0),
    )


def _answer(method: Callable[..., httpx.Response], url: str, **kwargs: Any) -> httpx.Response:
    """A 2xx answer; _Retryable for an outage, ManifestRejected for a refusal."""
    try:
        response = method(url, **kwargs)
    except httpx.TransportError as error:
        raise _Retryable(f"cannot reach {url}: {error}") from None
    if response.status_code >= 500 or response.status_code == 429:
        raise _Retryable(f"{url} answered {response.status_code}")
    if response.status_code >= 400:
        try:
            problem = response.json()
        except ValueError:
            problem = {"detail": response.text[:200]}
        if "error" in problem and "detail" not in problem:  # an OAuth error from /token
            problem["detail"] = f"{problem['error']}: {problem.get('error_description', '')}"
        raise ManifestRejected(response.status_code, problem)
    return response
