"""publish_manifest against a real authserver: the diff it prints, the refusals that stop a
service's start-up, and the wait while authserver is unreachable."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from authserver_rs import ClientCredentials, ManifestRejected, PublishFailed, publish_manifest

from conftest import MANIFEST, REPO, Acme, Authserver

pytestmark = pytest.mark.server


def billing(**changes: Any) -> dict[str, Any]:
    manifest = copy.deepcopy(json.loads(MANIFEST.read_text()))
    return manifest | changes


def publish(authserver: Authserver, credentials: ClientCredentials, manifest: Any, **kw: Any):
    printed: list[str] = []
    result = publish_manifest(
        manifest, issuer=authserver.issuer, credentials=credentials, echo=printed.append, **kw
    )
    return result, printed


def test_an_unchanged_manifest_is_reported_unchanged(
    authserver: Authserver, billing_credentials: ClientCredentials, billing_manifest: Path
) -> None:
    result, printed = publish(authserver, billing_credentials, billing_manifest)
    assert not result.has_changes
    assert printed == ["manifest billing: unchanged"]


def test_the_diff_is_printed_and_returned(
    authserver: Authserver, billing_credentials: ClientCredentials, billing_manifest: Path
) -> None:
    manifest = billing()
    manifest["roles"].append({"name": "auditor", "permissions": ["invoice:read"]})

    result, printed = publish(authserver, billing_credentials, manifest)
    restored, _ = publish(authserver, billing_credentials, billing_manifest)

    assert result.created == {"permissions": [], "roles": ["auditor"]}
    assert printed == ["manifest billing: created roles auditor"]
    assert restored.removed == {"permissions": [], "roles": ["auditor"]}


def test_removing_a_held_role_fails_with_its_holders_named(
    authserver: Authserver, billing_credentials: ClientCredentials, acme: Acme
) -> None:
    manifest = billing()
    manifest["roles"] = [r for r in manifest["roles"] if r["name"] != "clerk"]

    with pytest.raises(ManifestRejected) as refused:
        publish(authserver, billing_credentials, manifest)

    assert refused.value.status == 409
    assert ("billing:clerk", "alice@example.com") in [
        (h["role"], h["email"]) for h in refused.value.holders
    ]
    assert "billing:clerk is held by alice@example.com in acme" in str(refused.value)


def test_a_schema_error_fails_with_the_field_named(
    authserver: Authserver, billing_credentials: ClientCredentials
) -> None:
    with pytest.raises(ManifestRejected) as refused:
        publish(authserver, billing_credentials, billing(roles=[{"name": "Bad Name!"}]))
    assert refused.value.status == 422
    assert "/roles/0" in str(refused.value)


@pytest.mark.parametrize(
    "credentials",
    [ClientCredentials("billing-nobody", "x" * 43), None],
    ids=["unknown client", "wrong secret"],
)
def test_bad_credentials_fail_at_once_without_retrying(
    authserver: Authserver,
    billing_credentials: ClientCredentials,
    credentials: ClientCredentials | None,
) -> None:
    credentials = credentials or ClientCredentials(billing_credentials.client_id, "wrong" * 9)
    slept: list[float] = []
    with pytest.raises(ManifestRejected) as refused:
        publish(authserver, credentials, billing(), sleep=slept.append)
    assert refused.value.status == 401 and "invalid_client" in str(refused.value)
    assert slept == []


def test_another_services_manifest_is_refused(
    authserver: Authserver, billing_credentials: ClientCredentials
) -> None:
    with pytest.raises(ManifestRejected) as refused:
        publish(authserver, billing_credentials, billing(service="payroll"))
    assert refused.value.status == 403


def test_publishing_waits_with_backoff_until_authserver_answers(
    authserver: Authserver, billing_credentials: ClientCredentials, billing_manifest: Path
) -> None:
    """Through a loopback proxy that turns connections away until the third attempt."""
    from tests.e2e.tcp_proxy import CuttableProxy

    proxy = CuttableProxy(int(authserver.issuer.rsplit(":", 1)[1])).start()
    proxy.cut()
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        if len(slept) == 2:
            proxy.restore()

    try:
        result = publish_manifest(
            billing_manifest,
            issuer=f"http://127.0.0.1:{proxy.port}",
            credentials=billing_credentials,
            echo=lambda _: None,
            sleep=sleep,
        )
    finally:
        proxy.stop()
    assert slept == [0.5, 1.0] and not result.has_changes


def test_publishing_gives_up_after_its_retry_budget(billing_credentials: ClientCredentials) -> None:
    from tests.e2e.processes import free_port

    slept: list[float] = []
    with pytest.raises(PublishFailed, match="unavailable"):
        publish_manifest(
            MANIFEST,
            issuer=f"http://127.0.0.1:{free_port()}",  # nothing listens there
            credentials=billing_credentials,
            retry_for=0.0,
            sleep=slept.append,
        )
    assert slept == []


def test_the_command_exits_2_naming_the_holders(
    authserver: Authserver, billing_credentials: ClientCredentials, acme: Acme, tmp_path: Path
) -> None:
    manifest = billing()
    manifest["roles"] = [r for r in manifest["roles"] if r["name"] != "viewer"]
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    env = {
        "AUTHSERVER_ISSUER": authserver.issuer,
        "AUTHSERVER_CLIENT_ID": billing_credentials.client_id,
        "AUTHSERVER_CLIENT_SECRET": billing_credentials.client_secret,
    }
    done = subprocess.run(
        [sys.executable, "-m", "authserver_rs", "publish", str(tmp_path / "manifest.json")],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "billing:viewer is held by bob@example.com in acme" in done.stderr
