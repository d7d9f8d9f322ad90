"""ORT sessions: provider choice, thread defaults, what a session reports."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.core import session
from app.core.session import (
    RuntimeConfig,
    RuntimeSetupError,
    choose_providers,
    default_batch_workers,
    default_intra_op_threads,
    open_session,
)

pytestmark = pytest.mark.unit  # no torch, no ../shared/data


def test_default_threads_leave_one_cpu_for_the_event_loop() -> None:
    assert [default_intra_op_threads(n) for n in (1, 2, 8)] == [1, 1, 7]


def test_default_batch_workers_fill_the_cpus() -> None:
    # (cpus, intra-op threads) -> workers: 2 CPUs run two one-thread batches at once
    cases = {(1, 1): 1, (2, 1): 2, (8, 7): 1, (8, 2): 4, (2, 4): 1}
    assert {case: default_batch_workers(*case) for case in cases} == cases


def test_cpu_provider() -> None:
    assert choose_providers("cpu") == ["CPUExecutionProvider"]


def test_auto_uses_cuda_only_when_built_in(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(session.ort, "get_available_providers", lambda: ["CPUExecutionProvider"])
    assert choose_providers("auto") == ["CPUExecutionProvider"]
    monkeypatch.setattr(
        session.ort,
        "get_available_providers",
        lambda: ["CUDAExecutionProvider", "CPUExecutionProvider"],
    )
    assert choose_providers("auto") == ["CUDAExecutionProvider", "CPUExecutionProvider"]


def test_cuda_without_cuda_build_fails_clearly(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(session.ort, "get_available_providers", lambda: ["CPUExecutionProvider"])
    with pytest.raises(RuntimeSetupError, match="onnxruntime-gpu"):
        choose_providers("cuda")


def test_session_reports_what_it_uses(bundles_root: Path) -> None:
    config = RuntimeConfig(providers="cpu", intra_op_threads=1, inter_op_threads=1)
    model = open_session(bundles_root / "tiny-en" / "model.onnx", "fp32", config)
    assert model.describe() == {
        "provider": "CPUExecutionProvider",
        "variant": "fp32",
        "intra_op_threads": 1,
        "inter_op_threads": 1,
        "split_directions": False,
    }


@pytest.mark.anyio
@pytest.mark.skipif(
    "CUDAExecutionProvider" in session.ort.get_available_providers(), reason="CUDA build present"
)
async def test_cuda_setting_without_a_cuda_build_fails_startup(bundles_root: Path) -> None:
    from app.main import create_app
    from tests.app.conftest import make_settings, serving

    app = create_app(make_settings(bundles_root, providers="cuda"))
    async with serving(app) as client:
        ready = await client.get("/ready")
    assert ready.status_code == 503
    assert "onnxruntime-gpu" in app.state.service.failure
