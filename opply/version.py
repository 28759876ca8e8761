"""The project's version: the latest released version of CHANGELOG.md.

The changelog is the one place a version is written; the OpenAPI schema's `info.version`
(settings.SPECTACULAR_SETTINGS) reads it from here.
"""

from __future__ import annotations

import re
from pathlib import Path

CHANGELOG = Path(__file__).resolve().parent.parent / "CHANGELOG.md"

# A release heading of Keep a Changelog: `## [1.2.0] - 2026-11-24`. `## [Unreleased]` is not one.
_RELEASE = re.compile(r"^## \[(\d+\.\d+\.\d+)\] - \d{4}-\d{2}-\d{2}\s*$", re.MULTILINE)


def latest_released_version(changelog: Path = CHANGELOG) -> str:
    """The version of the first release heading (newest first); ValueError if there is none."""
    match = _RELEASE.search(changelog.read_text(encoding="utf-8"))
    if match is None:
        raise ValueError(f"{changelog} has no release heading like '## [1.0.0] - 2026-01-31'")
    return match.group(1)
