"""Per-request facts and stage timings: a leaf module that every other one may import.

The request middleware puts a `RequestContext` into the ASGI scope; routes add the model and the
stage timings, error handlers the error type, and the middleware reads them back for metrics and
the access log. Nothing here imports the rest of the app, so no import has to run upward.
"""

from __future__ import annotations

import random
import re
from collections.abc import MutableMapping
from dataclasses import dataclass
from typing import Any

CONTEXT_KEY = "sentiment.ctx"  # where the context lives in the ASGI scope
_VALID_ID = re.compile(r"[!-~]{1,128}")  # printable ASCII without spaces, at most 128 chars


def request_id_or_new(given: str | None) -> str:
    """The caller's request id (HTTP X-Request-ID, gRPC x-request-id) when sane, else a new one."""
    if given is not None and _VALID_ID.fullmatch(given):
        return given
    # not uuid4: os.urandom costs ~20 us a call here, and an id needs no cryptographic strength
    return f"{random.getrandbits(128):032x}"


@dataclass(slots=True)
class StageTimes:
    """Milliseconds per stage of one request, each counted once: tokenization wherever it ran
    (request or batch worker), queue (waiting for a batch worker), inference (ONNX Runtime)."""

    tokenization: float = 0.0
    queue: float = 0.0
    inference: float = 0.0

    def headers(self) -> dict[str, str]:
        return {
            "x-tokenization-time": f"{self.tokenization:.3f}",
            "x-queue-time": f"{self.queue:.3f}",
            "x-inference-time": f"{self.inference:.3f}",
        }

    def log_fields(self) -> dict[str, float]:
        return {
            "tokenization_ms": round(self.tokenization, 3),
            "queue_ms": round(self.queue, 3),
            "inference_ms": round(self.inference, 3),
        }


@dataclass(slots=True)
class RequestContext:
    """Per-request facts that routes and handlers add for the access log and metrics."""

    request_id: str
    error_type: str | None = None
    model: str | None = None
    times: StageTimes | None = None

    def log_fields(self) -> dict[str, Any]:
        """What the access log adds of this request, for HTTP and gRPC alike: the model, the
        error type and the stage timings, each only when known."""
        fields: dict[str, Any] = {}
        if self.model is not None:
            fields["model"] = self.model
        if self.error_type is not None:
            fields["error_type"] = self.error_type
        if self.times is not None:
            fields.update(self.times.log_fields())
        return fields


def context_of(scope: MutableMapping[str, Any]) -> RequestContext | None:
    """The request's context, or None outside the request middleware (e.g. in a unit test)."""
    return scope.get(CONTEXT_KEY)
