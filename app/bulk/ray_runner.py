"""Scoring on a Ray cluster through Ray Data: read -> map_batches(actor pool) -> ordered results.

The plan (one Dataset over the whole input, streamed):
1. one read task, pinned to the driver's node, runs app.bulk.formats over the input and yields
   chunks as Arrow blocks: each row's text, and the whole row pickled (so every column, of any
   type, comes back exactly as read; the same checks and row-naming errors as a local run);
2. `map_batches` over an actor pool: each actor loads the bundle once (app.bulk.scorer, as the
   service does) and scores batches of `--chunk-rows` texts; actors spread over the cluster;
3. the driver iterates the results in input order (`preserve_order`) and writes the output with
   the same writers as a local run, so the output file is the same and `--resume` works alike.

Ray Data's streaming executor bounds the blocks in flight, so memory stays bounded. The driver
reads and writes; the actors do the scoring, which is where the time goes (~1 ms per review).
"""

from __future__ import annotations

import json
import os
import pickle
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from app.bulk.formats import InputError, Source
from app.bulk.scorer import Result, ScorerConfig, describe_model, load_scorer

if TYPE_CHECKING:
    from app.bulk.job import Options, Scored


def connect(address: str) -> None:
    """Join the cluster at `address` (`auto`: the one this node belongs to); `local` starts a
    private one on this machine. A runtime already started in this process is used as it is."""
    import ray

    if ray.is_initialized():
        return
    if address == "local":
        start_local()
    else:
        ray.init(address=address, log_to_driver=False)


def start_local(num_cpus: int | None = None, attempts: int = 3) -> None:
    """A private Ray runtime on this machine. Ray gives its raylet 30 s to register, which a
    machine under heavy load can miss; starting again usually succeeds (files are cached)."""
    import ray

    for attempt in range(1, attempts + 1):
        try:
            ray.init(num_cpus=num_cpus, include_dashboard=False, log_to_driver=False)
            return
        except Exception:  # Ray raises a bare Exception when its node does not come up
            ray.shutdown()
            if attempt == attempts:
                raise


def read_blocks(_: Any, path: str, text_column: str, chunk_rows: int, skip: int) -> Iterator[Any]:
    """The read task: the input as Arrow blocks of `record` (pickled row) and `text`."""
    import pyarrow as pa

    for chunk in Source(Path(path), text_column, chunk_rows).chunks(skip):
        records = [pickle.dumps(r, protocol=pickle.HIGHEST_PROTOCOL) for r in chunk.records]
        yield pa.table({"record": pa.array(records, pa.binary()), "text": chunk.texts})


class ScoreActor:
    """One per actor process: the bundle is loaded once, in the constructor."""

    def __init__(self, config: ScorerConfig, cpus: int) -> None:
        os.environ.setdefault("RAYON_RS_NUM_CPUS", str(cpus))  # the tokenizer's thread pool
        self.scorer = load_scorer(config)

    def __call__(self, batch: Any) -> Any:
        import pyarrow as pa

        results = self.scorer.score(batch.column("text").to_pylist())
        return pa.table(
            {
                "record": batch.column("record"),
                "label": [r.label for r in results],
                "probabilities": [list(r.probabilities.values()) for r in results],
                "path": [r.path for r in results],
                # --sentences: /predict's `sentences` and `aggregate` as JSON; else null
                "analysis": [
                    None if r.analysis is None else json.dumps(r.analysis) for r in results
                ],
            }
        )


def actor_count(options: Options) -> int:
    import ray

    if options.ray_actors:
        return options.ray_actors
    cpus = int(ray.cluster_resources().get("CPU", 1))
    return max(1, cpus // options.ray_cpus_per_actor)


def dataset(options: Options, source: Source, skip: int) -> Any:
    import ray
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    ray.data.DataContext.get_current().execution_options.preserve_order = True
    here = NodeAffinitySchedulingStrategy(ray.get_runtime_context().get_node_id(), soft=False)
    cpus = options.ray_cpus_per_actor
    config = ScorerConfig(
        **{**vars_of(options.scorer), "intra_op_threads": cpus, "batch_workers": 1}
    )
    read = ray.data.from_items([{"input": 0}]).map_batches(
        read_blocks,
        fn_kwargs={
            "path": str(source.path.resolve()),
            "text_column": source.text_column,
            "chunk_rows": source.chunk_rows,
            "skip": skip,
        },
        batch_size=1,
        batch_format="pyarrow",
        num_cpus=0,  # parsing is light; every CPU is left to the actors
        ray_remote_args_fn=lambda: {"scheduling_strategy": here},
    )
    return read.map_batches(
        ScoreActor,
        fn_constructor_kwargs={"config": config, "cpus": cpus},
        compute=ray.data.ActorPoolStrategy(size=actor_count(options)),
        num_cpus=cpus,
        batch_size=source.chunk_rows,
        batch_format="pyarrow",
    )


def vars_of(config: ScorerConfig) -> dict[str, Any]:
    return {name: getattr(config, name) for name in config.__dataclass_fields__}


def ray_results(options: Options, source: Source, skip: int) -> Iterator[Scored]:
    assert options.ray is not None
    connect(options.ray)
    labels = describe_model(options.scorer).labels
    batches = dataset(options, source, skip).iter_batches(batch_format="pyarrow", batch_size=None)
    try:
        for batch in batches:
            records = [pickle.loads(b) for b in batch.column("record").to_pylist()]
            yield records, results_of(batch, labels)
    except Exception as exc:
        cause = input_error_in(exc)
        if cause is None:
            raise
        raise cause from None


def results_of(batch: Any, labels: list[str]) -> list[Result]:
    chosen = batch.column("label").to_pylist()
    probs = batch.column("probabilities").to_pylist()
    paths = batch.column("path").to_pylist()
    analyses = [None if a is None else json.loads(a) for a in batch.column("analysis").to_pylist()]
    return [
        Result(label, dict(zip(labels, p, strict=True)), path, analysis=analysis)
        for label, p, path, analysis in zip(chosen, probs, paths, analyses, strict=True)
    ]


def input_error_in(exc: BaseException) -> InputError | None:
    """The InputError a Ray task raised, found through Ray's wrapping exceptions."""
    seen: set[int] = set()
    stack: list[BaseException | None] = [exc]
    while stack:
        item = stack.pop()
        if item is None or id(item) in seen:
            continue
        seen.add(id(item))
        if isinstance(item, InputError):
            return InputError(input_message(item))
        stack += [item.__cause__, item.__context__, getattr(item, "cause", None)]
    return None


def input_message(exc: InputError) -> str:
    """The original message, without the traceback text Ray folds into it."""
    text = exc.args[0] if exc.args else str(exc)
    return str(text).strip().splitlines()[-1] if "Traceback" in str(text) else str(text)
