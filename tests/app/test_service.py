"""The service's state: settings turned into runtime and batching plans, readiness, deadlines."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from app.core.errors import NotReady
from app.core.service import Service, batch_limits, runtime_config
from app.core.settings import Settings
from app.ops.metrics import Metrics
from model.runtime import usable_cpus

pytestmark = pytest.mark.unit  # no torch, no ../shared/data


def make(**values: object) -> Service:
    return Service(Settings(model_dir=Path("/nowhere"), **values), Metrics())


def test_thread_and_worker_defaults_follow_the_usable_cpus() -> None:
    settings = Settings()
    config = runtime_config(settings)
    cpus = usable_cpus()
    assert config.intra_op_threads == max(1, cpus - 1)
    assert batch_limits(settings, config.intra_op_threads).workers == max(
        1, cpus // max(1, cpus - 1)
    )


def test_settings_override_threads_and_batching() -> None:
    settings = Settings(intra_op_threads=3, batch_workers=2, max_wait_ms=5, max_batch_size=4)
    limits = batch_limits(settings, runtime_config(settings).intra_op_threads)
    assert runtime_config(settings).intra_op_threads == 3
    assert (limits.workers, limits.max_wait_s, limits.max_batch_size) == (2, 0.005, 4)


def test_load_plan_carries_variant_and_cascade_settings() -> None:
    plan = make(variant="int8", cascade=False).load_plan()
    assert (plan.variant, plan.cascade) == ("int8", False)
    assert make().load_plan().cascade is True


@pytest.mark.anyio
async def test_before_loading_every_model_lookup_is_not_ready() -> None:
    service = make()
    assert not service.ready
    with pytest.raises(NotReady, match="still loading"):
        service.model("anything")


@pytest.mark.anyio
async def test_draining_is_the_reason_once_started() -> None:
    service = make()
    service.start_draining()
    assert service.not_ready_reason() == "the service is draining before shutdown"


@pytest.mark.anyio
async def test_a_failed_load_is_reported_and_never_ready(tmp_path: Path) -> None:
    service = Service(Settings(model_dir=tmp_path / "missing"), Metrics())
    service.start()
    await service.load_finished.wait()
    assert service.failure is not None and "SENTIMENT_MODEL_DIR" in service.failure
    assert not service.ready and "failed to load" in service.not_ready_reason()
    await service.stop()


def test_deadline_is_the_request_timeout_from_now() -> None:
    service = make(request_timeout_s=2.5)
    assert service.deadline() - time.monotonic() == pytest.approx(2.5, abs=0.1)
