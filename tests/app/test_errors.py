"""The one exception table."""

from __future__ import annotations

import orjson
import pytest

from app.core import errors
from app.http import error_handlers

pytestmark = pytest.mark.unit  # no torch, no ../shared/data


@pytest.mark.parametrize(
    ("exc", "status", "kind"),
    [
        (errors.InvalidInput("x"), 422, "invalid_input"),
        (errors.PayloadTooLarge("x"), 413, "payload_too_large"),
        (errors.ModelNotFound("x"), 404, "model_not_found"),
        (errors.Unauthorized("x"), 401, "unauthorized"),
        (errors.QueueFull("x"), 429, "queue_full"),
        (errors.NotReady("x"), 503, "not_ready"),
        (errors.Draining("x"), 503, "draining"),
        (errors.DeadlineExceeded("x"), 504, "timeout"),
        (KeyError("secret"), 500, "internal"),
    ],
)
def test_table(exc: Exception, status: int, kind: str) -> None:
    assert errors.status_and_type(exc) == (status, kind)


def test_unexpected_errors_never_leak_their_message() -> None:
    response = error_handlers.error_response(KeyError("secret path /etc"))
    body = orjson.loads(response.body)
    assert response.status_code == 500 and "secret" not in body["error"]
    assert set(body) == {"error", "type"}


def test_headers_travel_with_the_error() -> None:
    response = error_handlers.error_response(errors.QueueFull("full", headers={"Retry-After": "1"}))
    assert response.headers["retry-after"] == "1"
