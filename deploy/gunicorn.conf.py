"""Gunicorn settings for Chargeback: `gunicorn --config deploy/gunicorn.conf.py`.

Every value comes from the environment (the same /etc/chargeback/env the other processes read),
with defaults for one host behind a TLS-terminating reverse proxy on the same machine.
"""

import multiprocessing
import os


def _int(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    return int(value) if value else default


wsgi_app = "chargeback.wsgi:application"

# Where to listen. GUNICORN_BIND wins ("127.0.0.1:8000", "unix:/run/chargeback/web.sock", or
# several separated by commas); else PORT (as set by Procfile runners) on all interfaces; else
# loopback only, for a reverse proxy on the same host.
if os.environ.get("GUNICORN_BIND"):
    bind = [b.strip() for b in os.environ["GUNICORN_BIND"].split(",") if b.strip()]
elif os.environ.get("PORT"):
    bind = [f"0.0.0.0:{os.environ['PORT']}"]
else:
    bind = ["127.0.0.1:8000"]

# Threaded workers (gthread): cores + 1 processes of GUNICORN_THREADS (2) threads each by default.
# A request spends part of its time waiting for PostgreSQL, the disk or Redis; a second thread
# runs meanwhile. Each process takes a connection only when it has a thread free
# (worker_connections = threads), so a burst (many gateways posting at once) waits in the
# kernel's backlog in arrival order and goes to whichever process frees up first. With more
# connections than threads per process, one process would take a bigger share of a burst and its
# requests would wait on its own GIL while others idle: at 50 concurrent ingestion POSTs, this
# more than halves the p99 (bench/ingest.py). More processes or threads than this only add
# switching on a small host. The price is no keep-alive: every request opens a
# connection, which costs little on the loopback or from the reverse proxy (nginx opens one per
# request to its upstream unless told otherwise). Pages are short database reads; long work runs
# in Celery, so a request that needs longer than `timeout` is a bug, not a reason to raise it.
# (GUNICORN_THREADS=1 gives synchronous workers.)
workers = _int("GUNICORN_WORKERS", multiprocessing.cpu_count() + 1)
threads = _int("GUNICORN_THREADS", 2)
worker_class = "gthread" if threads > 1 else "sync"
# Behind our reverse proxy (which buffers request bodies: a slow upload holds no thread), a
# process takes as many connections as it has threads. Bound to $PORT on all interfaces (a
# platform's router, which may stream bodies), it keeps gunicorn's default of 1000.
worker_connections = _int(
    "GUNICORN_WORKER_CONNECTIONS",
    1000 if os.environ.get("PORT") and not os.environ.get("GUNICORN_BIND") else threads,
)
# Queued connections the kernel holds while every thread is busy (a burst from many gateways).
backlog = _int("GUNICORN_BACKLOG", 2048)
timeout = _int("GUNICORN_TIMEOUT", 60)
graceful_timeout = _int("GUNICORN_GRACEFUL_TIMEOUT", 30)
# Seconds an idle connection is kept: 0, and always 0 when there are no connection slots beyond
# the threads (a kept connection would take a thread's slot).
keepalive = _int("GUNICORN_KEEPALIVE", 0) if worker_connections > threads else 0
# Recycle workers now and then, so a slow leak cannot grow without bound.
max_requests = _int("GUNICORN_MAX_REQUESTS", 2000)
max_requests_jitter = _int("GUNICORN_MAX_REQUESTS_JITTER", 200)
# Logs: access and error log to stdout/stderr, for journald or the container runtime.
accesslog = "-"
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "info")
# The client address from the proxy, the request, status, size and duration in milliseconds.
access_log_format = '%({x-forwarded-for}i)s %(h)s "%(r)s" %(s)s %(B)s %(M)sms "%(f)s" "%(a)s"'

# Which proxies may set X-Forwarded-* for gunicorn itself. Django reads X-Forwarded-Proto through
# SECURE_PROXY_SSL_HEADER, so the proxy must always overwrite that header.
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1,::1")
proc_name = "chargeback-web"

# gunicorn's control socket (for `gunicornc`): off unless a path is given, since the default
# ($HOME/.gunicorn/) is not writable for a sandboxed service user.
control_socket = os.environ.get("GUNICORN_CONTROL_SOCKET", "")
control_socket_disable = not control_socket
