"""One text, two cores: a bidirectional LSTM graph cut so that its two directions run at once.

A bundle graph runs its forward and backward recurrences one after the other, and ONNX
Runtime's parallel executor does not overlap them (its CPU provider runs every node of a graph
on one stream: measured level with sequential execution, docs/benchmarks.md). With one text in
flight the second CPU is idle while the first walks the text twice. This module cuts the graph
in three at load time, from the bundle's own file, so every bundle gets it without a re-export:

- first part: the ids -> the outputs of every other recurrence (in graph order: the forward
  direction of each BiLSTM member), plus every tensor that the rest of the graph needs and
  that does not depend on a recurrence (the n-gram member, the lengths);
- second part: the ids -> the outputs of the remaining recurrences (the backward directions);
- head: those tensors -> logits.

The two parts run on two threads (ORT releases the GIL), then the head. Every node is the
original graph's node with the original inputs, so the logits are bit-identical (checked at
load, and in tests). A graph of another shape (fewer than two recurrences, one reading
another's output as stacked layers do, nested graphs, sparse weights) is not cut:
`cut_graph` returns None. So is a graph whose large weights are inside its own file, since
each part would carry a copy: the parts read the large initializers from the bundle's weight
file (`shared.weights`), as the whole graph's session does, so they add ~2 MB per graph, not
another copy of the embedding and n-gram table.
"""

from __future__ import annotations

import logging
import weakref
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnxruntime as ort

from app.core.proto import onnx_graph_pb2 as pb
from model.runtime import CPU_PROVIDER, INPUT_NAME, OUTPUT_NAME

log = logging.getLogger(__name__)

RECURRENT_OPS = frozenset({"LSTM", "DynamicQuantizeLSTM"})
# A graph file this large keeps its weights inside itself (sentiment-ko 2.0.x: 23 MB; sentiment-en
# keeps them in shared.weights and its graph files are 0.3-1.1 MB): each part would carry a copy
# (+76 MB measured for sentiment-ko), so it is left whole, and not even read.
MAX_GRAPH_BYTES = 4 << 20
# external data of a graph loaded from bytes is looked up in this folder
EXTERNAL_FOLDER = "session.model_external_initializers_file_folder_path"
SUBGRAPH_ATTRIBUTES = frozenset({pb.AttributeProto.GRAPH, pb.AttributeProto.GRAPHS})


def _used_outputs(node: pb.NodeProto, consumed: set[str]) -> list[str]:
    return [name for name in node.output if name and name in consumed]


def _downstream(graph: pb.GraphProto, sources: set[str]) -> tuple[set[str], list[pb.NodeProto]]:
    """Tensors computed from `sources` (themselves included), and the nodes that compute them.
    ONNX keeps nodes in topological order, so one pass sees every producer before its users."""
    reached, nodes = set(sources), []
    for node in graph.node:
        if any(name in reached for name in node.input):
            reached.update(name for name in node.output if name)
            nodes.append(node)
    return reached, nodes


def _independent(graph: pb.GraphProto, recurrent: list[pb.NodeProto], consumed: set) -> bool:
    """No recurrence reads what another one computes (stacked layers do)."""
    for node in recurrent:
        reach, _ = _downstream(graph, set(_used_outputs(node, consumed)))
        if any(name in reach for other in recurrent for name in other.input):
            return False
    return True


def _ancestors(graph: pb.GraphProto, outputs: Iterable[str], stop: set[str]) -> list[pb.NodeProto]:
    """The nodes that compute `outputs` from `stop` and the initializers, in graph order."""
    producer = {name: i for i, node in enumerate(graph.node) for name in node.output if name}
    wanted: set[int] = set()
    stack, seen = list(outputs), set(stop)
    while stack:
        name = stack.pop()
        if name in seen:
            continue
        seen.add(name)
        index = producer.get(name)
        if index is not None:
            wanted.add(index)
            stack.extend(name for name in graph.node[index].input if name)
    return [graph.node[i] for i in sorted(wanted)]


def typed_input(arg: ort.NodeArg) -> pb.ValueInfoProto:
    """A graph input of the type and shape ONNX Runtime gives a tensor (type 'tensor(float)',
    shape [None, 'batch', 128]). The shape matters: without it the head's graph is optimised
    differently and its logits move in the last bits."""
    element = arg.type.removeprefix("tensor(").removesuffix(")").upper()
    dims = [
        pb.TensorShapeProto.Dimension(dim_value=d)
        if isinstance(d, int)
        else pb.TensorShapeProto.Dimension(dim_param=d)
        if isinstance(d, str)
        else pb.TensorShapeProto.Dimension()
        for d in arg.shape
    ]
    tensor = pb.TypeProto.Tensor(
        elem_type=pb.TensorProto.DataType.Value(element), shape=pb.TensorShapeProto(dim=dims)
    )
    return pb.ValueInfoProto(name=arg.name, type=pb.TypeProto(tensor_type=tensor))


