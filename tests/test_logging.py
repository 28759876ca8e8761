"""A real gunicorn server logs JSON lines on stdout only: its own lines and exactly one access
line per request (gunicorn's access log stays off), and it shuts down cleanly on SIGTERM."""

from __future__ import annotations

import contextlib
import json
import signal
import subprocess
import time
from pathlib import Path

import pytest
import requests

from tests.servers import GUNICORN, ROOT, Database, free_port


@pytest.mark.system
def test_gunicorn_writes_json_lines_with_one_access_line_per_request(
    system_database: Database, tmp_path: Path
):
    port = free_port()
    stdout, stderr = tmp_path / "stdout.log", tmp_path / "stderr.log"
    env = system_database.env(
        HOST="127.0.0.1", PORT=str(port), WEB_CONCURRENCY="1", LOG_LEVEL="INFO"
    )
    env.pop("GUNICORN_ACCESS_LOG", None)
    env.pop("GUNICORN_LOG_LEVEL", None)
    with stdout.open("wb") as out, stderr.open("wb") as err:
        process = subprocess.Popen(
            [GUNICORN, "--config", "gunicorn.conf.py", "opply.wsgi"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=err,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, stderr.read_text()
            assert time.monotonic() < deadline, stderr.read_text()
            with contextlib.suppress(requests.RequestException):
                if requests.get(f"http://127.0.0.1:{port}/healthz", timeout=2).ok:
                    break
            time.sleep(0.2)
        first = requests.get(
            f"http://127.0.0.1:{port}/products/", headers={"X-Request-ID": "sys-1"}, timeout=20
        )
        second = requests.get(f"http://127.0.0.1:{port}/readyz", timeout=20)
        process.send_signal(signal.SIGTERM)
        returncode = process.wait(timeout=30)
    finally:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        process.wait(timeout=10)

    assert first.status_code == 401
    assert second.status_code == 200
    assert returncode == 0
    lines = [json.loads(line) for line in stdout.read_text().splitlines()]
    access = [line for line in lines if line["logger"] == "opply.access"]
    # Health polling may add /healthz lines; the two requests appear exactly once each.
    assert [line["path"] for line in access if line["path"] != "/healthz"] == [
        "/products/",
        "/readyz",
    ]
    products = next(line for line in access if line["path"] == "/products/")
    assert products["request_id"] == "sys-1" == first.headers["X-Request-ID"]
    assert products["status"] == 401
    assert not [line for line in lines if line["logger"] == "gunicorn.access"]
    messages = [line["message"] for line in lines if line["logger"] == "gunicorn.error"]
    assert any(message.startswith("Listening at:") for message in messages)
    assert "Shutting down: Master" in messages
