"""/metrics under gunicorn: every worker counts, and whichever worker answers reports the
sum (gunicorn.conf.py gives them one PROMETHEUS_MULTIPROC_DIR)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import requests

from tests.e2e.conftest import Deployment


def test_metrics_sum_every_workers_counts(deploy: Callable[..., Deployment]) -> None:
    deployment = deploy("postgresql", metrics="on")
    server = deployment.start()
    client = json.loads(
        deployment.cli("clients", "create", "--name", "Billing", "--service", "billing", "--json")
    )
    auth = (client["client_id"], client["client_secret"])

    def issue(_: int) -> int:
        return requests.post(
            server.base + "/token", data={"grant_type": "client_credentials"}, auth=auth, timeout=10
        ).status_code

    with ThreadPoolExecutor(max_workers=6) as pool:  # concurrent: both workers serve some
        assert set(pool.map(issue, range(12))) == {200}

    for _ in range(4):  # any worker may answer; each must report all 12
        text = requests.get(server.base + "/metrics", timeout=10).text
        issued = re.search(
            r'^authserver_tokens_issued_total\{grant_type="client_credentials"\} (\S+)$',
            text,
            re.MULTILINE,
        )
        assert issued is not None and float(issued.group(1)) == 12.0
