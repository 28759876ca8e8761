"""The version comes from CHANGELOG.md: its latest release, never Unreleased."""

import tomllib
from pathlib import Path

import pytest
from drf_spectacular.generators import SchemaGenerator

from opply.version import CHANGELOG, latest_released_version


def test_the_latest_release_is_the_first_dated_heading_after_unreleased(tmp_path: Path):
    changelog = tmp_path / "CHANGELOG.md"
    changelog.write_text(
        "# Changelog\n\n## [Unreleased]\n\n### Added\n- [2.0.0] - soon\n\n"
        "## [1.4.2] - 2026-11-30\n\n### Fixed\n- a fix\n\n## [1.4.1] - 2026-11-01\n"
    )

    assert latest_released_version(changelog) == "1.4.2"


def test_a_changelog_without_a_release_is_an_error(tmp_path: Path):
    changelog = tmp_path / "CHANGELOG.md"
    changelog.write_text("# Changelog\n\n## [Unreleased]\n\n### Added\n- everything\n")

    with pytest.raises(ValueError, match="no release heading"):
        latest_released_version(changelog)


def test_the_openapi_version_is_the_changelogs_latest_release():
    schema = SchemaGenerator().get_schema(request=None, public=True)

    assert schema["info"]["version"] == latest_released_version(CHANGELOG)


def test_pyproject_declares_the_same_version():
    pyproject = tomllib.loads((CHANGELOG.parent / "pyproject.toml").read_text())

    assert pyproject["project"]["version"] == latest_released_version(CHANGELOG), (
        "pyproject.toml's [project] version must be CHANGELOG.md's latest release"
    )
