"""The README's walkthrough is true: every curl command of "Playing with the API" runs, in
order, against a fresh database, and answers the status and the JSON the README shows
(the token, times and request ids aside)."""

from __future__ import annotations

import base64
import json
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from rest_framework.test import APIClient

from orders.tests.factories import UserFactory

README = Path(__file__).resolve().parent.parent / "README.md"
ANSWER = re.compile(r"^# Answer(?: \((\d{3})\))?:")
PASSWORD = "walkthrough-password-1"


@dataclass
class Step:
    command: str
    status: int | None = None  # the README's, when it shows an answer
    body: Any = None
    options: dict[str, list[str]] = field(default_factory=dict)


def walkthrough() -> list[Step]:
    text = README.read_text()
    section = text.split("\n## Playing with the API\n", 1)[1].split("\n## ", 1)[0]
    steps: list[Step] = []
    for block in re.findall(r"```bash\n(.*?)```", section, re.DOTALL):
        lines = block.splitlines()
        i = 0
        while i < len(lines):
            line = lines[i]
            if line.startswith("curl "):
                command = [line]
                while command[-1].endswith("\\") or "".join(command).count("'") % 2:
                    i += 1
                    command.append(lines[i])
                steps.append(Step(command="\n".join(command)))
            elif match := ANSWER.match(line):
                steps[-1].status = int(match.group(1) or 200)
                if i + 1 < len(lines) and lines[i + 1].startswith("{"):
                    i += 1
                    steps[-1].body = json.loads(lines[i])
            i += 1
    for step in steps:
        step.options = _curl_options(step.command)
    return steps


def _curl_options(command: str) -> dict[str, list[str]]:
    words = shlex.split(command.replace("\\\n", " "))
    assert words[0] == "curl", command
    options: dict[str, list[str]] = {}
    for name, value in zip(words[1::2], words[2::2], strict=True):
        options.setdefault(name, []).append(value)
    return options


def _comparable(body: Any) -> Any:
    """The body with what differs between runs replaced: times, request ids, the token."""
    if isinstance(body, dict):
        return {
            key: (
                "<time>"
                if key.endswith("_at") and value is not None
                else "<request id>"
                if key == "request_id"
                else "<token>"
                if key == "token"
                else _comparable(value)
            )
            for key, value in body.items()
        }
    if isinstance(body, list):
        return [_comparable(item) for item in body]
    return body


def test_the_walkthrough_has_every_step_of_the_flow():
    requests = [
        (s.options["--request"][0], urlsplit(s.options["--url"][0]).path) for s in walkthrough()
    ]

    assert requests == [
        ("GET", "/token/"),
        ("POST", "/products/"),
        ("POST", "/products/"),
        ("GET", "/products/"),
        ("POST", "/products/1/add_to_order/"),
        ("POST", "/products/2/add_to_order/"),
        ("POST", "/products/2/add_to_order/"),
        ("POST", "/products/1/remove_from_order/"),
        ("POST", "/orders/1/submit/"),
        ("GET", "/orders/"),
        ("GET", "/orders/current/"),
    ]


@pytest.mark.django_db(reset_sequences=True)
def test_every_step_of_the_walkthrough_answers_what_the_readme_shows():
    UserFactory(username="admin", password=PASSWORD, is_staff=True, is_superuser=True)
    client = APIClient()
    readme_token = real_token = None

    for step in walkthrough():
        options = step.options
        method = options["--request"][0]
        url = urlsplit(options["--url"][0])
        headers = dict(h.split(": ", 1) for h in options.get("--header", []))
        extra = {}
        if "-u" in options:
            assert options["-u"] == ["{username}:{password}"], step.command
            basic = base64.b64encode(f"admin:{PASSWORD}".encode()).decode()
            extra["HTTP_AUTHORIZATION"] = f"Basic {basic}"
        if "Authorization" in headers:
            assert headers["Authorization"] == f"Token {readme_token}", step.command
            extra["HTTP_AUTHORIZATION"] = f"Token {real_token}"
        response = client.generic(
            method,
            url.path + (f"?{url.query}" if url.query else ""),
            data=options.get("--data", [""])[0],
            content_type=headers.get("Content-Type", "application/octet-stream"),
            **extra,
        )

        if step.status is None:
            assert 200 <= response.status_code < 300, (step.command, response.content)
            continue
        assert response.status_code == step.status, (step.command, response.content)
        if step.body is not None:
            assert _comparable(response.json()) == _comparable(step.body), step.command
        if url.path == "/token/":
            readme_token, real_token = step.body["token"], response.json()["token"]
