"""gunicorn settings for authserver. `gunicorn wsgi:app` reads this file from the working
directory; each value can be overridden on the command line or by the variable named beside it.

The figures behind the defaults are in benchmarks/RESULTS.md.
"""

from __future__ import annotations

import multiprocessing
import os
import shutil
import tempfile

# Where to listen. Behind a proxy, keep this on loopback or a private address.
bind = os.environ.get("AUTHSERVER_BIND", "127.0.0.1:8000")

# Sync workers, one per core plus one: a request that waits on PostgreSQL leaves its core
# to the spare worker, and no request shares a worker with a slow one. On 2 cores this beat
# 2 and 4 sync workers and 2 gthread workers of 4 threads on the database-bound token
# paths (benchmarks/RESULTS.md, "Choosing the gunicorn settings").
workers = int(os.environ.get("WEB_CONCURRENCY", multiprocessing.cpu_count() + 1))
worker_class = "sync"

# A request that takes 30 s is stuck; gunicorn replaces the worker. Shutdown lets requests
# in flight finish first.
timeout = 30
graceful_timeout = 30
keepalive = 5

# Forwarded headers are trusted in one place only: AUTHSERVER_TRUSTED_PROXIES (ProxyFix in
# the app). gunicorn's own X-Forwarded-* handling is off so it cannot disagree.
forwarded_allow_ips = ""

# authserver writes one JSON line per request itself; gunicorn's own messages go to stderr.
accesslog = None
errorlog = "-"
loglevel = os.environ.get("AUTHSERVER_GUNICORN_LOG_LEVEL", "info")

# Never preload: each worker opens its own database pool and reads the keys itself.
preload_app = False

# Metrics (AUTHSERVER_METRICS=on): every worker writes its counts to one directory, so
# /metrics answers with the sum whichever worker serves it. A fresh directory per start.
if os.environ.get("AUTHSERVER_METRICS", "").strip().lower() in ("1", "true", "yes", "on"):
    _made_metrics_dir = "PROMETHEUS_MULTIPROC_DIR" not in os.environ
    if _made_metrics_dir:
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="authserver-metrics-")

    def child_exit(server, worker):  # noqa: ANN001, ANN201 - gunicorn's hook signature
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)

    def on_exit(server):  # noqa: ANN001, ANN201
        if _made_metrics_dir:
            shutil.rmtree(os.environ["PROMETHEUS_MULTIPROC_DIR"], ignore_errors=True)
