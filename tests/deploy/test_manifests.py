"""The Kubernetes manifests in deploy/: valid against the Kubernetes schemas, and consistent with
the service they run (probe routes, ports, user, CPU limit and threads, shutdown time).

Offline and fast: core kinds are checked by `kubernetes-validate` (strict schemas, so unknown
fields fail); KServe's custom resources, which those schemas lack, are checked here field by
field, with their containers validated against the core Container schema.
"""

from __future__ import annotations

import copy
import functools
import json
import math
import os
import re
from collections.abc import Callable, Iterator
from importlib.resources import files
from pathlib import Path

import jsonschema
import kubernetes_validate
import pytest
import referencing
import yaml
from fastapi import FastAPI
from starlette.routing import Match

from app.core.session import default_intra_op_threads
from app.core.settings import Settings
from app.main import create_app
from tests.factories import REPO

pytestmark = pytest.mark.unit  # no torch, no ../shared/data

K8S_VERSION = "1.33"  # one of the versions kubernetes-validate bundles (autoscaling/v2: >= 1.23)
DEPLOY = REPO / "deploy"
KSERVE_KINDS = {
    ("serving.kserve.io/v1alpha1", "ServingRuntime"),
    ("serving.kserve.io/v1beta1", "InferenceService"),
}
KUSTOMIZE = ("kustomize.config.k8s.io/v1beta1", "Kustomization")


@functools.cache
def documents() -> tuple[tuple[Path, dict], ...]:
    """Every YAML document under deploy/, with its file (parsed once; tests only read them)."""
    found = []
    for path in sorted(DEPLOY.rglob("*.yaml")):
        found += [(path, doc) for doc in yaml.safe_load_all(path.read_text()) if doc]
    return tuple(found)


def every(kind: str) -> list[dict]:
    return [doc for _, doc in documents() if doc["kind"] == kind]


def the(kind: str) -> dict:
    """The one manifest of `kind` under deploy/."""
    matches = every(kind)
    assert len(matches) == 1, f"expected one {kind}, found {len(matches)}"
    return matches[0]


def inference_service(protocol: str) -> dict:
    matches = [
        d
        for d in every("InferenceService")
        if d["spec"]["predictor"]["model"]["protocolVersion"] == protocol
    ]
    assert len(matches) == 1, f"expected one InferenceService for {protocol}"
    return matches[0]


def doc_id(item: tuple[Path, dict]) -> str:
    path, doc = item
    return f"{path.relative_to(DEPLOY)}:{doc['kind']}"


def validate_container(container: dict) -> None:
    """Against the core Container schema, as kubernetes-validate does for whole objects."""
    folder = (
        files("kubernetes_validate") / "kubernetes-json-schema" / f"v{K8S_VERSION}.0-local-strict"
    )
    schema = json.loads((folder / "container-v1.json").read_text())
    definitions = json.loads((folder / "_definitions.json").read_text())
    registry = referencing.Resource.from_contents(definitions) @ referencing.Registry()
    jsonschema.Draft202012Validator(schema, registry=registry).validate(container)


def check_serving_runtime(doc: dict) -> None:
    assert doc["metadata"]["name"]
    spec = doc["spec"]
    assert spec["supportedModelFormats"] and all(f["name"] for f in spec["supportedModelFormats"])
    assert "v2" in spec["protocolVersions"]
    assert spec["containers"][0]["name"] == "kserve-container"
    for container in spec["containers"]:
        validate_container(container)


def check_inference_service(doc: dict) -> None:
    assert doc["metadata"]["name"]
    model = doc["spec"]["predictor"]["model"]
    assert model["modelFormat"]["name"] and model["runtime"]
    assert model["protocolVersion"] in {"v2", "grpc-v2"}
    for port in model.get("ports", []):
        validate_container({"name": "x", "ports": [port]})


def check_kustomization(path: Path, doc: dict) -> None:
    """Lists exactly the other manifests in its folder (a forgotten file would never be applied)."""
    beside = {p.name for p in path.parent.glob("*.yaml")} - {path.name}
    assert set(doc["resources"]) == beside


@pytest.mark.parametrize("item", documents(), ids=doc_id)
def test_manifest_is_valid(item: tuple[Path, dict]) -> None:
    path, doc = item
    kind = (doc["apiVersion"], doc["kind"])
    if kind == KUSTOMIZE:
        check_kustomization(path, doc)
    elif kind == ("serving.kserve.io/v1alpha1", "ServingRuntime"):
        check_serving_runtime(doc)
    elif kind == ("serving.kserve.io/v1beta1", "InferenceService"):
        check_inference_service(doc)
    else:
        kubernetes_validate.validate(doc, K8S_VERSION, strict=True)


