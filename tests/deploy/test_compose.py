"""The CPU image under Docker Compose on a real engine: build, start healthy, answer, drain, stop.

Marked `docker`: `make test` deselects it and `.ci/run` runs it after starting an engine. Uses the
engine `docker` reaches as it is (its own compose project, image tag and host port) and fails,
never skips, when there is none. The module's tests share one running stack; the stop test runs
last and ends it.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest

from tests.factories import REPO
from tests.support import free_port

pytestmark = [pytest.mark.docker, pytest.mark.slow, pytest.mark.timeout(900)]

COMPOSE_FILE = REPO / "docker-compose.yml"
IMAGE_TAG = "compose-test"  # one tag, reused run after run: the engine's layer cache stays useful
POSITIVE = "An absolutely wonderful film: moving, funny and beautifully acted. I loved it."
NEGATIVE = "A terrible, boring film. The plot makes no sense and the acting is awful."
ENGINE_HINT = "start one with `source ../shared/tools/docker-engine.sh up` (from the repository)"


def run(command: list[str], env: dict[str, str], timeout: float) -> str:
    """Run a command, bounded; fail the test with its output when it fails or hangs."""
    try:
        done = subprocess.run(
            command, cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout
        )
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"{' '.join(command)} did not finish in {timeout:.0f} s: {exc.output!r}")
    if done.returncode != 0:
        output = (done.stdout + done.stderr)[-4000:]
        pytest.fail(f"{' '.join(command)} exited {done.returncode}:\n{output}")
    return done.stdout


def require_engine(env: dict[str, str]) -> None:
    try:
        subprocess.run(["docker", "version"], env=env, capture_output=True, timeout=30, check=True)
    except (OSError, subprocess.SubprocessError) as exc:
        pytest.fail(f"no Docker engine is reachable (`docker version`: {exc}); {ENGINE_HINT}")


def compose_env(port: int) -> dict[str, str]:
    """The caller's environment without SENTIMENT_*/COMPOSE_* variables, which would change what
    the compose file interpolates, plus this run's ports and image tag. The gRPC port is a free
    one too: the default 8001 is taken whenever a service runs on the host."""
    keep = {k: v for k, v in os.environ.items() if not k.startswith(("SENTIMENT_", "COMPOSE_"))}
    ports = {"API_HOST_PORT": str(port), "API_GRPC_HOST_PORT": str(free_port())}
    return {**keep, **ports, "IMAGE_TAG": IMAGE_TAG}


@dataclass(frozen=True)
class Stack:
    """A running compose project: how to reach it and how to run compose commands on it."""

    project: str
    env: dict[str, str]
    base_url: str

    def compose(self, *args: str, timeout: float = 120) -> str:
        command = ["docker", "compose", "-p", self.project, "-f", str(COMPOSE_FILE), *args]
        return run(command, self.env, timeout)

    def container(self) -> dict:
        """`docker inspect` of the api container."""
        container_id = self.compose("ps", "-a", "-q", "api").strip()
        return json.loads(run(["docker", "inspect", container_id], self.env, 30))[0]


@pytest.fixture(scope="module")
def stack() -> Iterator[Stack]:
    port = free_port()
    stack = Stack(
        f"sentiment-test-{uuid.uuid4().hex[:8]}", compose_env(port), f"http://127.0.0.1:{port}"
    )
    require_engine(stack.env)
    if not (REPO / "model" / "bundles" / "sentiment-en" / "manifest.json").is_file():
        pytest.fail("model/bundles/sentiment-en is missing: the image serves the bundled models")
    try:
        stack.compose("build", "api", timeout=600)
        try:
            stack.compose("up", "--detach", "--wait", "--wait-timeout", "120", "api", timeout=180)
        except pytest.fail.Exception as exc:
            logs = stack.compose("logs", "--no-color", "api")[-4000:]
            pytest.fail(f"{exc}\ncontainer logs:\n{logs}")
        yield stack
    finally:
        stack.compose("down", "--volumes", "--timeout", "40", timeout=120)


def get(stack: Stack, path: str) -> httpx.Response:
    return httpx.get(stack.base_url + path, timeout=10)


def test_ready_answers_200_once_healthy(stack: Stack) -> None:
    response = get(stack, "/ready")
    assert response.status_code == 200, response.text
    assert stack.container()["State"]["Health"]["Status"] == "healthy"


def test_predict_labels_clearly_positive_and_negative_reviews(stack: Stack) -> None:
    body = {"texts": [POSITIVE, NEGATIVE]}
    response = httpx.post(stack.base_url + "/predict", json=body, timeout=10)
    assert response.status_code == 200, response.text
    labels = [p["label"] for p in response.json()["predictions"]]
    assert labels == ["positive", "negative"], response.json()


def test_metrics_count_requests_in_prometheus_format(stack: Stack) -> None:
    assert get(stack, "/health").status_code == 200
    response = get(stack, "/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    assert 'sentiment_http_requests_total{method="GET",route="/health",status="200"}' in (
        response.text
    )


def test_onnx_threads_follow_the_compose_cpu_limit(stack: Stack) -> None:
    config = json.loads(stack.compose("config", "--format", "json"))
    cpu_limit = float(config["services"]["api"]["cpus"])
    engine_cpus = int(run(["docker", "info", "--format", "{{.NCPU}}"], stack.env, 30))
    # the app's rule: the CPUs it may use (quota rounded up, at most the host's) minus one
    expected = max(1, min(engine_cpus, math.ceil(cpu_limit)) - 1)
    models = get(stack, "/models").json()["models"]
    assert models and all(m["runtime"]["intra_op_threads"] == expected for m in models), models


def test_image_holds_no_torch_pip_or_compiler_and_runs_unprivileged(stack: Stack) -> None:
    probe = (
        "import importlib.util as u, os, shutil; "
        "print(u.find_spec('torch') is None and u.find_spec('pip') is None, "
        "shutil.which('gcc') is None and shutil.which('cc') is None, os.getuid())"
    )
    out = stack.compose("exec", "-T", "api", "python", "-c", probe, timeout=60).split()
    assert out == ["True", "True", "10001"], out
    assert stack.container()["HostConfig"]["ReadonlyRootfs"] is True


def test_image_stays_within_its_size_budget(stack: Stack) -> None:
    """400 MB (as `docker images` counts: 10^6 bytes), the base image included; the layer
    table is in docs/deployment.md."""
    image = json.loads(
        run(["docker", "image", "inspect", stack.container()["Image"]], stack.env, 30)
    )
    assert image[0]["Size"] <= 400_000_000, image[0]["Size"]


def test_every_log_line_is_one_json_object(stack: Stack) -> None:
    """The service's log contract (SENTIMENT_JSON_LOGS): no library may print around it."""
    lines = stack.compose("logs", "--no-color", "--no-log-prefix", "api").splitlines()
    assert lines
    for line in lines:
        assert isinstance(json.loads(line), dict), line


