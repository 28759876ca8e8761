"""The documentation stays true: each test compares a doc with what it describes and names,
in its failure message, exactly what to add or remove on which side."""

from __future__ import annotations

import importlib.util
import re
import subprocess
from pathlib import Path

import pytest
from django.conf import settings
from drf_spectacular.generators import SchemaGenerator

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
HTTP_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


def _listing(missing: set[str] | set[tuple[str, str]], where: str) -> str:
    if not missing:
        return ""
    items = sorted(" ".join(m) if isinstance(m, tuple) else m for m in missing)
    return f"\n  missing from {where}:\n" + "\n".join(f"    {item}" for item in items)


# --- docs/configuration.md: one table of every environment variable ---------------------

CONFIG_ROW = re.compile(r"^\| `([A-Z][A-Z0-9_]*)` \|[^|]*\| ([a-z, ]+) \|", re.MULTILINE)
ENV_EXAMPLE_VARIABLE = re.compile(r"^#?\s?([A-Z][A-Z0-9_]*)=", re.MULTILINE)
# env.str("X", ...), env("X"), os.environ.get("X"), os.environ["X"], os.getenv("X"), "X" in env
ENV_READ = re.compile(
    r"""(?:\benv(?:\.\w+)?\(|os\.environ\.get\(|os\.getenv\(|os\.environ\[)\s*["']([A-Z][A-Z0-9_]*)["']"""
    r"""|["']([A-Z][A-Z0-9_]*)["']\s+in\s+(?:env|os\.environ)\b"""
)
READERS = {
    "settings": [ROOT / "opply" / "settings.py"],
    "gunicorn": [ROOT / "gunicorn.conf.py", ROOT / "opply" / "gunicorn_worker.py"],
}
# Variables a process manager sets, listed on one line of docs/configuration.md, not in the table.
NOT_SET_BY_HAND = re.compile(r"^Set by gunicorn or the service manager, never by hand: (.*)$", re.M)


def configuration_table() -> dict[str, set[str]]:
    """Variable name -> the readers its row names (settings, gunicorn, compose)."""
    # The one table comes before the first section; sections may hold tables of their own.
    text = (DOCS / "configuration.md").read_text().split("\n## ", 1)[0]
    return {
        name: {reader.strip() for reader in readers.split(",")}
        for name, readers in CONFIG_ROW.findall(text)
    }


def variables_read_by(paths: list[Path]) -> set[str]:
    read = {a or b for path in paths for a, b in ENV_READ.findall(path.read_text())}
    text = (DOCS / "configuration.md").read_text()
    line = NOT_SET_BY_HAND.search(text)
    return read - set(re.findall(r"`([A-Z][A-Z0-9_]*)`", line.group(1) if line else ""))


def test_the_configuration_table_and_env_example_list_the_same_variables():
    documented = set(configuration_table())
    example = set(ENV_EXAMPLE_VARIABLE.findall((ROOT / ".env.example").read_text()))

    assert documented == example, (
        "docs/configuration.md and .env.example must list the same variables:"
        + _listing(example - documented, "the table of docs/configuration.md")
        + _listing(documented - example, ".env.example (add it with a comment and its default)")
    )


@pytest.mark.parametrize("reader", sorted(READERS))
def test_the_configuration_table_names_every_variable_a_file_reads(reader):
    paths = READERS[reader]
    files = " and ".join(str(path.relative_to(ROOT)) for path in paths)
    read = variables_read_by(paths)
    documented = {name for name, readers in configuration_table().items() if reader in readers}

    assert read, f"no environment variable found in {files}: has the way they read them changed?"
    assert documented == read, (
        f"docs/configuration.md rows whose 'read by' says {reader!r} must be the variables "
        f"{files} read:"
        + _listing(read - documented, f"docs/configuration.md (a row, or {reader!r} in 'read by')")
        + _listing(documented - read, f"{files} (drop {reader!r} from its row)")
    )


def test_compose_only_variables_are_substituted_by_compose():
    compose = (ROOT / "docker-compose.yml").read_text()
    rows = configuration_table()
    compose_only = {name for name, readers in rows.items() if readers == {"compose"}}
    unknown = {name for name, readers in rows.items() if not readers <= {*READERS, "compose"}}

    assert compose_only, "docs/configuration.md lists no compose variable"
    assert unknown == set(), f"'read by' must be settings, gunicorn or compose: {sorted(unknown)}"
    assert {name for name in compose_only if "${" + name not in compose} == set(), (
        "rows marked compose name variables docker-compose.yml does not substitute"
    )


# --- docs/api.md: one `### METHOD /path` heading per operation of the OpenAPI schema -----

API_HEADING = re.compile(rf"^### ({'|'.join(HTTP_METHODS)}) (/\S*)", re.MULTILINE)


def documented_operations() -> list[tuple[str, str]]:
    return API_HEADING.findall((DOCS / "api.md").read_text())