def test_strict_validation_rejects_a_misspelt_field() -> None:
    broken = copy.deepcopy(the("Deployment"))
    container = broken["spec"]["template"]["spec"]["containers"][0]
    container["livenessprobe"] = container.pop("livenessProbe")
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, K8S_VERSION, strict=True)


# --- consistency with the service ---


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> FastAPI:
    """The real app (built, not started: no model is loaded)."""
    return create_app(Settings(model_dir=tmp_path_factory.mktemp("no-models")))


def serves_get(app: FastAPI, path: str) -> bool:
    """Whether the app's router answers GET `path` (matched the way the server matches it)."""
    scope = {"type": "http", "method": "GET", "path": path, "root_path": "", "headers": []}
    return any(route.matches(scope)[0] == Match.FULL for route in app.routes)


SettingsFrom = Callable[[dict[str, str]], Settings]


@pytest.fixture
def settings_from(monkeypatch: pytest.MonkeyPatch) -> Iterator[SettingsFrom]:
    """Settings() as the container builds them from exactly these environment variables."""
    for name in [n for n in os.environ if n.startswith("SENTIMENT_")]:
        monkeypatch.delenv(name)

    def build(env: dict[str, str]) -> Settings:
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        return Settings()

    yield build


def deployment_container() -> dict:
    return the("Deployment")["spec"]["template"]["spec"]["containers"][0]


def runtime_container() -> dict:
    return the("ServingRuntime")["spec"]["containers"][0]


def container_env(container: dict) -> dict[str, str]:
    """The container's settings: its ConfigMap (envFrom) overlaid by its own env."""
    env: dict[str, str] = {}
    for source in container.get("envFrom", []):
        if "configMapRef" in source:
            configmap = the("ConfigMap")
            assert configmap["metadata"]["name"] == source["configMapRef"]["name"]
            env.update(configmap["data"])
    env.update({e["name"]: e["value"] for e in container.get("env", [])})
    return env


def port_number(container: dict, port: int | str) -> int:
    """A probe or Service port, by number or by the container port's name."""
    if isinstance(port, int):
        return port
    return next(p["containerPort"] for p in container["ports"] if p.get("name") == port)


def cpus(quantity: str) -> float:
    return float(quantity[:-1]) / 1000 if quantity.endswith("m") else float(quantity)


CONTAINERS = {"deployment": deployment_container, "kserve-runtime": runtime_container}


@pytest.mark.parametrize("which", CONTAINERS)
def test_probes_use_real_routes_on_the_service_port(
    which: str, app: FastAPI, settings_from: SettingsFrom
) -> None:
    container = CONTAINERS[which]()
    settings = settings_from(container_env(container))
    probes = [
        container[k] for k in ("startupProbe", "readinessProbe", "livenessProbe") if k in container
    ]
    assert {"readinessProbe", "livenessProbe"} <= set(container)
    for probe in probes:
        path, port = probe["httpGet"]["path"], probe["httpGet"]["port"]
        assert serves_get(app, path), f"{path} is no GET route of the app"
        assert port_number(container, port) == settings.port
    assert container["ports"][0]["containerPort"] == settings.port
    assert settings.host == "0.0.0.0"


def test_grpc_port_is_the_service_setting_and_exposed(settings_from: SettingsFrom) -> None:
    container = deployment_container()
    settings = settings_from(container_env(container))
    assert settings.grpc_enabled
    assert port_number(container, "grpc") == settings.grpc_port
    service_port = next(p for p in the("Service")["spec"]["ports"] if p["name"] == "grpc")
    assert port_number(container, service_port["targetPort"]) == settings.grpc_port
    assert service_port["appProtocol"] == "kubernetes.io/h2c"


def test_grpc_inference_service_routes_to_the_runtime_grpc_port(
    settings_from: SettingsFrom,
) -> None:
    settings = settings_from(container_env(runtime_container()))
    model = inference_service("grpc-v2")["spec"]["predictor"]["model"]
    assert model["ports"] == [
        {"name": "h2c", "containerPort": settings.grpc_port, "protocol": "TCP"}
    ]
    assert "grpc-v2" in the("ServingRuntime")["spec"]["protocolVersions"]


def test_image_and_compose_publish_the_grpc_port() -> None:
    dockerfile = (REPO / "Dockerfile").read_text()
    assert re.search(r"^EXPOSE\s+8000\s+8001\s*$", dockerfile, re.M)
    assert "protobuf" not in re.findall(r"pip uninstall -y([^&]*)", dockerfile)[0]
    compose = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    ports = compose["services"]["api"]["ports"]
    assert any(p.endswith(":8001") for p in ports), ports


def test_probe_routes_mean_liveness_and_readiness() -> None:
    container = deployment_container()
    assert container["livenessProbe"]["httpGet"]["path"] == "/health"
    assert container["readinessProbe"]["httpGet"]["path"] == "/ready"
    runtime = runtime_container()
    assert runtime["livenessProbe"]["httpGet"]["path"] == "/v2/health/live"
    assert runtime["readinessProbe"]["httpGet"]["path"] == "/v2/health/ready"


