"""gunicorn settings, read from the environment (see .env.example).

Shutdown is graceful: on SIGTERM (docker stop, Kubernetes) gunicorn stops accepting,
lets in-flight requests finish for up to GUNICORN_GRACEFUL_TIMEOUT seconds, then exits.
Keep the orchestrator's grace period longer than that (compose: stop_grace_period,
Kubernetes: terminationGracePeriodSeconds).
"""

import multiprocessing
import os

bind = f"{os.environ.get('HOST', '127.0.0.1')}:{os.environ.get('PORT', '8000')}"
workers = int(os.environ.get("WEB_CONCURRENCY", multiprocessing.cpu_count() * 2 + 1))
worker_class = "sync"
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
graceful_timeout = int(os.environ.get("GUNICORN_GRACEFUL_TIMEOUT", "30"))
keepalive = int(os.environ.get("GUNICORN_KEEPALIVE", "5"))
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", "0"))
max_requests_jitter = int(os.environ.get("GUNICORN_MAX_REQUESTS_JITTER", "0"))
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")

# Worker heartbeat files live in memory where there is a writable /dev/shm (containers,
# including a read-only root filesystem); elsewhere in the system's temporary directory.
_shm = "/dev/shm"  # noqa: S108 - gunicorn creates its own files there, 0600
worker_tmp_dir = os.environ.get("GUNICORN_WORKER_TMP_DIR") or (
    _shm if os.path.isdir(_shm) and os.access(_shm, os.W_OK) else None
)

# Logs: JSON lines on stdout (opply/logging.py), plain text with LOG_FORMAT=plain.
# The application writes one access line per request (logger `opply.access`, with the
# request id and user id), so gunicorn's own access log is off unless GUNICORN_ACCESS_LOG
# names a destination ("-" is stdout).
errorlog = "-"
accesslog = os.environ.get("GUNICORN_ACCESS_LOG") or None
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "info")
if os.environ.get("LOG_FORMAT", "json") != "plain":
    logger_class = "opply.logging.GunicornLogger"

# gunicorn's control socket (for `gunicornc`) defaults to one path per user, shared by every
# server that user runs, and needs a writable home; off unless GUNICORN_CONTROL_SOCKET names one.
control_socket = os.environ.get("GUNICORN_CONTROL_SOCKET", "")
control_socket_disable = not control_socket
