"""A BiLSTM graph cut so that its two directions run on two threads: the cut graph answers
exactly as the whole one, graphs of other shapes are left whole, and a session takes the cut
only for one long enough text while no other run is in flight."""

from __future__ import annotations

import os
import re
from pathlib import Path

import httpx
import numpy as np
import pytest

from app.core import session
from app.core.direction_split import DirectionSplit, cut_graph
from app.core.proto import onnx_graph_pb2 as pb
from app.core.session import RUNS, RunGauge, RuntimeConfig, open_session
from app.ops.peers import Peers
from app.ops.shared_runs import RUNS_FD_ENV, SharedRunCounts, create_run_slots
from model.runtime import run_logits, session_options
from model.text import TextEncoder, pad_batch
from tests.factories import REPO

pytestmark = pytest.mark.unit  # no torch, no ../shared/data

TEXTS = [
    "good",
    "Not bad at all!",
    "The room was clean and the bed was comfortable, but the staff never smiled once.",
    " ".join(["The plot wanders, the acting is wooden and the ending makes no sense."] * 12),
]
SHIPPED = REPO / "model" / "bundles"


def options() -> object:
    return session_options(1)


def rows_of(bundle: Path) -> list[np.ndarray]:
    from model import load_bundle

    loaded = load_bundle(bundle)
    encoder = TextEncoder.from_file(loaded.tokenizer_path, loaded.manifest.truncation)
    return [pad_batch([row]) for row in encoder.ids_only(TEXTS)] + [
        pad_batch(encoder.ids_only(TEXTS))  # a padded batch of four
    ]


@pytest.mark.parametrize("graph", ["model.onnx", "model.int8.onnx"])
@pytest.mark.parametrize("bundle", ["tiny-en", "tiny-ko", "sentiment-en"])
def test_the_cut_graph_answers_bit_for_bit_as_the_whole(
    bundles_root: Path, bundle: str, graph: str
) -> None:
    folder = SHIPPED / bundle if bundle.startswith("sentiment") else bundles_root / bundle
    if not (folder / graph).is_file():
        pytest.skip(f"{bundle} has no {graph}")
    split = DirectionSplit.open(folder / graph, options)
    assert split is not None
    whole = session.ort.InferenceSession(str(folder / graph), options())
    for ids in rows_of(folder):
        assert np.array_equal(split.logits(ids), run_logits(whole, ids))


def test_a_graph_without_recurrences_is_left_whole(bundles_root: Path) -> None:
    assert cut_graph(bundles_root / "tiny-en" / "fast.onnx") is None


def test_a_graph_that_keeps_its_embedding_inside_is_left_whole() -> None:
    # sentiment-ko's four recurrences could be cut, but its 23 MB of weights are inside
    # model.onnx, so each part would carry its own copy (a tiny graph of the same shape is cut:
    # tiny-ko above)
    assert cut_graph(SHIPPED / "sentiment-ko" / "model.onnx") is None


def tensor(name: str, values: np.ndarray) -> pb.TensorProto:
    kind = pb.TensorProto.FLOAT if values.dtype == np.float32 else pb.TensorProto.INT64
    return pb.TensorProto(name=name, dims=values.shape, data_type=kind, raw_data=values.tobytes())


def node(op: str, inputs: list[str], outputs: list[str], **ints: int | list[int]) -> pb.NodeProto:
    attributes = [
        pb.AttributeProto(name=k, type=pb.AttributeProto.INTS, ints=v)
        if isinstance(v, list)
        else pb.AttributeProto(name=k, type=pb.AttributeProto.INT, i=v)
        for k, v in ints.items()
    ]
    return pb.NodeProto(op_type=op, input=inputs, output=outputs, attribute=attributes)


