"""Read a bundle's ONNX weights back into the torch model (for comparisons and fine-tuning).

Export keeps every parameter under its torch name (no constant folding), so the state dict is a
lookup by name among the graph's initializers and constants.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import onnx
import torch
from onnx import numpy_helper

from model.bundle import load_bundle
from training.models import ModelSpec, SentimentClassifier


def named_values(graph: onnx.GraphProto) -> dict[str, np.ndarray]:
    values = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
    for node in graph.node:
        if node.op_type == "Constant" and node.attribute and node.attribute[0].name == "value":
            values[node.output[0]] = numpy_helper.to_array(node.attribute[0].t)
    return values


def spec_from_manifest(architecture: dict) -> ModelSpec:
    names = {f.name for f in dataclasses.fields(ModelSpec)}
    return ModelSpec(**{k: v for k, v in architecture.items() if k in names})


def load_torch_model(bundle_dir: Path | str) -> SentimentClassifier:
    """The bundle's fp32 graph as an eval-mode torch model with identical weights."""
    bundle = load_bundle(bundle_dir)
    model = SentimentClassifier(spec_from_manifest(bundle.manifest.architecture))
    values = named_values(onnx.load(str(bundle.model_path("fp32"))).graph)
    state = model.state_dict()
    for names in _aliases(state):  # a shared tensor is stored once, under one of its names
        found = [values[n] for n in names if n in values]
        values.update(dict.fromkeys(names, found[0]) if found else {})
    spec = model.spec
    unused = set() if spec.char_order or spec.char_members else {"token_chars"}  # not in graph
    missing = [name for name in state if name not in values and name not in unused]
    if missing:
        raise ValueError(f"{bundle_dir}: the graph lacks weights {missing[:5]}; re-export it")
    state.update(
        {name: torch.from_numpy(np.array(values[name])) for name in state if name in values}
    )
    model.load_state_dict(state)
    return model.eval()


def _aliases(state: dict[str, torch.Tensor]) -> list[list[str]]:
    """Groups of state-dict names that are one tensor (shared embeddings)."""
    groups: dict[int, list[str]] = {}
    for name, tensor in state.items():
        groups.setdefault(tensor.data_ptr(), []).append(name)
    return [names for names in groups.values() if len(names) > 1]
