"""Export a trained classifier to ONNX and prove the file right before anyone serves it.

The TorchScript exporter (opset 17) turns each recurrence into one native ONNX `LSTM`/`GRU`/`RNN`
op. Export then fails loudly unless ONNX Runtime matches torch on a real batch of mixed lengths,
a text alone gives what it gives inside a padded batch, and the graph runs at batch and sequence
sizes other than the example's.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import torch

from model.runtime import INPUT_NAME, OUTPUT_NAME, cpu_session, run_logits
from model.text import pad_batch

log = logging.getLogger(__name__)
MAX_LOGIT_DIFF = 1e-4
NATIVE_OPS = {"lstm": "LSTM", "cnn_lstm": "LSTM", "gru": "GRU", "rnn": "RNN"}


class ExportError(RuntimeError):
    """The exported graph does not behave like the torch model; the message says how."""


def export_onnx(
    model: torch.nn.Module, example: np.ndarray, path: Path, opset: int, arch: str | None = None
) -> None:
    """Export `model` (input_ids -> logits); `arch` names the recurrence that must appear as a
    native ONNX op (default: the model's own; "none" for a graph without one)."""
    model = model.eval().cpu()
    with warnings.catch_warnings():
        # the TorchScript exporter is deprecated, but it is the one that maps recurrences to
        # native ONNX ops (the dynamo exporter fails on them or freezes the sequence length);
        # its tracer warnings about variable-length batches do not apply to this model
        warnings.simplefilter("ignore")
        torch.onnx.export(
            model,
            (torch.from_numpy(example),),
            str(path),
            dynamo=False,
            opset_version=opset,
            input_names=[INPUT_NAME],
            output_names=[OUTPUT_NAME],
            dynamic_axes={INPUT_NAME: {0: "batch", 1: "sequence"}, OUTPUT_NAME: {0: "batch"}},
            # keep every parameter under its torch name so the bundle can be read back into
            # torch (training.onnx_import); ONNX Runtime folds the constants when it loads
            do_constant_folding=False,
        )
    check_graph(path, arch or model.spec.arch)


def check_graph(path: Path, arch: str) -> None:
    graph = onnx.load(str(path)).graph
    onnx.checker.check_model(str(path))
    dims = graph.input[0].type.tensor_type.shape.dim
    if [d.dim_param for d in dims] != ["batch", "sequence"] or any(d.dim_value for d in dims):
        raise ExportError(f"{path}: input_ids dims are not dynamic: {dims}")
    wanted = NATIVE_OPS.get(arch)
    ops = {node.op_type for node in graph.node}
    if wanted and wanted not in ops:
        raise ExportError(f"{path}: no native ONNX {wanted} op in the graph (ops: {sorted(ops)})")


def verify_parity(
    model: torch.nn.Module,
    sess: ort.InferenceSession,
    ids: np.ndarray,
    tolerance: float = MAX_LOGIT_DIFF,
) -> float:
    with torch.no_grad():
        expected = model.eval().cpu()(torch.from_numpy(ids)).numpy()
    actual = run_logits(sess, ids)
    diff = float(np.abs(expected - actual).max())
    if diff > tolerance or not np.array_equal(expected.argmax(1), actual.argmax(1)):
        raise ExportError(
            f"ONNX Runtime differs from torch: max |logit diff| {diff:.2e} "
            f"(allowed {tolerance:.0e}) on a batch of shape {ids.shape}"
        )
    return diff


def verify_padding_invariance(
    sess: ort.InferenceSession, rows: Sequence[Sequence[int]], tolerance: float = MAX_LOGIT_DIFF
) -> float:
    batched = run_logits(sess, pad_batch(rows))
    worst = 0.0
    for i, row in enumerate(rows):
        alone = run_logits(sess, pad_batch([row]))[0]
        worst = max(worst, float(np.abs(alone - batched[i]).max()))
    if worst > tolerance:
        raise ExportError(
            f"padding changes results: a text alone differs from the same text in a "
            f"padded batch by {worst:.2e} (allowed {tolerance:.0e})"
        )
    return worst


def verify_export(
    model: torch.nn.Module, path: Path, rows: Sequence[Sequence[int]], example_length: int
) -> dict[str, float]:
    """All checks on real rows of mixed lengths; returns the measured worst differences."""
    lengths = {len(r) for r in rows}
    if len(lengths) < 2:
        raise ExportError("verification needs rows of at least two different lengths")
    sess = cpu_session(path)
    report = {"parity_max_diff": verify_parity(model, sess, pad_batch(rows))}
    report["padding_max_diff"] = verify_padding_invariance(sess, rows)
    # a sequence length and batch size the example did not have: catches frozen dims
    # extra right padding (7 when the rows happen to be as long as the example, then 13 more):
    # arbitrary small odd widths that no example shape has, so a frozen dimension fails here
    other = pad_batch(list(rows[:3]))
    if other.shape[1] == example_length:
        other = np.pad(other, ((0, 0), (0, 7)))
    longer = np.pad(other, ((0, 0), (0, 13)))
    report["dynamic_shape_max_diff"] = verify_parity(model, sess, longer)
    log.info("export verified: %s", ", ".join(f"{k} {v:.1e}" for k, v in report.items()))
    return report


def quantizable_nodes(path: Path, tables: bool = True) -> list[str]:
    """Weight-carrying nodes: MatMul/Gemm/LSTM/Conv and, with `tables`, the Gathers that read a
    float table (embeddings, n-gram weights) rather than the int64 hashing tensors."""
    graph = onnx.load(str(path)).graph
    floats = {t.name for t in graph.initializer if t.data_type == onnx.TensorProto.FLOAT}
    weighted = {"MatMul", "Gemm", "LSTM", "Conv"}
    return [
        node.name
        for node in graph.node
        if node.op_type in weighted
        or (tables and node.op_type == "Gather" and node.input[0] in floats)
    ]


def fold_constants(source: Path, target: Path) -> None:
    """Write `source` with its constant subgraphs computed (ONNX Runtime's basic level: standard
    ops only). The exporter reaches a recurrence's weights through Unsqueeze nodes, and the
    quantiser only quantises an LSTM whose weights are initializers."""
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
    options.optimized_model_filepath = str(target)
    ort.InferenceSession(str(source), options, providers=["CPUExecutionProvider"])


def quantize_int8(source: Path, target: Path, tables: bool = True) -> None:
    """Dynamic int8: weights stored as int8, activations quantised on the fly at run time.
    `tables`: the embedding and n-gram tables too; without, they stay fp32 (and byte for byte
    the fp32 graph's, so a bundle can store them once)."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    folded = target.with_name(target.stem + ".folded.onnx")
    fold_constants(source, folded)
    root = logging.getLogger()
    advice = _DropAdvice()
    root.addFilter(advice)  # it suggests pre-processing that only matters for static quantisation
    try:
        quantize_dynamic(
            str(folded),
            str(target),
            weight_type=QuantType.QInt8,
            nodes_to_quantize=quantizable_nodes(folded, tables),
        )
    finally:
        root.removeFilter(advice)
        folded.unlink(missing_ok=True)


class _DropAdvice(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return "pre-processing before quantization" not in record.getMessage()


SHARED_WEIGHTS_FILE = "shared.weights"


def share_large_initializers(
    folder: Path, graphs: Sequence[str], min_bytes: int = 1 << 20
) -> list[str]:
    """Move the large initializers that several graphs hold byte for byte (the cascade's n-gram
    table, in both the whole model and the fast path) into one external-data file that every one
    of them points at, so the bundle stores each table once. Returns the names moved.

    ONNX Runtime reads external data relative to the model file, so sessions must be created
    from the file path (as the service and `training` do), not from bytes.
    """
    models = {name: onnx.load(str(folder / name)) for name in graphs}
    tables: dict[str, list[onnx.TensorProto]] = {}
    for model in models.values():
        for tensor in model.graph.initializer:
            if len(tensor.raw_data) >= min_bytes:
                tables.setdefault(tensor.name, []).append(tensor)
    shared = {
        name: found
        for name, found in tables.items()
        if len(found) > 1 and all(t.raw_data == found[0].raw_data for t in found)
    }
    if not shared:
        return []
    offset = 0
    with (folder / SHARED_WEIGHTS_FILE).open("wb") as out:
        for found in shared.values():
            data = found[0].raw_data
            out.write(data)
            for tensor in found:
                _point_at(tensor, offset, len(data))
            offset += len(data)
    for name, model in models.items():
        onnx.save(model, str(folder / name))
    return sorted(shared)


def _point_at(tensor: onnx.TensorProto, offset: int, length: int) -> None:
    tensor.ClearField("raw_data")
    tensor.data_location = onnx.TensorProto.EXTERNAL
    del tensor.external_data[:]
    for key, value in (("location", SHARED_WEIGHTS_FILE), ("offset", offset), ("length", length)):
        entry = tensor.external_data.add()
        entry.key, entry.value = key, str(value)
