"""gunicorn settings, read from the environment and the project's `.env` (see .env.example).

The `.env` file (or the one ENV_FILE names) is read the way the settings read it
(opply/settings.py): a variable already set in the environment wins, so `PORT=8001 make run`
overrides a PORT in `.env`.

Shutdown is graceful: on SIGTERM (docker stop, Kubernetes) or Ctrl-C, gunicorn stops
accepting, serves the connections already queued and lets in-flight requests finish for up to
GUNICORN_GRACEFUL_TIMEOUT seconds, then exits (a second Ctrl-C stops at once). Keep the
orchestrator's grace period longer than that (compose: stop_grace_period, Kubernetes:
terminationGracePeriodSeconds).

The workers (opply/gunicorn_worker.py) answer the requests gunicorn refuses itself in the
API's JSON and bound how long a client may take to send its request (GUNICORN_READ_TIMEOUT).
The worker class (gthread, threads per worker) was chosen by measurement: docs/deployment.md.
"""

import errno
import multiprocessing
import os
import signal
import socket
import sys
from typing import Any

import environ

# The same file as the settings: ENV_FILE, else `.env` beside this file; ENV_FILE empty reads
# none (the test suite sets it so, and a developer's `.env` never configures its servers).
_env_file = os.environ.get(
    "ENV_FILE", os.path.join(os.path.dirname(os.path.abspath(__file__)), ".env")
)
if _env_file:
    environ.Env.read_env(_env_file)

_host = os.environ.get("HOST", "127.0.0.1")
_port = os.environ.get("PORT", "8000")
bind = f"{_host}:{_port}"


def _exit_if_port_taken() -> None:
    """A port already in use is one clear line, not gunicorn's retries and a traceback."""
    if os.environ.get("GUNICORN_FD") or os.environ.get("LISTEN_FDS"):
        return  # Re-executed or socket-activated: the sockets are inherited, not bound.
    try:
        infos = socket.getaddrinfo(_host, int(_port), type=socket.SOCK_STREAM)
    except (OSError, ValueError):
        return  # gunicorn reports a bad address itself.
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as exc:
            if exc.errno != errno.EADDRINUSE:
                return
            print(
                f"Port {_port} on {_host} is already in use: stop what is using it, or choose "
                f"another port with PORT=<port> (e.g. `PORT={int(_port) + 1} make run`, or "
                "PORT= in .env).",
                file=sys.stderr,
                flush=True,
            )
            sys.exit(1)


_exit_if_port_taken()
workers = int(os.environ.get("WEB_CONCURRENCY", multiprocessing.cpu_count() + 1))
# gthread (a pool of threads per worker process) or sync (one request per process).
_WORKER_CLASSES = {
    "gthread": "opply.gunicorn_worker.ThreadWorker",
    "sync": "opply.gunicorn_worker.SyncWorker",
}
_worker_class = os.environ.get("GUNICORN_WORKER_CLASS", "gthread")
worker_class = _WORKER_CLASSES[_worker_class]
# Threads per gthread worker (gunicorn would swap a sync worker given more than one for its
# own gthread worker, so sync keeps one).
threads = int(os.environ.get("GUNICORN_THREADS", "4")) if _worker_class == "gthread" else 1
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


def when_ready(server: Any) -> None:
    shown = "localhost" if _host in ("127.0.0.1", "0.0.0.0", "::") else _host  # noqa: S104
    print(f"Serving on http://{shown}:{_port} (Ctrl-C to stop)", file=sys.stderr, flush=True)
    # Ctrl-C stops as gracefully as SIGTERM; gunicorn's own SIGINT handling drops in-flight
    # requests. A second Ctrl-C during the graceful stop still stops at once.
    server.handle_int = server.handle_term


def post_worker_init(worker: Any) -> None:
    # The terminal's Ctrl-C reaches every process of the group: workers leave it to the
    # master, which stops them gracefully.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
