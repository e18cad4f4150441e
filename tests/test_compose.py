"""docker-compose.yml against the configuration the vault actually reads.

Docker cannot run here, so this checks the file's shape: the services of the
scaled deployment, every variable the vault needs set on every vault service
(and no variable the vault does not know), volumes, health checks and order.
"""

import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
VAULT_SERVICES = ("init", "web", "scheduler")
REQUIRED = {"VAULT_DATA_DIR", "VAULT_DATABASE_URL", "VAULT_STORE_URL",
            "VAULT_S3_ENDPOINT", "VAULT_S3_ACCESS_KEY", "VAULT_S3_SECRET_KEY",
            "VAULT_TIMEZONE"}


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def variables_the_vault_reads() -> set[str]:
    """Every VAULT_* name that appears in the vault's own code."""
    names = set()
    for folder in ("vault", "web", "retention", "ingest"):
        for path in (ROOT / folder).rglob("*.py"):
            names |= set(re.findall(r'"(VAULT_[A-Z0-9_]*[A-Z0-9])"', path.read_text()))
    return names


def test_the_scaled_topology_is_there(compose):
    assert set(compose["services"]) >= {"postgres", "seaweedfs", *VAULT_SERVICES}
    assert compose["services"]["scheduler"]["command"] == ["vault", "scheduler"]
    web = compose["services"]["web"]["command"]
    assert web[:2] == ["vault", "serve"]
    assert int(web[web.index("--workers") + 1]) >= 2


def test_every_vault_service_gets_the_settings_the_vault_reads(compose):
    known = variables_the_vault_reads()
    assert REQUIRED <= known, "the vault no longer reads a variable this test names"
    for name in VAULT_SERVICES:
        environment = compose["services"][name]["environment"]
        assert REQUIRED <= set(environment), name
        assert set(environment) <= known, f"{name} sets variables the vault ignores"
        assert environment["VAULT_STORE_URL"].startswith("s3://")
        assert environment["VAULT_DATABASE_URL"].startswith("postgresql://")
        assert "seaweedfs" in environment["VAULT_S3_ENDPOINT"]
        assert "@postgres:" in environment["VAULT_DATABASE_URL"]


def test_state_lives_in_named_volumes(compose):
    declared = set(compose["volumes"])
    mounts = {service: [mount.split(":")[0] for mount in spec.get("volumes", [])]
              for service, spec in compose["services"].items()}
    assert "postgres-data" in mounts["postgres"]
    assert "seaweedfs-data" in mounts["seaweedfs"]
    for name in VAULT_SERVICES:
        assert mounts[name] == ["vault-data"], name
    assert set(sum(mounts.values(), [])) <= declared


def test_health_checks_gate_the_start_order(compose):
    services = compose["services"]
    for name in ("postgres", "seaweedfs", "web"):
        assert services[name]["healthcheck"]["test"], name
    assert "/healthz" in " ".join(services["web"]["healthcheck"]["test"])
    assert services["init"]["depends_on"] == {
        "postgres": {"condition": "service_healthy"},
        "seaweedfs": {"condition": "service_healthy"}}
    for name in ("web", "scheduler"):
        assert services[name]["depends_on"] == {
            "init": {"condition": "service_completed_successfully"}}


def test_the_s3_server_runs_with_object_lock_support_and_no_extras(compose):
    seaweed = compose["services"]["seaweedfs"]
    command = " ".join(seaweed["command"])
    assert seaweed["image"].startswith("chrislusf/seaweedfs:")
    for flag in ("-master.telemetry=false", "-admin.ui=false", "-webdav=false",
                 "-s3.port.iceberg=0", "-s3.port.lance=0", "-s3.config="):
        assert flag in command
    assert "ports" not in seaweed and "ports" not in compose["services"]["postgres"]
    assert compose["services"]["web"]["ports"] == ["127.0.0.1:8000:8000"]


def test_secrets_come_from_the_environment_not_the_file(compose):
    text = (ROOT / "docker-compose.yml").read_text()
    for name in ("POSTGRES_PASSWORD", "VAULT_S3_ACCESS_KEY", "VAULT_S3_SECRET_KEY"):
        assert f"${{{name}:?" in text
    example = (ROOT / "deploy" / "env.example").read_text()
    for name in ("POSTGRES_PASSWORD", "VAULT_S3_ACCESS_KEY", "VAULT_S3_SECRET_KEY"):
        assert re.search(rf"^{name}=$", example, re.MULTILINE)


def test_the_image_serves_the_vault(compose):
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "pip install" in dockerfile and '"vault", "serve"' in dockerfile
    for name in VAULT_SERVICES:
        assert compose["services"][name]["build"] == "."
