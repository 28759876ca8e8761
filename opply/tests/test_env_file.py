"""The settings read `.env` for `make run`, but never under the test suite: a developer's
`.env` (written by `make run`) must not change what the tests see."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# Values no test expects: DEBUG on, a throttle of one anonymous request a day.
HOSTILE_ENV_FILE = "DEBUG=true\nTHROTTLE_ANON_RATE=1/day\nSECRET_KEY=from-the-env-file\n"


def _names_in(module: Path, names: tuple[str, ...], env: dict[str, str]) -> dict[str, object]:
    """Run a Python file in a child process with `env`; the values it gives `names`."""
    code = (
        "import json, runpy, sys; s = runpy.run_path(sys.argv[1]); "
        "print(json.dumps({n: s[n] for n in sys.argv[2:]}))"
    )
    # The copy is run from its own directory; the project's packages (opply.version, which
    # the settings import) still come from the real tree.
    result = subprocess.run(
        [sys.executable, "-c", code, str(module), *names],
        cwd=module.parent,
        env={**env, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


def _settings_of_a_copy(tmp_path: Path, env: dict[str, str]) -> dict[str, object]:
    """Load a copy of opply/settings.py whose project directory holds a hostile `.env`."""
    (tmp_path / "opply").mkdir()
    shutil.copy(ROOT / "opply" / "settings.py", tmp_path / "opply" / "settings.py")
    (tmp_path / ".env").write_text(HOSTILE_ENV_FILE)
    names = ("DEBUG", "THROTTLE_ANON_RATE", "SECRET_KEY")
    return _names_in(tmp_path / "opply" / "settings.py", names, env)


def _suite_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in {"DEBUG", "THROTTLE_ANON_RATE"}}
    env["SECRET_KEY"] = "from-the-process"
    return {**env, **extra}


def test_the_suite_reads_no_env_file(tmp_path):
    seen = _settings_of_a_copy(tmp_path, _suite_env())

    assert os.environ["ENV_FILE"] == ""
    assert seen == {
        "DEBUG": False,
        "THROTTLE_ANON_RATE": "600/min",
        "SECRET_KEY": "from-the-process",
    }


def test_outside_the_suite_the_env_file_is_read_and_the_environment_wins(tmp_path):
    env = _suite_env()
    del env["ENV_FILE"]

    seen = _settings_of_a_copy(tmp_path, env)

    assert seen == {"DEBUG": True, "THROTTLE_ANON_RATE": "1/day", "SECRET_KEY": "from-the-process"}


@pytest.mark.parametrize(("env_file", "loglevel"), [("", "info"), (None, "debug")])
def test_gunicorn_reads_the_env_file_as_the_settings_do(tmp_path, env_file, loglevel):
    """gunicorn.conf.py, copied beside a `.env` that asks for debug logs: read unless
    ENV_FILE is empty (as in the suite)."""
    shutil.copy(ROOT / "gunicorn.conf.py", tmp_path / "gunicorn.conf.py")
    (tmp_path / ".env").write_text("GUNICORN_LOG_LEVEL=debug\n")
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        port = str(free.getsockname()[1])
    env = {k: v for k, v in os.environ.items() if k not in {"ENV_FILE", "GUNICORN_LOG_LEVEL"}}
    env.update(PORT=port, HOST="127.0.0.1")
    if env_file is not None:
        env["ENV_FILE"] = env_file
    seen = _names_in(tmp_path / "gunicorn.conf.py", ("loglevel",), env)

    assert seen == {"loglevel": loglevel}


@pytest.mark.parametrize(("command", "env_file"), [("test", ""), ("migrate", None)])
def test_manage_py_test_reads_no_env_file_either(monkeypatch, command, env_file):
    """`python manage.py test` loads the settings before pytest starts: manage.py itself
    turns the file off for that command, and for that command only."""
    import manage

    seen: list[str | None] = []
    monkeypatch.delenv("ENV_FILE")
    monkeypatch.setattr("sys.argv", ["manage.py", command])
    monkeypatch.setattr(
        "django.core.management.execute_from_command_line",
        lambda argv: seen.append(os.environ.get("ENV_FILE")),
    )

    manage.main()

    assert seen == [env_file]
