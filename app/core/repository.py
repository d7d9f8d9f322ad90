"""The model repository extension (Triton / KServe v2): list, load and unload bundles while
serving, without downtime.

Load reads the bundle from the model directory, verifies every sha256, opens and warms it in a
thread (the event loop keeps serving), starts its batcher, and only then swaps it into the
registry: the registry is an immutable snapshot replaced in one assignment, so a request sees
either the old version or the new one, never a half-loaded model. A bundle that fails any step
is refused with a 400 naming the problem, and the old version keeps serving. The replaced worker
is retired once the requests that hold it have left `classify` (they finish on the old
version), then its batcher drains and stops. One load or unload runs at a time.

With several server processes (`SENTIMENT_PROCESSES`), `replicate` repeats a load or unload that
succeeded here in every other process before the call is answered (app/ops/peers.py), so every
process serves the same versions; a process that fails it turns the answer into a 503 naming it.
"""

from __future__ import annotations

import asyncio
import ctypes
import dataclasses
import gc
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from app.core.errors import BundleRejected, Conflict, ModelNotFound
from app.core.registry import ModelRegistry, bundle_names, load_model
from app.core.service import Service
from app.core.worker import ModelWorker
from model import BundleError, read_manifest

log = logging.getLogger(__name__)
RETIRE_POLL_S = 0.01
# ("load" or "unload", model name) -> done in every other process, or raises
Replicate = Callable[[str, str], Awaitable[None]]


class Repository:
    def __init__(self, service: Service) -> None:
        self.service = service
        self._lock = asyncio.Lock()
        self._retiring: set[asyncio.Task[None]] = set()
        self.replicate: Replicate | None = None

    def index(self, ready_only: bool = False) -> list[dict[str, Any]]:
        """Every bundle in the model directory: name, version, state (READY or UNAVAILABLE)."""
        loaded = self.service.loaded().models
        entries = []
        for name, folder in sorted(bundle_names(self.service.settings.model_dir).items()):
            worker = loaded.get(name)
            if worker is not None:
                entry = {"name": name, "version": _version(worker), "state": "READY"}
            else:
                entry = {"name": name, **_unloaded(folder)}
            if not ready_only or entry["state"] == "READY":
                entries.append(entry)
        return entries

    async def load(self, name: str, everywhere: bool = True) -> ModelWorker:
        """Load `name` here and, when `everywhere`, in every other server process."""
        worker = await self._load_here(name)
        if everywhere and self.replicate is not None:
            await self.replicate("load", name)
        return worker

    async def unload(self, name: str, everywhere: bool = True) -> None:
        """Unload `name` here and, when `everywhere`, in every other server process."""
        await self._unload_here(name)
        if everywhere and self.replicate is not None:
            await self.replicate("unload", name)

    async def _load_here(self, name: str) -> ModelWorker:
        async with self._lock:
            registry = self.service.loaded()
            folder = bundle_names(self.service.settings.model_dir).get(name)
            if folder is None:
                raise ModelNotFound(f"no bundle named {name!r} in the model directory")
            worker = await asyncio.to_thread(_open, folder, self.service)
            worker.start()
            old = registry.models.get(name)
            models = {**registry.models, name: worker}
            self._swap(dataclasses.replace(registry, models=models))
            log.info("model loaded", extra={"model": name, "version": _version(worker)})
            if old is not None:
                self._retire(old)
            self.service.metrics.model_serving(worker.info_labels)
            return worker

    async def _unload_here(self, name: str) -> None:
        async with self._lock:
            registry = self.service.loaded()
            old = registry.models.get(name)
            if old is None:
                raise ModelNotFound(
                    f"model {name!r} is not loaded; loaded: {sorted(registry.models)}"
                )
            if name == registry.default:
                raise Conflict(
                    f"model {name!r} is the default model; load another version instead of "
                    "unloading it, or restart with another SENTIMENT_DEFAULT_MODEL"
                )
            models = {k: v for k, v in registry.models.items() if k != name}
            self._swap(dataclasses.replace(registry, models=models))
            log.info("model unloaded", extra={"model": name})
            self._retire(old)

    def _serving_labels(self, name: str) -> tuple[str, str, str, str] | None:
        serving = self.service.loaded().models.get(name)
        return None if serving is None else serving.info_labels

    def _swap(self, registry: ModelRegistry) -> None:
        self.service.registry = registry

    def _retire(self, worker: ModelWorker) -> None:
        if worker.info_labels != self._serving_labels(worker.name):
            self.service.metrics.model_retired(worker.info_labels)
        task = asyncio.get_running_loop().create_task(self._stop_when_idle(worker))
        self._retiring.add(task)
        task.add_done_callback(self._retiring.discard)

    async def _stop_when_idle(self, worker: ModelWorker) -> None:
        """Requests that took the old worker before the swap finish on it; then it stops."""
        deadline = asyncio.get_running_loop().time() + self.service.settings.graceful_timeout_s
        await asyncio.sleep(RETIRE_POLL_S)  # a request between lookup and classify gets in
        while worker.in_flight and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(RETIRE_POLL_S)
        await worker.stop(self.service.settings.graceful_timeout_s)
        # the startup models were frozen out of the collector's sight (settle_garbage_collector):
        # give them back, so that a retired worker's reference cycles can be freed
        gc.unfreeze()
        del worker
        release_freed_memory()

    async def wait_retired(self) -> None:
        """For shutdown and tests: every replaced worker has stopped."""
        if self._retiring:
            await asyncio.gather(*self._retiring)


def release_freed_memory() -> None:
    """Free a retired version now, not at some later full garbage collection: a worker sits in
    reference cycles (its batcher's tasks and callbacks), so reference counting alone never
    frees it, and the collector's oldest generation runs rarely in a steady server. Without
    this every load of a new English version left ~40 MB of sessions resident (10 loads: 202
    -> 470 MB). Then glibc gives the freed pages back (a no-op on other C libraries)."""
    gc.collect()
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return
    trim = getattr(libc, "malloc_trim", None)
    if trim is not None:
        trim(0)


def _open(folder: Any, service: Service) -> ModelWorker:
    try:
        return load_model(folder, service.load_plan())
    except BundleError as exc:
        raise BundleRejected(f"{exc}; the version already loaded keeps serving") from exc
    except Exception as exc:  # warm-up or session errors: refuse, keep the old version
        raise BundleRejected(
            f"{folder.name}: could not open or warm up the bundle ({exc}); "
            "the version already loaded keeps serving"
        ) from exc


def _unloaded(folder: Any) -> dict[str, str]:
    try:
        version = read_manifest(folder).version
    except BundleError as exc:
        return {"version": "", "state": "UNAVAILABLE", "reason": str(exc)}
    return {"version": version, "state": "UNAVAILABLE", "reason": "not loaded"}


def _version(worker: ModelWorker) -> str:
    return worker.bundle.manifest.version
