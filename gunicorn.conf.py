"""gunicorn settings for authserver. `gunicorn wsgi:app` reads this file from the working
directory; each value can be overridden on the command line or by the variable named beside it.

The figures behind the defaults are in benchmarks/RESULTS.md.
"""

from __future__ import annotations

import multiprocessing
import os
import shutil
import tempfile

import gunicorn_worker

# Where to listen. Behind a proxy, keep this on loopback or a private address.
bind = os.environ.get("AUTHSERVER_BIND", "127.0.0.1:8000")

# Threaded workers, one per core plus one. A sync worker serves one connection at a time
# and waits in recv() for it: four connections that sent nothing stalled three sync workers
# for their whole 30 s timeout. This worker (gunicorn_worker.py: gunicorn's gthread with
# the client's waits bounded) waits for a request's header on its main loop, so idle and
# half-sent requests hold no thread, and gives a thread to a request only once its header
# (and a small body) is here. Threads share a worker's core, so they help only while a
# request waits on PostgreSQL: 8 cost every path throughput against 4 (threads contending
# for the interpreter); the sweep behind the numbers is in benchmarks/RESULTS.md
# ("Choosing the gunicorn settings").
workers = int(os.environ.get("WEB_CONCURRENCY", multiprocessing.cpu_count() + 1))
threads = int(os.environ.get("AUTHSERVER_THREADS", 4))
worker_class = gunicorn_worker.BoundedThreadWorker

# What a client may make us wait for, in seconds:
# - keepalive: a connection's whole request header, from when it opened or answered its
#   last request; then it is closed (so also how long an idle connection stays open, and
#   how long a closing one waits for the client's FIN). At least 1;
# - AUTHSERVER_CLIENT_TIMEOUT: the rest of the request (its body) once the header is here,
#   and each write of the response. A body of up to 64 KiB waits on the main loop, holding
#   no thread; a larger or chunked one holds its thread this long at most.
keepalive = 5
gunicorn_worker.BoundedThreadWorker.client_timeout = float(
    os.environ.get("AUTHSERVER_CLIENT_TIMEOUT", 10)
)
# gunicorn's own limits on the header, kept at their defaults: a 4094-byte request line,
# 100 header fields of at most 8190 bytes each.
limit_request_line = 4094
limit_request_fields = 100
limit_request_field_size = 8190

# A worker whose main loop falls silent for 30 s is stuck; gunicorn replaces it. A slow
# request holds only its own thread, never the main loop, so it no longer kills the worker
# and the requests beside it (the sync worker answered those with a 500). Shutdown lets
# requests in flight finish first.
timeout = 30
graceful_timeout = 30


def post_fork(server, worker):  # noqa: ANN001, ANN201 - gunicorn's hook signature
    """One database connection per thread, set before the worker loads the app: no thread
    waits for the pool, and PostgreSQL sees workers x threads connections per instance."""
    os.environ.setdefault("AUTHSERVER_DATABASE_POOL_SIZE", str(worker.cfg.threads))


# Forwarded headers are trusted in one place only: AUTHSERVER_TRUSTED_PROXIES (ProxyFix in
# the app). gunicorn's own X-Forwarded-* handling is off so it cannot disagree.
forwarded_allow_ips = ""

# authserver writes one JSON line per request itself; gunicorn's own messages go to stderr.
accesslog = None
errorlog = "-"
loglevel = os.environ.get("AUTHSERVER_GUNICORN_LOG_LEVEL", "info")

# gunicorn's control socket (for `gunicornc`) is off unless given a path: its default,
# $HOME/.gunicorn/gunicorn.ctl, is one path for every instance on the host, so the instance
# started last took it over and gunicornc would have scaled or stopped the wrong one.
# Signals (HUP, TERM, TTIN, TTOU) manage each instance by its master's PID.
_control_socket = os.environ.get("AUTHSERVER_GUNICORN_CONTROL_SOCKET", "").strip()
control_socket_disable = not _control_socket
if _control_socket:
    control_socket = _control_socket

# Never preload: each worker opens its own database pool and reads the keys itself.
preload_app = False

# Metrics (AUTHSERVER_METRICS=on): every worker writes its counts to one directory, so
# /metrics answers with the sum whichever worker serves it. A fresh directory per start.
_metrics = os.environ.get("AUTHSERVER_METRICS", "").strip().lower() in ("1", "true", "yes", "on")
_made_metrics_dir = _metrics and "PROMETHEUS_MULTIPROC_DIR" not in os.environ
if _made_metrics_dir:
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="authserver-metrics-")


def child_exit(server, worker):  # noqa: ANN001, ANN201 - gunicorn's hook signature
    """In the master, as soon as a worker has exited, however it ended (SIGKILL and the OOM
    killer too): its connection count no longer counts, before another process can be given
    its PID (gunicorn_worker.ConnectionCounts), and its metrics are marked dead."""
    gunicorn_worker.BoundedThreadWorker.counts.release_pid(worker.pid)
    if _metrics:
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)


def on_exit(server):  # noqa: ANN001, ANN201
    if _made_metrics_dir:
        shutil.rmtree(os.environ["PROMETHEUS_MULTIPROC_DIR"], ignore_errors=True)
