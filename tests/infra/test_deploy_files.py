"""The deploy files (compose, Kubernetes, nginx, Dockerfile) stay consistent with the code they deploy.

Docker and Kubernetes do not run here, so these check what can be checked: the YAML parses, every env name
handed to Ballast is one Settings reads, paths the files point at exist, and nginx accepts its config.
"""

from __future__ import annotations

import importlib.util
import re
import shutil
import subprocess
from pathlib import Path
from types import ModuleType
from typing import Any

import yaml
from pydantic import AliasChoices

from backend.config import Settings

INFRA = Path(__file__).resolve().parents[2] / "infra"
COMPOSE = INFRA / "compose" / "docker-compose.yml"
NOT_SETTINGS = {"FORWARDED_ALLOW_IPS"}  # read by uvicorn: which proxies' X-Forwarded-For to trust


def settings_env_names() -> set[str]:
    names: set[str] = set()
    for field in Settings.model_fields.values():
        alias = field.validation_alias
        if isinstance(alias, AliasChoices):
            names.update(str(choice).upper() for choice in alias.choices)
    return names


def k8s_documents() -> list[dict[str, Any]]:
    documents: list[dict[str, Any]] = []
    for path in sorted((INFRA / "k8s").glob("*.yaml")):
        documents += [doc for doc in yaml.safe_load_all(path.read_text()) if doc]
    return documents


def of_kind(kind: str) -> list[dict[str, Any]]:
    return [doc for doc in k8s_documents() if doc.get("kind") == kind]


