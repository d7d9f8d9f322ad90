"""The domain errors, and the one table from each to a status code and an error type.

Every error the service answers on purpose is a `ServiceError` whose message says what to fix.
`app.http.error_handlers` answers any exception with the one body shape
`{"error": "<what to fix>", "type": "<kind>"}`; the gRPC service (`app.v2.grpc_service`) maps
the same statuses to gRPC codes. Nothing here knows a web framework.
"""

from __future__ import annotations

from collections.abc import Mapping


class ServiceError(Exception):
    """Base of every error the service answers on purpose; the message says what to fix."""

    def __init__(self, message: str, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.headers = dict(headers or {})


class InvalidInput(ServiceError):
    """The request is malformed: wrong types, empty text, too many texts, unknown fields."""


class MalformedBody(InvalidInput):
    """The body's framing is broken: binary tensor sizes or length prefixes that do not add up."""


class PayloadTooLarge(ServiceError):
    """The body, a text or its tokens exceed a limit."""


class ModelNotFound(ServiceError):
    """The request names a model that is not loaded."""


class BundleRejected(ServiceError):
    """A bundle asked to load failed verification or warm-up; the old version keeps serving."""


class Conflict(ServiceError):
    """The request is well formed but the server's current state refuses it (unload the default)."""


class NotFound(ServiceError):
    """No route at this path."""


class MethodNotAllowed(ServiceError):
    """The route exists but not for this HTTP method."""


class Unauthorized(ServiceError):
    """The API key is missing or wrong."""


class Forbidden(ServiceError):
    """The route exists but is switched off on this server (model control without
    SENTIMENT_MODEL_CONTROL=true); no key changes that."""


class QueueFull(ServiceError):
    """The model's queue is full; retry after a moment."""


class NotReady(ServiceError):
    """Models are still loading, failed to load, or the service is draining."""


class Draining(NotReady):
    """The service is shutting down and takes no new work."""


class ProcessesDiffer(ServiceError):
    """Another server process could not repeat a model load or unload, or could not be asked."""


class DeadlineExceeded(ServiceError):
    """The request's deadline passed before its answer was ready."""


class ClientGone(ServiceError):
    """The client closed the connection before its answer was ready: nobody reads the answer,
    and it is the client's doing, so it must not count as a server error (5xx) in the metrics
    and alerts. 499 is the status proxies (nginx) record for it."""


# The one table: exception class -> (HTTP status, error type). Lookup walks the class's MRO, so
# subclasses may specialise the type while keeping the status.
ERROR_TABLE: dict[type[Exception], tuple[int, str]] = {
    MalformedBody: (400, "malformed_body"),
    BundleRejected: (400, "bundle_rejected"),
    InvalidInput: (422, "invalid_input"),
    PayloadTooLarge: (413, "payload_too_large"),
    ModelNotFound: (404, "model_not_found"),
    NotFound: (404, "not_found"),
    MethodNotAllowed: (405, "method_not_allowed"),
    Conflict: (409, "conflict"),
    Unauthorized: (401, "unauthorized"),
    Forbidden: (403, "forbidden"),
    QueueFull: (429, "queue_full"),
    Draining: (503, "draining"),
    ProcessesDiffer: (503, "processes_differ"),
    NotReady: (503, "not_ready"),
    DeadlineExceeded: (504, "timeout"),
    ClientGone: (499, "client_closed_request"),
    ServiceError: (500, "internal"),
    Exception: (500, "internal"),
}
INTERNAL_MESSAGE = "internal server error; the server log has details under this request id"


def status_and_type(exc: BaseException) -> tuple[int, str]:
    for cls in type(exc).__mro__:
        if cls in ERROR_TABLE:
            return ERROR_TABLE[cls]
    return ERROR_TABLE[Exception]
