"""Settings for opply, driven by environment variables.

Every variable is listed with its default in `.env.example`. A `.env` file in the
project directory (or the file ENV_FILE names) is read when present; variables already in
the environment win. The test suite sets ENV_FILE empty, so a developer's `.env` never
changes what the tests see.
"""

import sys
from pathlib import Path
from typing import Any

import environ

from opply.version import latest_released_version

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
ENV_FILE: str = env.str("ENV_FILE", default=str(BASE_DIR / ".env"))
if ENV_FILE:
    environ.Env.read_env(ENV_FILE, overwrite=False)

DEBUG: bool = env.bool("DEBUG", default=False)

SECRET_KEY: str = env.str("SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG:
        sys.exit("SECRET_KEY is not set: export SECRET_KEY (required when DEBUG is off).")
    SECRET_KEY = "insecure-development-key-only-used-with-debug-on"

ALLOWED_HOSTS: list[str] = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS: list[str] = env.list("CSRF_TRUSTED_ORIGINS", default=[])

# --- Security (HTTPS) -------------------------------------------------------------------
# HTTPS-only unless DEBUG is on; `.env.example` (and so `make run` and docker compose) turns
# these off for plain http://localhost. `manage.py check --deploy` passes with the
# defaults. Behind a TLS-terminating proxy set SECURE_PROXY_SSL_HEADER=HTTP_X_FORWARDED_PROTO,https
# so that requests it forwarded as https are not redirected again.
SECURE_SSL_REDIRECT: bool = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG)
# Probes (kubelet, Docker HEALTHCHECK) speak plain HTTP to the container itself.
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]
_proxy_ssl_header: list[str] = env.list("SECURE_PROXY_SSL_HEADER", default=[])
if _proxy_ssl_header and len(_proxy_ssl_header) != 2:
    sys.exit("SECURE_PROXY_SSL_HEADER must be HEADER,VALUE, e.g. HTTP_X_FORWARDED_PROTO,https")
SECURE_PROXY_SSL_HEADER: tuple[str, str] | None = (
    (_proxy_ssl_header[0], _proxy_ssl_header[1]) if _proxy_ssl_header else None
)
SECURE_HSTS_SECONDS: int = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS: bool = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=not DEBUG)
SECURE_HSTS_PRELOAD: bool = env.bool("SECURE_HSTS_PRELOAD", default=not DEBUG)
SESSION_COOKIE_SECURE: bool = env.bool("SESSION_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_SECURE: bool = env.bool("CSRF_COOKIE_SECURE", default=not DEBUG)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_tasks",
    "django_tasks_db",
    "opply",
    "accounts",
    "products",
    "orders",
    "events",
]

# Sessions, authentication and messages serve the admin and signed-in browsers only:
# opply.middleware runs Django's for those requests and skips them for token clients.
MIDDLEWARE = [
    "opply.middleware.RequestIDMiddleware",
    "opply.middleware.SlashOptionalMiddleware",
    "opply.middleware.PrivateResponseMiddleware",
    "opply.middleware.JSONErrorPagesMiddleware",
    "opply.logging.AccessLogMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "opply.middleware.DatabaseUnavailableMiddleware",
    "opply.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "opply.middleware.AuthenticationMiddleware",
    "opply.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "opply.urls"
WSGI_APPLICATION = "opply.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database --------------------------------------------------------------------------
# The default is an embedded SQLite file; PostgreSQL via DATABASE_URL=postgres://...
DATABASES: dict[str, dict[str, Any]] = {
    "default": env.db_url("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
}
_db = DATABASES["default"]
if _db["ENGINE"] == "django.db.backends.sqlite3":
    # Correct under concurrent writers: every transaction takes the write lock up front
    # (no lock upgrade deadlocks), WAL lets readers proceed, and writers wait rather than
    # fail with "database is locked" -- for SQLITE_BUSY_TIMEOUT seconds, then the request
    # is a JSON 503 `database_busy` with Retry-After. That wait must end well before
    # gunicorn's worker timeout (which kills the worker and answers with its own HTML 500):
    # a request may wait once per transaction, so at most a third of it.
    SQLITE_BUSY_TIMEOUT: int = env.int("SQLITE_BUSY_TIMEOUT", default=5)
    _worker_timeout = env.int("GUNICORN_TIMEOUT", default=30)
    if _worker_timeout and _worker_timeout < SQLITE_BUSY_TIMEOUT * 3:
        sys.exit(
            f"SQLITE_BUSY_TIMEOUT={SQLITE_BUSY_TIMEOUT} must be at most a third of "
            f"GUNICORN_TIMEOUT={_worker_timeout}."
        )
    _db["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": SQLITE_BUSY_TIMEOUT,
        "init_command": "PRAGMA journal_mode=WAL;PRAGMA synchronous=NORMAL;PRAGMA foreign_keys=ON;",
    }
else:
    # Django's backend, with the health check skipped for a connection used moments ago
    # whose socket shows no sign of the server having closed it (opply/db/postgresql/base.py).
    _db["ENGINE"] = "opply.db.postgresql"
    _db["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
    _db["CONN_HEALTH_CHECKS"] = True
    _db.setdefault("OPTIONS", {})
    _db["OPTIONS"].setdefault("connect_timeout", env.int("DB_CONNECT_TIMEOUT", default=3))
    # A database that vanishes mid-query (network cut, host gone) is noticed within seconds
    # rather than at the gunicorn worker timeout: TCP keepalives and a user timeout on sends.
    _db["OPTIONS"].setdefault("keepalives", 1)
    _db["OPTIONS"].setdefault("keepalives_idle", 10)
    _db["OPTIONS"].setdefault("keepalives_interval", 5)
    _db["OPTIONS"].setdefault("keepalives_count", 3)
    _db["OPTIONS"].setdefault("tcp_user_timeout", env.int("DB_TCP_USER_TIMEOUT_MS", default=10000))
# Milliseconds after its last query during which a PostgreSQL connection is trusted without
# the `SELECT 1` health check (unless its socket shows the server closed it); 0 checks always.
DB_ALIVE_BYPASS_MS: int = env.int("DB_ALIVE_BYPASS_MS", default=500)
_db.setdefault("TEST", {})
if "TEST_DATABASE_NAME" in env:
    _db["TEST"]["NAME"] = env.str("TEST_DATABASE_NAME")

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
TEST_RUNNER = "opply.test_runner.PytestTestRunner"

# --- Cache (Django's cache framework; the throttles count in opply.throttles' own store) --
# Redis when REDIS_URL is set; otherwise a table in the main database.
REDIS_URL: str = env.str("REDIS_URL", default="")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "opply.cache.RedisCache",  # Django's, reusing its redis-py clients
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": env.str("CACHE_KEY_PREFIX", default="opply"),
        }
    }
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.db.DatabaseCache",
            "LOCATION": "opply_cache",
            "KEY_PREFIX": env.str("CACHE_KEY_PREFIX", default="opply"),
            # Every write counts the table's rows and expired rows go only when the count
            # passes this bound, so it must stay modest.
            "OPTIONS": {"MAX_ENTRIES": env.int("CACHE_MAX_ENTRIES", default=10_000)},
        }
    }