def load_launcher() -> ModuleType:
    spec = importlib.util.spec_from_file_location("multi", INFRA / "local" / "multi.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_compose_gives_ballast_only_env_names_settings_reads() -> None:
    compose = yaml.safe_load(COMPOSE.read_text())
    instances = {name: service for name, service in compose["services"].items() if name.startswith("ballast")}
    assert len(instances) >= 2
    for service in instances.values():
        unknown = set(service["environment"]) - settings_env_names() - NOT_SETTINGS
        assert not unknown, f"compose sets env names Ballast does not read: {unknown}"
        assert {"PARSE_SERVER_DATABASE_URI", "REDIS_URL", "BALLAST_S3_BUCKET"} <= set(service["environment"])
        assert service["healthcheck"]["test"] and "/parse/health" in " ".join(service["healthcheck"]["test"])
    assert {"postgres", "redis", "nginx", "minio"} <= set(compose["services"])


def test_compose_points_at_files_that_exist() -> None:
    compose = yaml.safe_load(COMPOSE.read_text())
    build = compose["services"]["ballast-1"]["build"]
    assert (COMPOSE.parent / build["context"] / build["dockerfile"]).is_file()
    mounted = compose["services"]["nginx"]["volumes"][0].split(":")[0]
    assert (COMPOSE.parent / mounted).resolve() == INFRA / "nginx" / "ballast.conf"


def test_kubernetes_manifests_wire_keys_probes_and_replicas() -> None:
    (deployment,) = of_kind("Deployment")
    assert deployment["spec"]["replicas"] >= 2
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    assert container["livenessProbe"]["httpGet"]["path"] == "/parse/health"  # the process answers
    assert container["readinessProbe"]["httpGet"]["path"] == "/parse/health/ready"  # and its dependencies
    ports = {port["name"]: port["containerPort"] for port in container["ports"]}
    args = container["args"]
    assert int(args[args.index("--metrics-port") + 1]) == ports["metrics"] != ports["http"]
    annotations = deployment["spec"]["template"]["metadata"]["annotations"]
    assert int(annotations["prometheus.io/port"]) == ports["metrics"]  # Prometheus scrapes the side listener
    assert {container["livenessProbe"]["httpGet"]["port"], container["readinessProbe"]["httpGet"]["port"]} <= set(ports)
    sources = {ref.get("configMapRef", ref.get("secretRef"))["name"] for ref in container["envFrom"]}
    defined = {doc["metadata"]["name"] for doc in of_kind("ConfigMap") + of_kind("Secret")}
    assert sources <= defined
    for doc in of_kind("ConfigMap") + of_kind("Secret"):
        unknown = set(doc.get("data", {}) | doc.get("stringData", {})) - settings_env_names() - NOT_SETTINGS
        assert not unknown, f"{doc['metadata']['name']} holds env names Ballast does not read: {unknown}"
    (secret,) = of_kind("Secret")
    assert "PARSE_SERVER_MASTER_KEY" in secret["stringData"]
    (service,) = of_kind("Service")
    assert "metrics" not in {port["targetPort"] for port in service["spec"]["ports"]}  # /metrics stays inside
    (ingress,) = of_kind("Ingress")
    backend = ingress["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]
    assert backend["name"] == service["metadata"]["name"]


def test_kustomization_lists_manifests_that_exist() -> None:
    kustomization = yaml.safe_load((INFRA / "k8s" / "kustomization.yaml").read_text())
    for resource in kustomization["resources"]:
        assert (INFRA / "k8s" / resource).is_file()


def test_dockerfile_runs_as_non_root_and_copies_what_exists() -> None:
    text = (INFRA / "Dockerfile").read_text()
    assert re.search(r"^FROM python:3\.11-slim$", text, re.MULTILINE)
    assert re.search(r"^USER ballast$", text, re.MULTILINE)
    assert 'CMD ["ballast", "serve", "--host", "0.0.0.0"]' in text
    for source in re.findall(r"^COPY (\S+)", text, re.MULTILINE):
        assert (INFRA.parent / source).exists(), source
    for name in re.findall(r"^ENV (BALLAST_\w+|PARSE_SERVER_\w+)=", text, re.MULTILINE):
        assert name in settings_env_names()


def test_dockerfile_installs_what_uv_lock_pins_with_the_pinned_uv() -> None:
    text = (INFRA / "Dockerfile").read_text()
    pinned = re.search(r'^UV_VERSION="([^"]+)"', (INFRA / "lib" / "venv.sh").read_text(), re.MULTILINE)
    assert pinned and f"ARG UV_VERSION={pinned.group(1)}" in text  # one uv, so one reading of the lock
    assert "uv export --locked" in text and "--require-hashes" in text and "pip install --no-deps ." in text
    allowed = (INFRA / "Dockerfile.dockerignore").read_text().split()
    for line in re.findall(r"^COPY (.+) \S+$", text, re.MULTILINE):  # the build context holds what is copied
        for source in line.split():
            assert f"!{source}" in allowed or f"!{source}/" in allowed, source


def test_nginx_accepts_the_rendered_config(tmp_path: Path) -> None:
    nginx = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin:/sbin")
    assert nginx, "nginx is missing: run infra/test.sh, which installs it"
    launcher = load_launcher()
    rendered = launcher.render_nginx([41001, 41002], 41000)
    assert "server 127.0.0.1:41001" in rendered and "server 127.0.0.1:41002" in rendered
    assert "listen 127.0.0.1:41000;" in rendered
    (tmp_path / "ballast.conf").write_text(rendered)
    (tmp_path / "nginx.conf").write_text(launcher.nginx_main(tmp_path, tmp_path / "ballast.conf"))
    checked = subprocess.run([nginx, "-t", "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf")],
                             capture_output=True, text=True, timeout=30)
    assert checked.returncode == 0, checked.stderr


def test_grafana_dashboard_reads_metrics_ballast_serves() -> None:
    from prometheus_client import generate_latest

    from backend.metrics import REGISTRY
    from backend.realtime.metrics import LiveMetrics

    served = (generate_latest(REGISTRY) + LiveMetrics().render()).decode()
    names = set(re.findall(r"^# TYPE (\w+) (\w+)", served, re.MULTILINE))
    series = {name + suffix for name, kind in names
              for suffix in {"histogram": ("_bucket", "_count", "_sum")}.get(kind, ("",))}  # counters: TYPE says _total
    dashboard = (INFRA / "grafana" / "ballast-dashboard.json").read_text()
    used = set(re.findall(r"\bballast_\w+", dashboard))
    assert used and used <= series, used - series
