"""The cascade's threshold rule and the shared n-gram table, on small hand-made inputs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper

from training.cascade import (
    FileOutcome,
    choose_min_tokens,
    choose_threshold,
    fast_by_length,
    length_bucket,
)
from training.export import SHARED_WEIGHTS_FILE, share_large_initializers


def outcome(
    fast: list[list[float]],
    full: list[list[float]],
    labels: list[int],
    lengths: list[int] | None = None,
) -> FileOutcome:
    lengths = lengths or [10] * len(labels)
    return FileOutcome(
        "f", np.array(fast), np.array(full), np.array(labels), [0, 1], np.array(lengths)
    )


def test_threshold_stops_where_the_fast_path_starts_to_disagree() -> None:
    # fast path confident and agreeing on rows 0-1, confident (0.8) but disagreeing on row 2
    fast = [[0.99, 0.01], [0.05, 0.95], [0.8, 0.2], [0.6, 0.4]]
    full = [[0.9, 0.1], [0.1, 0.9], [0.3, 0.7], [0.55, 0.45]]
    assert choose_threshold([outcome(fast, full, [0, 1, 1, 0])], max_drop=0.0) == 0.95


def test_wins_elsewhere_do_not_hide_a_disagreement() -> None:
    # row 2: fast wrong where full is right; row 3: fast right where full is wrong. Accuracy is
    # equal at 0.7, but half of the fast answers differ from the whole model's
    fast = [[0.99, 0.01], [0.05, 0.95], [0.7, 0.3], [0.7, 0.3]]
    full = [[0.9, 0.1], [0.1, 0.9], [0.3, 0.7], [0.4, 0.6]]
    assert choose_threshold([outcome(fast, full, [0, 1, 1, 0])], max_drop=0.0) == 0.95


def test_nothing_takes_the_fast_path_when_even_its_surest_answer_disagrees() -> None:
    fast = [[0.99, 0.01], [0.6, 0.4]]
    full = [[0.1, 0.9], [0.6, 0.4]]
    assert choose_threshold([outcome(fast, full, [1, 0])], max_drop=0.0) == 1.01


def test_length_buckets_are_powers_of_two() -> None:
    assert [length_bucket(n) for n in (1, 2, 3, 4, 5, 64, 65, 512)] == [1, 2, 4, 4, 8, 64, 128, 512]


def test_short_texts_skip_the_fast_path_below_the_buckets_where_it_pays() -> None:
    # (texts, answered by the fast graph) per bucket: it pays from (64, 128] up
    buckets = {16: (500, 2), 32: (800, 10), 64: (300, 6), 128: (200, 60), 256: (100, 30)}
    assert choose_min_tokens(buckets) == 65


def test_a_bucket_too_small_to_judge_does_not_stop_the_run() -> None:
    buckets = {8: (100, 1), 16: (10, 0), 32: (200, 80), 64: (200, 90)}
    assert choose_min_tokens(buckets) == 9


def test_every_length_tries_when_every_bucket_pays_and_none_when_the_longest_does_not() -> None:
    assert choose_min_tokens({1: (50, 40), 2: (60, 50), 4: (70, 60)}) == 0
    assert choose_min_tokens({64: (100, 50), 128: (100, 1)}) == 129


def test_skipped_lengths_are_served_by_the_whole_model() -> None:
    fast = [[0.99, 0.01], [0.98, 0.02], [0.6, 0.4]]
    full = [[0.3, 0.7], [0.9, 0.1], [0.4, 0.6]]
    f = outcome(fast, full, [1, 0, 1], lengths=[5, 100, 100])
    served, fast_rows = f.served(0.95, min_tokens=65)
    assert fast_rows.tolist() == [False, True, False]
    assert served.tolist() == [full[0], fast[1], full[2]]
    assert fast_by_length([f], 0.95) == {8: (1, 1), 128: (2, 1)}


def gather_graph(path: Path, table: np.ndarray, name: str) -> None:
    """ids [N] -> table[ids]: a graph whose only weight is `table`."""
    node = helper.make_node("Gather", ["table", "ids"], ["out"])
    graph = helper.make_graph(
        [node],
        name,
        [helper.make_tensor_value_info("ids", TensorProto.INT64, [None])],
        [helper.make_tensor_value_info("out", TensorProto.FLOAT, [None, table.shape[1]])],
        [onnx.numpy_helper.from_array(table, "table")],
    )
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))


def test_identical_large_tables_are_stored_once_and_answers_do_not_change(tmp_path: Path) -> None:
    table = np.random.default_rng(0).standard_normal((4096, 64)).astype(np.float32)  # 1 MiB
    gather_graph(tmp_path / "a.onnx", table, "a")
    gather_graph(tmp_path / "b.onnx", table, "b")
    ids = np.array([0, 7, 4095])
    moved = share_large_initializers(tmp_path, ["a.onnx", "b.onnx"], min_bytes=1 << 20)
    assert moved == ["table"]
    assert (tmp_path / SHARED_WEIGHTS_FILE).stat().st_size == table.nbytes
    for name in ("a.onnx", "b.onnx"):
        assert (tmp_path / name).stat().st_size < 10_000
        session = ort.InferenceSession(str(tmp_path / name), providers=["CPUExecutionProvider"])
        np.testing.assert_array_equal(session.run(None, {"ids": ids})[0], table[ids])


def test_tables_that_differ_stay_inside_their_graphs(tmp_path: Path) -> None:
    table = np.ones((4096, 64), dtype=np.float32)
    gather_graph(tmp_path / "a.onnx", table, "a")
    gather_graph(tmp_path / "b.onnx", table * 2, "b")
    assert share_large_initializers(tmp_path, ["a.onnx", "b.onnx"], min_bytes=1 << 20) == []
    assert not (tmp_path / SHARED_WEIGHTS_FILE).exists()