def test_service_targets_the_pods_and_their_port() -> None:
    service, pod = the("Service"), the("Deployment")["spec"]["template"]
    assert service["spec"]["selector"].items() <= pod["metadata"]["labels"].items()
    target = service["spec"]["ports"][0]["targetPort"]
    assert (
        port_number(deployment_container(), target)
        == deployment_container()["ports"][0]["containerPort"]
    )


def test_autoscaler_and_disruption_budget_cover_the_deployment() -> None:
    deployment = the("Deployment")
    hpa, pdb = the("HorizontalPodAutoscaler"), the("PodDisruptionBudget")
    assert hpa["spec"]["scaleTargetRef"]["kind"] == "Deployment"
    assert hpa["spec"]["scaleTargetRef"]["name"] == deployment["metadata"]["name"]
    assert pdb["spec"]["selector"] == deployment["spec"]["selector"]
    assert pdb["spec"]["minAvailable"] < hpa["spec"]["minReplicas"]  # drains can progress


def image_user() -> tuple[int, int]:
    """The numeric USER of the Dockerfile's last (default) stage."""
    users = re.findall(r"^USER\s+(\d+):(\d+)\s*$", (REPO / "Dockerfile").read_text(), re.M)
    assert users, "the Dockerfile must set a numeric USER uid:gid"
    return int(users[-1][0]), int(users[-1][1])


@pytest.mark.parametrize("which", CONTAINERS)
def test_containers_run_locked_down_as_the_image_user(which: str) -> None:
    container = CONTAINERS[which]()
    pod = the("Deployment")["spec"]["template"]["spec"] if which == "deployment" else {}
    context = {**pod.get("securityContext", {}), **container["securityContext"]}
    assert context["runAsNonRoot"] is True
    assert (context["runAsUser"], context["runAsGroup"]) == image_user()
    assert context["seccompProfile"] == {"type": "RuntimeDefault"}
    assert context["readOnlyRootFilesystem"] is True
    assert context["allowPrivilegeEscalation"] is False
    assert context["capabilities"] == {"drop": ["ALL"]}
    assert container["image"] == deployment_container()["image"]


@pytest.mark.parametrize("which", CONTAINERS)
def test_cpu_limit_leaves_one_cpu_to_the_event_loop(
    which: str, settings_from: SettingsFrom
) -> None:
    container = CONTAINERS[which]()
    limit = cpus(container["resources"]["limits"]["cpu"])
    settings = settings_from(container_env(container))
    # what app.core.session picks: the setting, else the quota rounded up minus one
    threads = settings.intra_op_threads or default_intra_op_threads(math.ceil(limit))
    assert limit == int(limit), "a fractional quota is rounded up: threads would outrun it"
    assert threads + 1 <= limit


@pytest.mark.parametrize("which", CONTAINERS)
def test_model_control_is_off(which: str, settings_from: SettingsFrom) -> None:
    """The platform rolls out versions: no pod loads or unloads models when asked over HTTP."""
    container = CONTAINERS[which]()
    env = container_env(container)
    assert env.get("SENTIMENT_MODEL_CONTROL") == "false"
    assert "SENTIMENT_ADMIN_KEY" not in env
    settings = settings_from(env)
    assert not settings.model_control and settings.control_key is None


def test_grace_period_outlasts_the_drain(settings_from: SettingsFrom) -> None:
    pod = the("Deployment")["spec"]["template"]["spec"]
    settings = settings_from(container_env(deployment_container()))
    assert pod["terminationGracePeriodSeconds"] > (
        settings.drain_seconds + settings.graceful_timeout_s
    )
    # service links would inject SENTIMENT_PORT=tcp://... (the settings prefix) for the Service
    assert pod["enableServiceLinks"] is False


@pytest.mark.parametrize("protocol", ["v2", "grpc-v2"])
def test_inference_service_runs_on_the_v2_runtime(protocol: str) -> None:
    runtime, isvc = the("ServingRuntime"), inference_service(protocol)
    model = isvc["spec"]["predictor"]["model"]
    assert model["runtime"] == runtime["metadata"]["name"]
    assert model["protocolVersion"] in runtime["spec"]["protocolVersions"]
    formats = {f["name"] for f in runtime["spec"]["supportedModelFormats"]}
    assert model["modelFormat"]["name"] in formats


def test_route_check_tells_real_routes_from_others(app: FastAPI) -> None:
    assert serves_get(app, "/ready") and serves_get(app, "/v2/models/any-name/ready")
    assert not serves_get(app, "/readyz") and not serves_get(app, "/predict")  # POST only
