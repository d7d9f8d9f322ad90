"""deploy/monitoring against the real thing: Debian's Prometheus scrapes a real `python -m app`
process, promtool accepts the config and the rules, and every query of the Grafana dashboard (and
every recording rule) returns data once some traffic (HTTP and gRPC) has passed. The drift
alerts against shifted and normal traffic: tests/deploy/test_drift_alerts.py.

Skipped with a message where Prometheus is not installed (`apt-get install prometheus`; `.ci/run`
installs it).
"""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import httpx
import pytest
import yaml

from app.v2.proto import grpc_predict_v2_pb2_grpc as pb2_grpc
from tests.app.test_grpc import infer_request
from tests.factories import REPO
from tests.support import free_port, server, wait_until

MONITORING = REPO / "deploy" / "monitoring"
DASHBOARD = MONITORING / "grafana-dashboard.json"
RULES = MONITORING / "rules.yml"
# What Grafana would put in place of the dashboard's variables.
GRAFANA_VARIABLES = {"$__rate_interval": "30s", "$model": ".*"}

pytestmark = [
    pytest.mark.slow,
    pytest.mark.timeout(180),
    pytest.mark.skipif(
        shutil.which("prometheus") is None or shutil.which("promtool") is None,
        reason="Prometheus is not installed (Debian: apt-get install prometheus)",
    ),
]


def dashboard_queries() -> list[str]:
    panels = json.loads(DASHBOARD.read_text())["panels"]
    queries = [target["expr"] for panel in panels for target in panel["targets"]]
    for variable, value in GRAFANA_VARIABLES.items():
        queries = [query.replace(variable, value) for query in queries]
    return queries


def recorded_series() -> list[str]:
    groups = yaml.safe_load(RULES.read_text())["groups"]
    return [rule["record"] for group in groups for rule in group["rules"] if "record" in rule]


def scrape_config(target: str, folder: Path) -> Path:
    """The shipped config with a fast scrape of `target` (and the shipped rules beside it)."""
    config = yaml.safe_load((MONITORING / "prometheus.yml").read_text())
    config["global"] = {"scrape_interval": "1s", "evaluation_interval": "1s"}
    config["scrape_configs"][0]["static_configs"] = [{"targets": [target]}]
    shutil.copy(RULES, folder / RULES.name)
    path = folder / "prometheus.yml"
    path.write_text(yaml.safe_dump(config))
    return path


@pytest.fixture(scope="module")
def grpc_target() -> str:
    return f"127.0.0.1:{free_port()}"


@pytest.fixture(scope="module")
def service_url(
    bundles_root: Path, grpc_target: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    log = tmp_path_factory.mktemp("monitored") / "server.log"
    port = grpc_target.rsplit(":", 1)[1]
    with server(bundles_root, log, SENTIMENT_GRPC_PORT=port) as (_, url):
        asyncio.run(wait_until(f"{url}/ready", 200))
        yield url


@pytest.fixture(scope="module")
def prometheus_url(service_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    folder = tmp_path_factory.mktemp("prometheus")
    config = scrape_config(service_url.removeprefix("http://"), folder)
    port = free_port()
    command = [
        "prometheus",
        f"--config.file={config}",
        f"--storage.tsdb.path={folder / 'data'}",
        f"--web.listen-address=127.0.0.1:{port}",
    ]
    with (folder / "prometheus.log").open("wb") as log:
        process = subprocess.Popen(command, stdout=log, stderr=log)
    try:
        asyncio.run(wait_until(f"http://127.0.0.1:{port}/-/ready", 200))
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=20)


def test_promtool_accepts_config_and_rules(tmp_path: Path) -> None:
    config = scrape_config("127.0.0.1:8000", tmp_path)
    for command in (["check", "config", str(config)], ["check", "rules", str(RULES)]):
        done = subprocess.run(["promtool", *command], capture_output=True, text=True)
        assert done.returncode == 0, done.stdout + done.stderr


def send_traffic(url: str, seconds: float, grpc_target: str) -> None:
    """Good and bad requests for `seconds`: predictions, a 422 and a 404, and gRPC calls."""
    deadline = time.monotonic() + seconds
    with (
        httpx.Client(base_url=url, timeout=10) as client,
        grpc.insecure_channel(grpc_target) as channel,
    ):
        stub = pb2_grpc.GRPCInferenceServiceStub(channel)
        for _ in range(10_000):  # bounded; the deadline ends it first
            if time.monotonic() > deadline:
                break
            client.post("/predict", json={"texts": ["great fun", "dull and slow", "ok"]})
            client.post("/predict", json={"text": ""})
            client.get("/v2/models/no-such-model")
            stub.ModelInfer(infer_request(["a fine film"]), timeout=10)
            time.sleep(0.05)


def query(prometheus: str, expression: str) -> list[dict]:
    answer = httpx.get(f"{prometheus}/api/v1/query", params={"query": expression}, timeout=10)
    assert answer.status_code == 200, f"{expression}: {answer.text}"
    return answer.json()["data"]["result"]


def test_every_dashboard_query_and_recording_rule_returns_data(
    service_url: str, prometheus_url: str, grpc_target: str
) -> None:
    send_traffic(service_url, seconds=6, grpc_target=grpc_target)
    targets = httpx.get(f"{prometheus_url}/api/v1/targets", timeout=10).json()
    health = [t["health"] for t in targets["data"]["activeTargets"]]
    assert health == ["up"], targets
    expressions = dashboard_queries() + recorded_series()
    empty: list[str] = []
    for _ in range(20):  # rules evaluate every second: allow a few rounds
        empty = [e for e in expressions if not query(prometheus_url, e)]
        if not empty:
            break
        send_traffic(service_url, seconds=1, grpc_target=grpc_target)
    assert not empty, f"no data for: {empty}"


def alert_expressions() -> dict[str, str]:
    groups = yaml.safe_load(RULES.read_text())["groups"]
    return {r["alert"]: r["expr"] for group in groups for r in group["rules"] if "alert" in r}


def test_alert_expressions_run_and_not_ready_is_quiet_while_serving(
    service_url: str, prometheus_url: str, grpc_target: str
) -> None:
    send_traffic(service_url, seconds=2, grpc_target=grpc_target)
    answers = {name: query(prometheus_url, expr) for name, expr in alert_expressions().items()}
    assert answers["SentimentNotReady"] == []
    assert answers["SentimentHighErrorRate"] == []  # 422s and 404s are not server errors