def lstm_graph(path: Path, stacked: bool) -> Path:
    """Two LSTMs over one input: side by side (two directions), or the second reading the
    first's output (two stacked layers, which cannot run at once)."""
    rng = np.random.default_rng(0)
    weights = [  # W and R: [directions, 4 x hidden, input or hidden], both 4 wide here
        tensor(name, rng.normal(size=(1, 16, 4)).astype(np.float32))
        for name in ("w1", "r1", "w2", "r2")
    ]
    constants = [
        tensor(name, np.array([axis], dtype=np.int64))
        for name, axis in (("axes", 2), ("one", 1), ("reduce", 0))
    ]
    second_input = "y1s" if stacked else "x4"
    nodes = [
        node("Cast", ["input_ids"], ["x_int"], to=pb.TensorProto.FLOAT),
        node("Unsqueeze", ["x_int", "axes"], ["x3"]),
        node("Transpose", ["x3"], ["x"], perm=[1, 0, 2]),
        node("Concat", ["x", "x", "x", "x"], ["x4"], axis=2),
        node("LSTM", ["x4", "w1", "r1"], ["y1", "h1"], hidden_size=4),
        node("Squeeze", ["y1", "one"], ["y1s"]),
        node("LSTM", [second_input, "w2", "r2"], ["y2", "h2"], hidden_size=4),
        node("Concat", ["h1", "h2"], ["h"], axis=2),
        node("ReduceSum", ["h", "reduce"], ["logits"], keepdims=0),
    ]
    ids_type = pb.TypeProto(tensor_type=pb.TypeProto.Tensor(elem_type=pb.TensorProto.INT64))
    graph = pb.GraphProto(
        name="two-lstms",
        node=nodes,
        initializer=weights + constants,
        input=[pb.ValueInfoProto(name="input_ids", type=ids_type)],
        output=[pb.ValueInfoProto(name="logits")],
    )
    opset = pb.OperatorSetIdProto(domain="", version=17)
    model = pb.ModelProto(ir_version=8, graph=graph, opset_import=[opset])
    path.write_bytes(model.SerializeToString())
    return path


def test_two_lstms_side_by_side_are_cut_and_answer_alike(tmp_path: Path) -> None:
    path = lstm_graph(tmp_path / "pair.onnx", stacked=False)
    split = DirectionSplit.open(path, options)
    assert split is not None
    whole = session.ort.InferenceSession(str(path), options())
    ids = np.array([[3, 1, 4, 1, 5, 9, 2, 6]], dtype=np.int64)
    assert np.array_equal(split.logits(ids), run_logits(whole, ids))


def test_stacked_lstms_are_left_whole(tmp_path: Path) -> None:
    assert cut_graph(lstm_graph(tmp_path / "stacked.onnx", stacked=True)) is None


def test_only_a_one_text_batch_of_the_only_request_may_split() -> None:
    gauge = RunGauge()
    assert not gauge.may_split()  # outside any batch (warm-up, parity checks)
    with gauge.request():
        with gauge.batch(1):
            assert gauge.may_split()
        assert not gauge.may_split()  # the batch is over
        with gauge.batch(2):
            assert not gauge.may_split()
        with gauge.request(), gauge.batch(1):  # a second request in flight
            assert not gauge.may_split()
    with gauge.batch(1):  # a batch outside any request (bulk scoring)
        assert gauge.may_split()


def test_other_processes_requests_keep_a_text_whole() -> None:
    fd = create_run_slots(2)
    try:
        here, there = SharedRunCounts(fd, 0, 2), SharedRunCounts(fd, 1, 2)
        gauge = RunGauge()
        gauge.siblings = here
        with gauge.request():
            assert there.others_busy()  # the other process sees this request
            with gauge.batch(1):
                assert gauge.may_split()
        assert not there.others_busy()
        there.publish(1)
        with gauge.request(), gauge.batch(1):
            assert not gauge.may_split()
        there.publish(0)
        with gauge.request(), gauge.batch(1):
            assert gauge.may_split()
    finally:
        os.close(fd)


def test_a_process_not_started_by_the_supervisor_shares_nothing() -> None:
    peers = Peers(0, 2, "name")
    assert SharedRunCounts.from_env(None, {RUNS_FD_ENV: "3"}) is None
    assert SharedRunCounts.from_env(peers, {}) is None