@dataclass(frozen=True)
class GraphCut:
    """Where a graph is cut: its recurrences in two halves, the other tensors the head needs."""

    model: pb.ModelProto
    first_outputs: tuple[str, ...]  # its recurrences' outputs, then the other tensors cut
    second_outputs: tuple[str, ...]
    head_takes_ids: bool  # a node after the recurrences reads the ids themselves

    @property
    def ids(self) -> pb.ValueInfoProto:
        return next(v for v in self.model.graph.input if v.name == INPUT_NAME)

    def part(self, inputs: list[pb.ValueInfoProto], outputs: Iterable[str]) -> bytes:
        """The serialized graph from `inputs` to `outputs`: the original nodes and weights
        (large ones stay references to the bundle's weight file); output types are left to
        ONNX Runtime, which infers them."""
        graph, outputs = self.model.graph, list(outputs)
        nodes = _ancestors(graph, outputs, {v.name for v in inputs})
        used = {name for node in nodes for name in node.input}
        part = pb.ModelProto()
        part.CopyFrom(self.model)
        part.ClearField("graph")
        part.graph.name = f"{graph.name} (part)"
        part.graph.node.extend(nodes)
        part.graph.initializer.extend(t for t in graph.initializer if t.name in used)
        part.graph.input.extend(inputs)
        part.graph.output.extend(pb.ValueInfoProto(name=name) for name in outputs)
        return part.SerializeToString()


def cut_graph(path: Path) -> GraphCut | None:
    """Where the graph at `path` is cut into two halves of its recurrences and a head, or None
    when it has fewer than two recurrences, they are not independent of each other, or the
    graph is of a shape this does not reason about (weights inside, nested graphs)."""
    if path.stat().st_size > MAX_GRAPH_BYTES:
        return None  # the weights live inside the graph file: each part would copy them
    model = pb.ModelProto()
    model.ParseFromString(path.read_bytes())
    graph = model.graph
    nested = any(a.type in SUBGRAPH_ATTRIBUTES for node in graph.node for a in node.attribute)
    if nested or graph.sparse_initializer or INPUT_NAME not in {v.name for v in graph.input}:
        return None
    recurrent = [node for node in graph.node if node.op_type in RECURRENT_OPS]
    consumed = {name for node in graph.node for name in node.input}
    if len(recurrent) < 2 or not _independent(graph, recurrent, consumed):
        return None
    first = [name for node in recurrent[0::2] for name in _used_outputs(node, consumed)]
    second = [name for node in recurrent[1::2] for name in _used_outputs(node, consumed)]
    reached, after = _downstream(graph, {*first, *second})
    constants = {init.name for init in graph.initializer}
    cut = sorted(
        {name for node in after for name in node.input} - reached - constants - {"", INPUT_NAME}
    )
    head_takes_ids = any(INPUT_NAME in node.input for node in after)
    return GraphCut(model, (*first, *cut), tuple(second), head_takes_ids)


class DirectionSplit:
    """The three parts' sessions and the thread that runs the second part."""

    def __init__(self, cut: GraphCut, sessions: list[ort.InferenceSession]) -> None:
        # the tensor names only: the parsed graph (~1 MB) is not kept once the parts are built
        self._first_outputs = list(cut.first_outputs)
        self._second_outputs = list(cut.second_outputs)
        self._head_takes_ids = cut.head_takes_ids
        self._first, self._second, self._head = sessions
        self._helper = ThreadPoolExecutor(1, thread_name_prefix="second-direction")
        weakref.finalize(self, self._helper.shutdown, wait=False)

    @classmethod
    def open(cls, path: Path, options: Callable[[], ort.SessionOptions]) -> DirectionSplit | None:
        """Sessions on the cut graph at `path` (CPU), or None when the graph cannot be cut."""
        cut = cut_graph(path)
        if cut is None:
            return None

        def session(part: bytes) -> ort.InferenceSession:
            part_options = options()
            part_options.add_session_config_entry(EXTERNAL_FOLDER, str(path.parent))
            return ort.InferenceSession(part, part_options, providers=[CPU_PROVIDER])

        first = session(cut.part([cut.ids], cut.first_outputs))
        second = session(cut.part([cut.ids], cut.second_outputs))
        head_inputs = [typed_input(out) for part in (first, second) for out in part.get_outputs()]
        head_inputs += [cut.ids] if cut.head_takes_ids else []
        head = session(cut.part(head_inputs, [OUTPUT_NAME]))
        return cls(cut, [first, second, head])

    def logits(self, ids: np.ndarray) -> np.ndarray:
        """int64 ids [B, T] -> float32 logits [B, C], the two directions on two threads."""
        feed = {INPUT_NAME: ids}
        second = self._helper.submit(self._second.run, self._second_outputs, feed)
        try:
            first = self._first.run(self._first_outputs, feed)
        finally:
            second_values = second.result()  # never leave the helper running past here
        head_feed = dict(zip(self._first_outputs, first, strict=True))
        head_feed.update(zip(self._second_outputs, second_values, strict=True))
        if self._head_takes_ids:
            head_feed[INPUT_NAME] = ids
        return self._head.run([OUTPUT_NAME], head_feed)[0]
