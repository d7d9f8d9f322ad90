"""Schemathesis against the service's own OpenAPI document: no 5xx, every answer as declared.

Hypothesis drives each operation's strategy directly (schemathesis' pytest plugin does not run
under pytest 9), a bounded number of examples per route.
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]
EXAMPLES = 40


def operations(url: str) -> list:
    schema = schemathesis.openapi.from_url(f"{url}/openapi.json")
    return [result.ok() for result in schema.get_all_operations()]


def test_every_route_answers_as_its_schema_says(live_url: str) -> None:
    failures = []
    for operation in operations(live_url):

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            database=None,
        )
        def check(case: schemathesis.Case) -> None:
            case.call_and_validate(base_url=live_url)

        try:
            check()
        except Exception as error:  # collect every route's failure, not just the first
            failures.append(f"{operation.label}: {error}")
    assert not failures, "\n\n".join(failures)
