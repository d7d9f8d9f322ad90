"""One Prometheus page for several server processes: each process's series, labelled with
`process="<index>"`, under one HELP/TYPE header per metric.

Series are labelled rather than summed: counters and histograms could be added up, but the
drift gauges (a divergence from the baseline) and readiness cannot, and Prometheus users add
processes up with `sum by (...)` as they already do across pods.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.metrics_core import Metric
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.registry import Collector
from prometheus_client.samples import Sample

PROCESS_LABEL = "process"


class _Families(Collector):
    def __init__(self, families: list[Metric]) -> None:
        self._families = families

    def collect(self) -> Iterator[Metric]:
        yield from self._families


def labelled_families(pages: Sequence[tuple[int, bytes]]) -> list[Metric]:
    """Every family of every page, in first-seen order, each sample with its process label."""
    merged: dict[str, Metric] = {}
    for index, page in pages:
        for family in text_string_to_metric_families(page.decode("utf-8")):
            target = merged.get(family.name)
            if target is None:
                target = merged[family.name] = Metric(
                    family.name, family.documentation, family.type, family.unit
                )
            target.samples += [
                Sample(s.name, {**s.labels, PROCESS_LABEL: str(index)}, s.value, s.timestamp)
                for s in family.samples
            ]
    return list(merged.values())


def merge_pages(pages: Sequence[tuple[int, bytes]]) -> bytes:
    """The Prometheus text of `pages` ((process index, its own /metrics page) pairs) as one."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Families(labelled_families(pages)))
    return generate_latest(registry)
