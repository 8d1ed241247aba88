"""docker-compose.yaml: its services, image and mounts agree with each other and the repo.

Docker is not needed: the file is parsed and checked, not run.
"""

from __future__ import annotations

import re
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((REPO / "docker-compose.yaml").read_text(encoding="utf-8"))
SERVICES: dict[str, dict[str, Any]] = COMPOSE["services"]
AIRFLOW_HOME = PurePosixPath("/opt/airflow")
# Long-running Airflow components and the airflow command each one runs.
COMPONENTS = {
    "airflow-apiserver": "api-server",
    "airflow-scheduler": "scheduler",
    "airflow-dag-processor": "dag-processor",
    "airflow-worker": "celery worker",
    "airflow-triggerer": "triggerer",
}
AIRFLOW_SERVICES = [*COMPONENTS, "airflow-init"]
MOUNTED_FOLDERS = ("dags", "plugins", "include")


def command_of(service: dict[str, Any]) -> str:
    command = service["command"]
    return command if isinstance(command, str) else " ".join(command)


def bind_mounts(service: dict[str, Any]) -> dict[str, tuple[Path, PurePosixPath]]:
    """Host folder and container folder of each bind mount, keyed by the host folder's name."""
    mounts = {}
    for volume in service["volumes"]:
        source, target, *_ = volume.split(":")
        if source.startswith("."):
            mounts[Path(source).name] = ((REPO / source).resolve(), PurePosixPath(target))
    return mounts


def pinned_airflow_version() -> str:
    requirements = (REPO / "requirements.txt").read_text(encoding="utf-8")
    match = re.search(r"^apache-airflow==(\S+)$", requirements, re.MULTILINE)
    assert match
    return match[1]


def test_runs_every_airflow_3_component_with_postgres_and_redis() -> None:
    assert set(SERVICES) == {"postgres", "redis", *AIRFLOW_SERVICES}
    for name, command in COMPONENTS.items():
        assert command_of(SERVICES[name]) == command, name


def test_image_is_the_official_airflow_image_with_the_projects_requirements() -> None:
    build = SERVICES["airflow-scheduler"]["build"]
    dockerfile = build["dockerfile_inline"]
    base = re.search(r"^FROM apache/airflow:(\S+)-python(\d+\.\d+)$", dockerfile, re.MULTILINE)
    assert base, dockerfile
    airflow_version, python_version = base.groups()
    assert airflow_version == pinned_airflow_version() == "3.3.2"
    assert python_version == "3.11"
    copied = re.findall(r"^COPY (\S+) ", dockerfile, re.MULTILINE)
    assert copied == ["requirements.txt", f"requirements/constraints-{python_version}.txt"]
    for source in copied:
        assert (REPO / build["context"] / source).is_file(), source
    assert re.search(r"pip install .*-r \S*requirements\.txt", dockerfile)


@pytest.mark.parametrize("name", AIRFLOW_SERVICES)
def test_every_airflow_service_shares_image_settings_and_mounts(name: str) -> None:
    service = SERVICES[name]
    reference = SERVICES["airflow-scheduler"]
    assert service["image"] == reference["image"]
    assert service["build"] == reference["build"]
    environment = service["environment"]
    for key in (
        "AIRFLOW__CORE__EXECUTOR",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN",
        "AIRFLOW__CELERY__BROKER_URL",
        "AIRFLOW__API_AUTH__JWT_SECRET",
        "AIRFLOW__CORE__FERNET_KEY",
    ):
        assert environment[key] == reference["environment"][key], key
    assert environment["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    mounts = bind_mounts(service)
    assert set(mounts) == set(MOUNTED_FOLDERS)
    for folder, (source, target) in mounts.items():
        assert source == REPO / folder
        assert source.is_dir()
        assert target == AIRFLOW_HOME / folder
    assert environment["AIRFLOW__CORE__DAGS_FOLDER"] == str(mounts["dags"][1])
    assert environment["AIRFLOW__CORE__PLUGINS_FOLDER"] == str(mounts["plugins"][1])
    assert (REPO / "dags" / "iam_access_key_rotation.py").is_file()
    assert (REPO / "plugins" / "keyrotation" / "__init__.py").is_file()


def test_backends_point_at_the_compose_services() -> None:
    environment = SERVICES["airflow-scheduler"]["environment"]
    database = urlsplit(environment["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"])
    assert database.hostname == "postgres"
    assert database.username == SERVICES["postgres"]["environment"]["POSTGRES_USER"]
    assert database.path == "/" + SERVICES["postgres"]["environment"]["POSTGRES_DB"]
    assert urlsplit(environment["AIRFLOW__CELERY__BROKER_URL"]).hostname == "redis"
    assert urlsplit(environment["AIRFLOW__CELERY__RESULT_BACKEND"]).hostname == "postgres"
    execution_api = urlsplit(environment["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"])
    assert execution_api.hostname == "airflow-apiserver"
    published = [port.rsplit(":", 1)[-1] for port in SERVICES["airflow-apiserver"]["ports"]]
    assert str(execution_api.port) in published


def test_secrets_come_from_the_environment_not_the_file() -> None:
    environment = SERVICES["airflow-scheduler"]["environment"]
    for key in ("AIRFLOW__API_AUTH__JWT_SECRET", "AIRFLOW__CORE__FERNET_KEY"):
        assert re.fullmatch(r"\$\{\w+:\?.+\}", environment[key]), key


def test_ui_is_published_on_loopback_only() -> None:
    assert all(port.startswith("127.0.0.1:") for port in SERVICES["airflow-apiserver"]["ports"])


def test_startup_order_and_dependencies() -> None:
    for name, service in SERVICES.items():
        for dependency in service.get("depends_on", {}):
            assert dependency in SERVICES, f"{name} depends on unknown {dependency}"
    for name in COMPONENTS:
        depends_on = SERVICES[name]["depends_on"]
        assert depends_on["airflow-init"]["condition"] == "service_completed_successfully"
        assert depends_on["postgres"]["condition"] == "service_healthy"
    assert SERVICES["airflow-init"]["environment"]["_AIRFLOW_DB_MIGRATE"] == "true"
    named = {
        volume.split(":")[0]
        for service in SERVICES.values()
        for volume in service.get("volumes", [])
        if not volume.startswith(".")
    }
    assert named <= set(COMPOSE["volumes"])


def test_init_needs_to_create_no_pool() -> None:
    dag_source = (REPO / "dags" / "iam_access_key_rotation.py").read_text(encoding="utf-8")
    assert not re.findall(r"""\bpool=["']([^"']+)["']""", dag_source)
    command = SERVICES["airflow-init"]["command"]
    assert command[:2] != ["airflow", "pools"]
