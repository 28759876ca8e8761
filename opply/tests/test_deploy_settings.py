"""Production settings: `check --deploy` is clean, HTTPS is enforced (probes excepted), the
proxy's scheme header is honoured, admin static files are served, and the local `.env`
made from `.env.example` keeps plain http://localhost working."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from django.core.management import call_command
from rest_framework.test import APIClient

ROOT = Path(__file__).resolve().parents[2]

# Variables the suite sets for itself (pyproject.toml) that must not leak into a subprocess
# that is meant to see the production defaults.
_SUITE_ONLY = ("SECURE_SSL_REDIRECT", "SESSION_COOKIE_SECURE", "CSRF_COOKIE_SECURE", "DEBUG")


def _env_without_suite_overrides(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _SUITE_ONLY}
    env.pop("DATABASE_URL", None)
    env.update(extra)
    return env


def _production_env() -> dict[str, str]:
    """The Kubernetes ConfigMap's values plus a strong secret key, as a pod sees them."""
    configmap = yaml.safe_load((ROOT / "deploy/k8s/configmap.yaml").read_text())
    return _env_without_suite_overrides(**configmap["data"], SECRET_KEY=secrets.token_urlsafe(50))


def _manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _settings_seen_with(env: dict[str, str]) -> dict[str, object]:
    code = (
        "import json, django; django.setup(); from django.conf import settings as s; "
        "print(json.dumps({n: getattr(s, n) for n in ("
        "'DEBUG', 'SECURE_SSL_REDIRECT', 'SESSION_COOKIE_SECURE', 'CSRF_COOKIE_SECURE', "
        "'SECURE_HSTS_SECONDS', 'SECURE_PROXY_SSL_HEADER')}))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**env, "DJANGO_SETTINGS_MODULE": "opply.settings"},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_check_deploy_reports_no_issue_with_the_production_configuration():
    result = _manage("check", "--deploy", "--fail-level", "DEBUG", env=_production_env())

    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_check_deploy_reports_no_issue_with_the_defaults_when_debug_is_off():
    env = _env_without_suite_overrides(SECRET_KEY=secrets.token_urlsafe(50))
    for name in list(env):
        if name.startswith(("SECURE_", "SESSION_", "CSRF_")):
            del env[name]

    result = _manage("check", "--deploy", "--fail-level", "DEBUG", env=env)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_check_deploy_flags_a_weak_secret_key():
    env = {**_production_env(), "SECRET_KEY": "short"}

    result = _manage("check", "--deploy", "--fail-level", "WARNING", env=env)

    assert result.returncode == 1
    assert "security.W009" in result.stderr


def test_the_local_env_from_env_example_serves_plain_http():
    example = {}
    for line in (ROOT / ".env.example").read_text().splitlines():
        if line and not line.startswith("#") and "=" in line:
            name, _, value = line.partition("=")
            example[name] = value
    seen = _settings_seen_with(_env_without_suite_overrides(**example))

    assert seen["DEBUG"] is False
    assert seen["SECURE_SSL_REDIRECT"] is False
    assert seen["SESSION_COOKIE_SECURE"] is False
    assert seen["CSRF_COOKIE_SECURE"] is False


def test_a_malformed_proxy_ssl_header_stops_the_server():
    env = _env_without_suite_overrides(
        SECRET_KEY=secrets.token_urlsafe(50), SECURE_PROXY_SSL_HEADER="HTTP_X_FORWARDED_PROTO"
    )

    result = _manage("check", env=env)

    assert result.returncode != 0
    assert "SECURE_PROXY_SSL_HEADER must be HEADER,VALUE" in result.stderr


@pytest.fixture
def https_only(settings):
    settings.SECURE_SSL_REDIRECT = True
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    settings.SECURE_HSTS_SECONDS = 3600
    return settings


def test_plain_http_is_redirected_to_https(db, https_only):
    response = APIClient().get("/products/?page=2")

    assert response.status_code == 301
    assert response["Location"] == "https://testserver/products/?page=2"


@pytest.mark.parametrize("probe", ["/healthz", "/readyz"])
def test_probes_answer_over_plain_http(db, https_only, probe):
    response = APIClient().get(probe)

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert "Strict-Transport-Security" not in response


def test_a_request_the_proxy_forwarded_as_https_is_served_with_hsts(buyer_api, https_only):
    response = buyer_api.get("/products/", HTTP_X_FORWARDED_PROTO="https")

    assert response.status_code == 200
    assert response["Strict-Transport-Security"].startswith("max-age=3600")


def test_admin_static_files_are_served_by_whitenoise(db, settings, tmp_path):
    settings.STATIC_ROOT = tmp_path
    call_command("collectstatic", "--noinput", "--verbosity", "0")

    response = APIClient().get("/static/admin/css/base.css")

    assert response.status_code == 200
    assert b"".join(response.streaming_content)  # type: ignore[attr-defined]
    assert response["Content-Type"].startswith("text/css")


def _sqlite_busy_timeout_seen_with(**extra: str) -> subprocess.CompletedProcess[str]:
    code = (
        "from django.conf import settings as s; "
        "print(s.DATABASES['default']['OPTIONS']['timeout'], "
        "s.DATABASES['default']['OPTIONS']['init_command'])"
    )
    env = _env_without_suite_overrides(SECRET_KEY="x")
    env.pop("SQLITE_BUSY_TIMEOUT", None)
    env.pop("GUNICORN_TIMEOUT", None)
    return _manage("shell", "-c", code, env={**env, **extra})


def test_sqlite_busy_timeout_ends_well_before_gunicorns_worker_timeout():
    # The lock wait must end in the JSON 503 database_busy before gunicorn kills the worker
    # (its HTML 500); a request may wait once per transaction.
    conf_path = ROOT / "gunicorn.conf.py"
    gunicorn_conf: dict[str, object] = {"__file__": str(conf_path)}
    exec(conf_path.read_text(), gunicorn_conf)
    defaults = _sqlite_busy_timeout_seen_with()

    busy, init_command = defaults.stdout.splitlines()[-1].split(maxsplit=1)

    assert defaults.returncode == 0, defaults.stderr
    assert int(busy) * 3 <= int(str(gunicorn_conf["timeout"]))
    assert "busy_timeout" not in init_command  # one setting decides the wait


def test_a_busy_timeout_too_close_to_the_worker_timeout_is_refused_at_start():
    refused = _sqlite_busy_timeout_seen_with(SQLITE_BUSY_TIMEOUT="30", GUNICORN_TIMEOUT="30")
    allowed = _sqlite_busy_timeout_seen_with(SQLITE_BUSY_TIMEOUT="20", GUNICORN_TIMEOUT="60")

    assert refused.returncode != 0
    assert "SQLITE_BUSY_TIMEOUT=30 must be at most a third of GUNICORN_TIMEOUT=30" in refused.stderr
    assert allowed.returncode == 0, allowed.stderr
    assert allowed.stdout.splitlines()[-1].split()[0] == "20"