def test_two_processes_serve_one_port_in_the_read_only_container(stack: Stack) -> None:
    """SENTIMENT_PROCESSES=2 in the same image and compose file (read-only root, no
    capabilities): the peer sockets need no file, both processes answer, and stop drains both."""
    port = free_port()
    env = {**compose_env(port), "SENTIMENT_PROCESSES": "2"}
    two = Stack(f"sentiment-test-{uuid.uuid4().hex[:8]}", env, f"http://127.0.0.1:{port}")
    try:
        two.compose("up", "--detach", "--wait", "--wait-timeout", "120", "api", timeout=180)
        response = httpx.post(two.base_url + "/predict", json={"texts": [POSITIVE]}, timeout=10)
        assert response.status_code == 200, response.text
        page = get(two, "/metrics").text
        assert (
            'sentiment_ready{process="0"} 1.0' in page
            and 'sentiment_ready{process="1"} 1.0' in (page)
        ), page[-2000:]
        two.compose("stop", "api", timeout=60)
        logs = two.compose("logs", "--no-color", "api")
        assert two.container()["State"]["ExitCode"] == 0, logs[-3000:]
        assert logs.count("signal received: /ready answers 503") == 2, logs[-3000:]
        assert "Traceback" not in logs
    finally:
        two.compose("down", "--volumes", "--timeout", "40", timeout=120)


def test_stop_drains_then_exits_0(stack: Stack) -> None:
    """Runs last (file order): SIGTERM reaches python as PID 1, which drains and exits 0."""
    stack.compose("stop", "api", timeout=60)
    state = stack.container()["State"]
    logs = stack.compose("logs", "--no-color", "api")
    assert state["ExitCode"] == 0 and not state["OOMKilled"], logs[-3000:]
    assert "signal received: /ready answers 503" in logs
    assert '"msg":"stopped"' in logs  # the batchers answered everything queued, then stopped
    assert "Traceback" not in logs
