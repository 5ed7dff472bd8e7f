"""`make billing`: the example billing service on http://127.0.0.1:8001, next to `make demo`.

The first run does the operator's part on the demo's database: it registers the service's
client (`authserver clients create --service billing`) and keeps its credentials in
instance/billing-client.json (mode 0600). Then the service starts as any would: it publishes
its manifest (waiting for authserver if it is not up yet) and serves.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from app import create_app  # noqa: E402
from authserver_rs import AuthserverError, ClientCredentials  # noqa: E402

CLIENT_ID = "billing-service"
CREDENTIALS = Path(os.environ.get("AUTHSERVER_INSTANCE_DIR", "instance")) / "billing-client.json"


def authserver(*args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "authserver", *args]
    return subprocess.run(command, capture_output=True, text=True, check=False)


def service_credentials() -> ClientCredentials:
    if not CREDENTIALS.exists():
        # A secret is shown once only: a lost file means a new client.
        authserver("clients", "delete", CLIENT_ID, "--yes")
        made = authserver(
            "clients", "create", "--name", "Billing", "--service", "billing",
            "--client-id", CLIENT_ID, "--json",
        )  # fmt: skip
        if made.returncode != 0:
            sys.exit(f"billing: cannot register the service's client: {made.stderr.strip()}")
        CREDENTIALS.parent.mkdir(parents=True, exist_ok=True)
        CREDENTIALS.touch(mode=0o600)
        CREDENTIALS.write_text(made.stdout, encoding="utf-8")
    found = json.loads(CREDENTIALS.read_text(encoding="utf-8"))
    return ClientCredentials(found["client_id"], found["client_secret"])


def main() -> None:
    issuer = os.environ.get("AUTHSERVER_ISSUER", "http://127.0.0.1:8000")
    try:
        app = create_app(issuer, service_credentials())
    except AuthserverError as error:
        sys.exit(f"billing: {error}")
    app.run(host="127.0.0.1", port=int(os.environ.get("BILLING_PORT", "8001")))


if __name__ == "__main__":
    main()