# --- Auth -------------------------------------------------------------------------------
AUTHENTICATION_BACKENDS = ["accounts.auth.ThrottledModelBackend"]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
if env.bool("FAST_PASSWORD_HASHER", default=False):
    PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- Static files (admin assets, served by whitenoise) ---------------------------------
STATIC_URL = "static/"
STATIC_ROOT = env.path("STATIC_ROOT", default=str(BASE_DIR / "staticfiles"))
# Files served at the site's root: /favicon.ico for the admin and the docs pages.
WHITENOISE_ROOT = BASE_DIR / "opply" / "root"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}

# --- REST framework -------------------------------------------------------------------
# Logins (accounts/login_throttle.py): failures per (address, username), failures per
# address across usernames, successes per address. Empty disables each.
THROTTLE_LOGIN_RATE: str | None = env.str("THROTTLE_LOGIN_RATE", default="10/min") or None
THROTTLE_LOGIN_ADDRESS_RATE: str | None = (
    env.str("THROTTLE_LOGIN_ADDRESS_RATE", default="50/min") or None
)
THROTTLE_LOGIN_SUCCESS_RATE: str | None = (
    env.str("THROTTLE_LOGIN_SUCCESS_RATE", default="30/min") or None
)
THROTTLE_USER_RATE: str | None = env.str("THROTTLE_USER_RATE", default="6000/min") or None
THROTTLE_ANON_RATE: str | None = env.str("THROTTLE_ANON_RATE", default="600/min") or None

# Throttle counters (opply/throttles.py): Redis when REDIS_URL is set, else the main
# database on PostgreSQL; on the embedded SQLite default a file of their own beside the
# database (never the main file's write lock), THROTTLE_SQLITE_PATH to place it elsewhere.
THROTTLE_KEY_PREFIX: str = env.str("CACHE_KEY_PREFIX", default="opply")
# With REDIS_URL, a token's answer is kept this long beside the counters, read in the same
# round trip as the user's hit (accounts/token_cache.py); 0 reads the token from the
# database on every request. Revocation is immediate either way.
TOKEN_CACHE_SECONDS: int = env.int("TOKEN_CACHE_SECONDS", default=60)
THROTTLE_SQLITE_PATH: str = env.str("THROTTLE_SQLITE_PATH", default="")