class Recording:
    """Stands in for the cut graph's runner, to see which rows take it."""

    def __init__(self) -> None:
        self.shapes: list[tuple[int, ...]] = []

    def logits(self, ids: np.ndarray) -> np.ndarray:
        self.shapes.append(ids.shape)
        return np.zeros((ids.shape[0], 3), dtype=np.float32)


def test_only_one_long_text_in_a_lone_batch_takes_the_cut(bundles_root: Path) -> None:
    model = open_session(bundles_root / "tiny-en" / "model.onnx", "fp32", RuntimeConfig("cpu"))
    recording = Recording()
    model.split, model.split_min_tokens = recording, 8  # type: ignore[assignment]
    long_row, short_row = np.ones((1, 8), np.int64), np.ones((1, 7), np.int64)
    model.logits(long_row)  # outside a batch
    with RUNS.batch(1):
        model.logits(long_row)
        model.logits(short_row)  # too short
        model.logits(np.ones((2, 8), np.int64))  # two rows
    with RUNS.batch(3):  # one row left of a batch of three (say, after the cascade)
        model.logits(long_row)
    assert recording.shapes == [(1, 8)]
    assert model.split_runs == 1  # what sentiment_split_direction_runs_total reports


def test_sessions_cut_only_when_asked_and_a_second_cpu_exists(
    bundles_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = bundles_root / "tiny-en" / "model.onnx"
    asked = RuntimeConfig("cpu", split_min_tokens=32)
    monkeypatch.setattr(session, "usable_cpus", lambda: 2)
    opened = open_session(path, "fp32", asked)
    assert opened.describe()["split_directions"] is True
    assert opened.split_min_tokens == 32
    assert open_session(path, "fp32", RuntimeConfig("cpu")).split is None  # not asked
    fast = open_session(bundles_root / "tiny-en" / "fast.onnx", "fast", asked)
    assert fast.split is None  # nothing to cut
    monkeypatch.setattr(session, "usable_cpus", lambda: 1)
    assert open_session(path, "fp32", asked).split is None  # no second CPU


def test_a_cut_that_answers_differently_is_not_used(
    bundles_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(session, "usable_cpus", lambda: 2)
    monkeypatch.setattr(DirectionSplit, "logits", lambda self, ids: np.zeros((1, 3), np.float32))
    config = RuntimeConfig("cpu", split_min_tokens=1)
    assert open_session(bundles_root / "tiny-en" / "model.onnx", "fp32", config).split is None


def test_settings_turn_the_cut_off(bundles_root: Path) -> None:
    from app.core.service import runtime_config
    from tests.app.conftest import make_settings

    assert runtime_config(make_settings(bundles_root)).split_min_tokens == 64
    off = make_settings(bundles_root, split_directions=False)
    assert runtime_config(off).split_min_tokens is None


@pytest.mark.anyio
async def test_one_long_text_through_the_service_takes_the_cut_and_is_counted(
    bundles_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from app.main import create_app
    from tests.app.conftest import make_settings, serving

    monkeypatch.setattr(session, "usable_cpus", lambda: 2)
    app = create_app(make_settings(bundles_root))
    async with serving(app) as client:
        # the app tests share sessions between apps (tests/app/conftest.py), so the count
        # may start above zero: what counts is what these two texts add
        before = split_runs(await client.get("/metrics"))
        for text in (TEXTS[3], TEXTS[1]):  # 96 tokens (cut), then 5 (too short)
            reply = await client.post("/predict", json={"text": text, "full_model": True})
            assert reply.status_code == 200, reply.text
        assert split_runs(await client.get("/metrics")) == before + 1


def split_runs(page: httpx.Response) -> float:
    found = re.search(
        r'^sentiment_split_direction_runs_total\{model="tiny-en"\} (\S+)$', page.text, re.M
    )
    assert found is not None, page.text[-500:]
    return float(found.group(1))
