"""How many requests each server process is scoring, in memory the processes share.

One text may take a second CPU for its other LSTM direction only when nothing else is running
(`app.core.session.RunGauge`). Within a process the gauge counts its own requests; with
`SENTIMENT_PROCESSES` > 1 the other processes' runs use the same CPUs, so each process also
writes its count to its own slot of an anonymous shared file that the supervisor creates and
every child inherits, and reads the others' slots. Without this, two processes at 4 callers
served 10% fewer reviews per second than before the cut (each took the second CPU from the
other; docs/benchmarks.md). One writer per slot, so no lock: a slot read while it is written
is an aligned 8-byte value, old or new, and either is a fair answer to "is anyone busy?".
"""

from __future__ import annotations

import mmap
import os
import struct
from collections.abc import Mapping

from app.ops.peers import Peers

RUNS_FD_ENV = "_SENTIMENT_RUNS_FD"  # the inherited shared file of a child
SLOT = struct.Struct("q")


def create_run_slots(count: int) -> int:
    """The supervisor's side: an anonymous shared file of `count` zeroed slots (its fd)."""
    fd = os.memfd_create("sentiment-runs")
    os.ftruncate(fd, SLOT.size * count)
    os.set_inheritable(fd, True)
    return fd


class SharedRunCounts:
    """This process's slot, written on every change of its request count, and the others'."""

    def __init__(self, fd: int, index: int, count: int) -> None:
        self._slots = mmap.mmap(fd, SLOT.size * count)
        self._index = index
        self._others = [i * SLOT.size for i in range(count) if i != index]

    @classmethod
    def from_env(
        cls, peers: Peers | None, env: Mapping[str, str] = os.environ
    ) -> SharedRunCounts | None:
        """The shared slots when the supervisor started this process with them, else None."""
        fd = env.get(RUNS_FD_ENV)
        if peers is None or fd is None:
            return None
        return cls(int(fd), peers.index, peers.count)

    def publish(self, requests: int) -> None:
        SLOT.pack_into(self._slots, self._index * SLOT.size, requests)

    def others_busy(self) -> bool:
        return any(SLOT.unpack_from(self._slots, offset)[0] for offset in self._others)