REST_FRAMEWORK: dict[str, Any] = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "accounts.auth.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": [
        "rest_framework.renderers.JSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
    ],
    "DEFAULT_PARSER_CLASSES": [
        "opply.parsers.JSONParser",
        "rest_framework.parsers.FormParser",
        "opply.parsers.MultiPartParser",
    ],
    "DEFAULT_PAGINATION_CLASS": "opply.pagination.PageNumberPagination",
    "PAGE_SIZE": 20,
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "opply.schema.AutoSchema",
    "EXCEPTION_HANDLER": "opply.exceptions.exception_handler",
    "DEFAULT_THROTTLE_CLASSES": ["opply.throttles.UserThrottle", "opply.throttles.AnonThrottle"],
    "DEFAULT_THROTTLE_RATES": {
        "login": THROTTLE_LOGIN_RATE,
        "user": THROTTLE_USER_RATE,
        "anon": THROTTLE_ANON_RATE,
    },
    "NUM_PROXIES": env.int("NUM_PROXIES", default=0),
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "opply API",
    "DESCRIPTION": "Ordering API for B2B buyers: catalogue, cart, all-or-nothing submit.",
    "VERSION": latest_released_version(),  # CHANGELOG.md
    "SERVE_INCLUDE_SCHEMA": False,
    # Only schemes an API client can use: the token (and HTTP Basic on GET /token/, declared
    # there). The session cookie also authenticates, for the browsable API after an admin
    # login, but no client can set it from Swagger UI's Authorize, so it is not offered.
    "AUTHENTICATION_WHITELIST": ["accounts.auth.TokenAuthentication"],
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "opply.schema.token_scheme_first",
    ],
    # Swagger UI sends nothing to other hosts: no badge from the online validator.
    "SWAGGER_UI_SETTINGS": {"deepLinking": True, "validatorUrl": None},
    # Swagger UI and ReDoc assets are served from this server (whitenoise), not a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "ENUM_NAME_OVERRIDES": {"EventTypeEnum": "events.models.EventType"},
}

# --- Idempotency -----------------------------------------------------------------------
IDEMPOTENCY_KEY_TTL_HOURS: int = env.int("IDEMPOTENCY_KEY_TTL_HOURS", default=24)

# --- Events, webhooks and the worker (docs/webhooks.md) -------------------------------
# Background jobs (webhook deliveries, retries, purges) are tasks in the database, run by
# `python manage.py worker` (django-tasks with the django-tasks-db backend).
TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
EVENT_RETENTION_DAYS: int = env.int("EVENT_RETENTION_DAYS", default=30)
# Development and tests only: allow http:// endpoint URLs, and endpoints on loopback,
# private, link-local and other non-public addresses. `check --deploy` warns when on.
WEBHOOK_ALLOW_HTTP: bool = env.bool("WEBHOOK_ALLOW_HTTP", default=False)
WEBHOOK_ALLOW_PRIVATE_NETWORKS: bool = env.bool("WEBHOOK_ALLOW_PRIVATE_NETWORKS", default=False)
# Seconds a receiver has to answer; anything slower is a failed attempt.
WEBHOOK_TIMEOUT_SECONDS: float = env.float("WEBHOOK_TIMEOUT_SECONDS", default=10.0)
# Seconds to wait before each retry (before jitter of up to +20%); one attempt more than
# retries. Default: 30 s, 2 min, 10 min, 1 h, 3 h, 6 h, 12 h, 24 h, 36 h: 10 attempts over
# 3.4 days.
WEBHOOK_RETRY_SCHEDULE: list[float] = [
    float(delay)
    for delay in env.list(
        "WEBHOOK_RETRY_SCHEDULE", default=[30, 120, 600, 3600, 10800, 21600, 43200, 86400, 129600]
    )
]
# Seconds a worker holds the deliveries it is sending; past that (the worker died) another
# worker takes them over. Must exceed WEBHOOK_TIMEOUT_SECONDS.
WEBHOOK_LEASE_SECONDS: float = env.float("WEBHOOK_LEASE_SECONDS", default=60.0)
# Deliveries one worker sends at once (threads), each to its own endpoint request.
WEBHOOK_CONCURRENCY: int = env.int("WEBHOOK_CONCURRENCY", default=8)
# How often an idle worker polls for tasks and for new events to fan out.
WORKER_POLL_SECONDS: float = env.float("WORKER_POLL_SECONDS", default=0.2)

# --- Reliability -----------------------------------------------------------------------
DATABASE_RETRY_AFTER_SECONDS: int = env.int("DATABASE_RETRY_AFTER_SECONDS", default=5)

# --- Logging ---------------------------------------------------------------------------
LOG_LEVEL: str = env.str("LOG_LEVEL", default="INFO")
# JSON lines on stdout (LOG_FORMAT=json, the default) or plain text (LOG_FORMAT=plain).
# Every line carries `request_id` while a request is served; `opply.access` writes one line
# per request (see opply/logging.py).
LOG_FORMAT: str = env.str("LOG_FORMAT", default="json")
LOGGING: dict[str, Any] = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "opply.logging.RequestIDFilter"}},
    "formatters": {
        "json": {"()": "opply.logging.JsonFormatter"},
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "plain" if LOG_FORMAT == "plain" else "json",
            "filters": ["request_id"],
            "stream": "ext://sys.stdout",
        },
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.request": {"level": "ERROR"},
        # runserver's own request lines: opply.access already writes one per request.
        "django.server": {"level": "WARNING"},
    },
}
