"""`make billing`: the example billing service on http://127.0.0.1:8001, next to `make demo`.

The first run does the operator's part on the demo's database: it registers the service's
client (`authserver clients create --service billing`) and its web page's (`billing-web`),
and keeps their credentials in instance/billing-clients.json (mode 0600). Then the service
starts as any would: it publishes its manifest (waiting for authserver if it is not up yet)
and serves its API, and a page at / for a person to try it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from authserver_rs import AuthserverError, ClientCredentials

sys.path.insert(0, str(Path(__file__).parents[1]))  # examples/, so `billing` is a package
from billing.app import create_app  # noqa: E402

PORT = int(os.environ.get("BILLING_PORT", "8001"))
BASE_URL = f"http://127.0.0.1:{PORT}"
CREDENTIALS = Path(os.environ.get("AUTHSERVER_INSTANCE_DIR", "instance")) / "billing-clients.json"
# The service's own client (manifest, introspection) and its web page's, for people.
CLIENTS = {
    "service": ("billing-service", ["--name", "Billing", "--service", "billing"]),
    "web": (
        "billing-web",
        ["--name", "Billing web", "--first-party", "--redirect-uri", f"{BASE_URL}/callback",
         "--scope", "openid", "--scope", "orgs", "--scope", "orgs:write"],
    ),
}  # fmt: skip


def authserver(*args: str) -> subprocess.CompletedProcess[str]:
    """The `authserver` command of the demo's deployment (its own Python, if it is not ours)."""
    command = [os.environ.get("AUTHSERVER_PYTHON", sys.executable), "-m", "authserver", *args]
    return subprocess.run(command, capture_output=True, text=True, check=False)


def registered_clients() -> dict[str, ClientCredentials]:
    """The operator's part, on the first run: register both clients, keep their secrets."""
    if not CREDENTIALS.exists():
        made = {}
        for role, (client_id, options) in CLIENTS.items():
            # A secret is shown once only: a lost file means new clients.
            authserver("clients", "delete", client_id, "--yes")
            created = authserver("clients", "create", "--client-id", client_id, "--json", *options)
            if created.returncode != 0:
                sys.exit(f"billing: cannot register {client_id}: {created.stderr.strip()}")
            made[role] = json.loads(created.stdout)
        CREDENTIALS.parent.mkdir(parents=True, exist_ok=True)
        CREDENTIALS.touch(mode=0o600)
        CREDENTIALS.write_text(json.dumps(made, indent=2), encoding="utf-8")
    found = json.loads(CREDENTIALS.read_text(encoding="utf-8"))
    return {
        role: ClientCredentials(client["client_id"], client["client_secret"])
        for role, client in found.items()
    }


def main() -> None:
    issuer = os.environ.get("AUTHSERVER_ISSUER", "http://127.0.0.1:8000")
    clients = registered_clients()
    try:
        app = create_app(issuer, clients["service"], web_client=clients["web"], base_url=BASE_URL)
    except AuthserverError as error:
        sys.exit(f"billing: {error}")
    print(f"billing: open {BASE_URL}/ to sign in and try the API")
    app.run(host="127.0.0.1", port=PORT)


if __name__ == "__main__":
    main()