def schema_operations() -> set[tuple[str, str]]:
    schema = SchemaGenerator().get_schema(request=None, public=True)
    return {
        (method.upper(), path)
        for path, item in schema["paths"].items()
        for method in item
        if method.upper() in HTTP_METHODS
    }


def test_the_api_reference_documents_every_operation_of_the_schema_and_no_other():
    documented = documented_operations()
    served = schema_operations()

    assert len(documented) == len(set(documented)), "docs/api.md has a heading twice"
    assert set(documented) == served, (
        "docs/api.md must have one '### METHOD /path' heading per operation of the OpenAPI "
        "schema (drf-spectacular):"
        + _listing(served - set(documented), "docs/api.md (add a heading and a few lines)")
        + _listing(set(documented) - served, "the schema (no such endpoint: remove or fix it)")
    )


# --- README.md: the layout block matches the tree ---------------------------------------

LAYOUT_LINE = re.compile(r"^([\w.-]+)/\s+(\(app\)\s+)?\S")


def readme_layout() -> dict[str, bool]:
    """Directory -> whether its line is marked `(app)`, from the README's `## Layout` block."""
    text = (ROOT / "README.md").read_text()
    section = text.split("\n## Layout\n", 1)
    assert len(section) == 2, "README.md has no '## Layout' section"
    block = section[1].split("```", 2)[1]
    entries = {}
    for line in block.splitlines()[1:]:
        match = LAYOUT_LINE.match(line)
        assert match, f"README.md layout line is not 'name/  [(app)] what it holds': {line!r}"
        entries[match.group(1)] = bool(match.group(2))
    return entries


def top_level_directories() -> set[str]:
    """Top-level directories holding a tracked or new, not ignored, file."""
    try:
        listed = subprocess.run(
            ["git", "-C", str(ROOT), "ls-files", "--cached", "--others", "--exclude-standard"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("not a git checkout (the image has no .git): the tree cannot be listed")
    tops = {path.split("/", 1)[0] for path in listed.splitlines() if "/" in path}
    return {name for name in tops if not name.startswith(".")}


def test_the_readme_layout_lists_every_top_level_directory_and_no_other():
    layout = set(readme_layout())
    present = top_level_directories()

    assert layout == present, (
        "README.md's '## Layout' block must have one line per top-level directory:"
        + _listing(present - layout, "README.md's layout")
        + _listing(layout - present, "the repository (no such directory)")
    )


def test_the_readme_layout_marks_exactly_the_django_apps():
    marked = {name for name, is_app in readme_layout().items() if is_app}
    apps = {app for app in settings.INSTALLED_APPS if (ROOT / app / "apps.py").exists()}

    assert marked == apps, (
        "README.md's layout marks '(app)' on exactly the project's apps of INSTALLED_APPS:"
        + _listing(apps - marked, "the '(app)' marks of README.md's layout")
        + _listing(marked - apps, "INSTALLED_APPS")
    )


# --- Links between the docs resolve -----------------------------------------------------

LINK = re.compile(r"\]\(([^)\s]+)\)")


@pytest.mark.parametrize(
    "doc", ["README.md", "CHANGELOG.md", *sorted(f"docs/{p.name}" for p in DOCS.glob("*.md"))]
)
def test_relative_links_point_to_files_that_exist(doc):
    path = ROOT / doc
    targets = [t.split("#", 1)[0] for t in LINK.findall(path.read_text())]
    local = [t for t in targets if t and not re.match(r"^[a-z]+:", t)]

    broken = [t for t in local if not (path.parent / t).exists()]
    assert broken == [], f"{doc} links to files that do not exist: {broken}"


# --- docs/benchmarks.md: generated by bench/report.py, prose in bench/findings.md -------


def _bench_report_module():
    spec = importlib.util.spec_from_file_location("bench_report", ROOT / "bench" / "report.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_benchmark_report_carries_the_current_findings():
    report = _bench_report_module()
    text = report.REPORT.read_text()

    assert text.startswith("# Benchmarks\n\nGenerated by `make bench`"), (
        "docs/benchmarks.md is written by bench/report.py (make bench), not by hand"
    )
    assert text == report.with_findings(report.generated_part(text)), (
        "docs/benchmarks.md's text below the marker must be bench/findings.md: edit "
        "bench/findings.md, then run `python bench/report.py --findings`"
    )


def test_the_readme_links_every_document_of_docs():
    readme = (ROOT / "README.md").read_text()
    linked = {t.split("#", 1)[0] for t in LINK.findall(readme)}
    documents = {f"docs/{p.name}" for p in DOCS.glob("*.md")}

    assert documents <= linked, (
        "README.md's 'Where everything else is' must link every document of docs/:"
        + _listing(documents - linked, "README.md (one line: the link and what the document holds)")
    )
