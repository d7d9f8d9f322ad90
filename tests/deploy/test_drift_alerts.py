"""The drift alerts end to end: a real `python -m app` serving the shipped bundles, a real
Prometheus scraping it every second and evaluating deploy/monitoring/rules.yml with the drift
windows cut from 10 minutes to 20 s and `for:` from 5 minutes to 5 s (`shortened_rules`; every
expression, margin and minimum is the shipped one).

Normal traffic (a mixed sample of the validation rows the baselines were measured on) keeps
every drift alert of its model quiet; traffic from another source fires them: Korean reviews
sent to the English model (label mix; its confidence drops, but under the alert's margin since
sentiment-en 2.3.0; 2.4.0: by 0.047), negative reviews only to the Korean one (label mix), and
English sentences to the Korean model (its confidence drops by ~0.12: SentimentConfidenceDrop).
The ten-minute run with the shipped windows is `python -m bench drift`.
"""

from __future__ import annotations

import asyncio
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.drift import (
    Traffic,
    distances,
    drift_alerts,
    english_sentences,
    korean_reviews,
    prometheus,
    shortened_rules,
    validation_sample,
)
from tests.factories import REPO
from tests.support import server, wait_until

pytestmark = [
    pytest.mark.slow,
    pytest.mark.timeout(300),
    pytest.mark.skipif(
        shutil.which("prometheus") is None,
        reason="Prometheus is not installed (Debian: apt-get install prometheus)",
    ),
]
WINDOW, HOLD = "20s", "5s"
RATE = 10  # requests/s per model, 8 texts each: 1,600 answers per 20 s window


@pytest.fixture(scope="module")
def service_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    log = tmp_path_factory.mktemp("drift") / "server.log"
    env = {"SENTIMENT_DEFAULT_MODEL": "sentiment-en", "SENTIMENT_ACCESS_LOG": "false"}
    with server(REPO / "model" / "bundles", log, **env) as (_, url):
        asyncio.run(wait_until(f"{url}/ready", 200))
        yield url


@pytest.fixture(scope="module")
def prometheus_url(service_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    folder = tmp_path_factory.mktemp("drift-prometheus")
    target = service_url.removeprefix("http://")
    with prometheus(target, folder, shortened_rules(WINDOW, HOLD)) as url:
        yield url


def alerts_until(prometheus_url: str, seconds: float, wanted: set[tuple[str, str]]) -> set:
    """Every (alert, model, state) seen while polling each second for at most `seconds`; stops
    early once every (alert, model) in `wanted` is firing."""
    seen: set[tuple[str, str, str]] = set()
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        seen |= set(drift_alerts(prometheus_url))
        if wanted and wanted <= {(a, m) for a, m, state in seen if state == "firing"}:
            break
        time.sleep(1)
    return seen


def test_normal_traffic_is_quiet_and_shifted_traffic_fires(
    service_url: str, prometheus_url: str, data_dir: Path
) -> None:
    english = validation_sample("sentiment-en", 2000, data_dir)
    korean_negative = korean_reviews(2000, data_dir, label=0)
    with (
        Traffic(service_url, "sentiment-en", english, RATE) as normal,
        Traffic(service_url, "sentiment-ko", korean_negative, RATE),
    ):
        # longer than the window plus the hold, so the English window is all normal traffic
        seen = alerts_until(prometheus_url, 30, set())
        quiet = distances(prometheus_url)["sentiment-en"]
    assert normal.failed == 0 and normal.answered > 1000
    assert {a for a in seen if a[1] == "sentiment-en"} == set(), (seen, quiet)
    assert quiet["label_share"] < 0.15 and quiet["confidence_drop"] < 0.1, quiet
    assert ("SentimentLabelMixDrift", "sentiment-ko", "firing") in seen, seen

    korean = korean_reviews(2000, data_dir)
    wanted = {("SentimentLabelMixDrift", "sentiment-en")}
    with Traffic(service_url, "sentiment-en", korean, RATE):
        seen = alerts_until(prometheus_url, 45, wanted)
        alerts_until(prometheus_url, 22, set())  # a whole window of Korean text, then read it
        shifted = distances(prometheus_url)["sentiment-en"]
    firing = {(a, m) for a, m, state in seen if state == "firing"}
    assert wanted <= firing, (seen, shifted)
    # The English model is less sure of Korean text, but since 2.3.0 by only ~0.05-0.06, under
    # SentimentConfidenceDrop's 0.1 margin (2.2.0: ~0.13, and it fired): the label mix is what
    # catches this shift now (docs/reliability.md). The drop must still show, well above quiet.
    assert shifted["confidence_drop"] > quiet["confidence_drop"] + 0.03, (quiet, shifted)


def test_english_text_to_the_korean_model_fires_the_confidence_drop(
    service_url: str, prometheus_url: str, data_dir: Path
) -> None:
    wanted = {("SentimentConfidenceDrop", "sentiment-ko")}
    with Traffic(service_url, "sentiment-ko", english_sentences(2000, data_dir), RATE) as sent:
        seen = alerts_until(prometheus_url, 45, wanted)
        drop = distances(prometheus_url)["sentiment-ko"]["confidence_drop"]
    firing = {(a, m) for a, m, state in seen if state == "firing"}
    assert sent.failed == 0 and sent.answered > 200
    assert wanted <= firing, (seen, drop)
    assert drop > 0.1, drop
