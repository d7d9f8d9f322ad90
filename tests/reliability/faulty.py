"""A real bundle whose graph fails at run time for batches larger than a limit.

The graph is the tiny model's, plus a probe that reads row B-1 of a table with `limit` rows (B:
the batch size): ONNX Runtime raises "indices element out of data bounds" for a larger batch.
Warm-up (batches of 1 and 4) passes, so the service starts; a batch over the limit fails at run
time, as a corrupt or mis-exported model would.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import onnx
from onnx import helper, numpy_helper

from model.bundle import MANIFEST, read_manifest, write_manifest


def add_batch_limit(graph: onnx.GraphProto, limit: int) -> None:
    producer = next(node for node in graph.node if "logits" in node.output)
    producer.output[list(producer.output).index("logits")] = "logits_unchecked"
    graph.initializer.extend(
        [
            # tiny non-zero values: a table of zeros would let the graph optimiser drop the probe
            numpy_helper.from_array(np.full(limit, 1e-30, dtype=np.float32), "probe_table"),
            numpy_helper.from_array(np.array(1, dtype=np.int64), "probe_one"),
        ]
    )
    # a scalar index, not a Range: ORT rewrites Gather(Range) as a Slice, which clamps silently
    graph.node.extend(
        [
            helper.make_node("Shape", ["input_ids"], ["probe_shape"], start=0, end=1),
            helper.make_node("Squeeze", ["probe_shape"], ["probe_batch"]),
            helper.make_node("Sub", ["probe_batch", "probe_one"], ["probe_last"]),
            helper.make_node("Gather", ["probe_table", "probe_last"], ["probe_value"]),
            helper.make_node("Add", ["logits_unchecked", "probe_value"], ["logits"]),
        ]
    )


def faulty_bundle(source: Path, target: Path, limit: int = 4) -> Path:
    """Copy `source` to `target` with a batch limit in its fp32 graph; re-hash the manifest."""
    shutil.copytree(source, target)
    path = target / "model.onnx"
    graph_model = onnx.load(str(path))
    add_batch_limit(graph_model.graph, limit)
    onnx.save(graph_model, str(path))
    manifest = read_manifest(target)
    manifest.name = target.name
    manifest.variants = {"fp32": manifest.variants["fp32"]}
    manifest.default_variant = "fp32"
    (target / "model.int8.onnx").unlink(missing_ok=True)
    (target / MANIFEST).unlink()
    write_manifest(target, manifest)
    return target
