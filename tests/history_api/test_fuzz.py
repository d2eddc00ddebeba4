"""Schemathesis against the live service's own /schema/openapi.json: no 5xx, no answer that breaks the schema."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.core.result import Err
from schemathesis.generation.overrides import Override

from tests.history_api.conftest import KEY, LiveApi

# schemathesis' pytest plugin does not yet run under pytest 9, so the operations are driven
# through its Python API: one Hypothesis run per operation, every failure reported together.


STREAM = "/stream/latest"
NEW_OPERATIONS = ("/udf/marks", STREAM)
# An event stream's blank line, in any of the three line endings it may use (Litestar sends CRLF).
BLOCK_END = re.compile(rb"\r\n\r\n|\n\n|\r\r")


Operation = schemathesis.APIOperation[Any, Any, Any, Any]
Case = schemathesis.Case[Any]


def operations(live_api: LiveApi) -> list[Operation]:
    schema = schemathesis.openapi.from_url(live_api.url + "/schema/openapi.json")
    found = []
    for result in schema.get_all_operations():
        if isinstance(result, Err):
            raise result.err()
        found.append(result.ok())
    return found


def call(case: Case, base_url: str, **kwargs: Any) -> schemathesis.Response:
    """/stream/latest's 200 never ends, and schemathesis would read it until its read timeout: the
    stream is read up to its first block instead (the `: connected` comment, sent at once) and checked
    like any answer; no operation is excluded."""
    if case.path != STREAM:
        return case.call(base_url=base_url, **kwargs)
    with requests.Session() as session:
        request = case.as_transport_kwargs(base_url=base_url, headers=kwargs.get("headers"))
        with session.request(**request, stream=True, timeout=(5, 10)) as response:
            if "text/event-stream" in response.headers.get("Content-Type", ""):
                content = bytearray()
                while not BLOCK_END.search(content) and (chunk := response.raw.read1(65536)):
                    content += chunk
            else:
                content = bytearray(response.content)
            return schemathesis.Response(
                status_code=response.status_code,
                headers={name: response.raw.headers.getlist(name) for name in response.raw.headers},
                content=bytes(content),
                request=response.request,
                elapsed=response.elapsed.total_seconds(),
                verify=True,
                message=response.reason,
                encoding=response.encoding,
                # As case.call records it: the key is ours, not generated, so the auth checks expect a 200.
                _override=Override.from_send_kwargs(kwargs),
            )


def fuzz(live_api: LiveApi, examples: int, check: Callable[[Case], None], only: tuple[str, ...] = ()) -> list[str]:
    """Every failure of `check` over each operation (of `only` those, when given)."""
    failures: list[str] = []
    for operation in operations(live_api):
        if only and operation.path not in only:
            continue

        @given(case=operation.as_strategy())
        @settings(max_examples=examples, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def run(case: Case) -> None:
            check(case)

        try:
            run()
        except Exception as exc:  # collect them all, then fail once with every message
            failures.append(f"{operation.label}: {exc}")
    return failures


def test_every_operation_honours_its_schema(live_api: LiveApi) -> None:
    def check(case: Case) -> None:
        # Every default check: no server error, documented status codes, content types and bodies.
        # A news cursor is opaque: a string the schema allows may still not be one the API issued.
        excluded = [schemathesis.checks.positive_data_acceptance] if case.path.startswith("/news/") else []
        response = call(case, live_api.url, headers={"X-API-Key": KEY})
        case.validate_response(response, excluded_checks=excluded)

    failures = fuzz(live_api, 40, check)
    assert not failures, "\n\n".join(failures)


def test_the_marks_and_the_stream_take_a_thousand_cases_without_a_server_error(live_api: LiveApi) -> None:
    calls: dict[str, int] = dict.fromkeys(NEW_OPERATIONS, 0)

    def check(case: Case) -> None:
        calls[case.path] += 1
        response = call(case, live_api.url, headers={"X-API-Key": KEY})
        case.validate_response(response)
        if response.status_code == 200 and case.path == STREAM:
            assert response.text.startswith(": connected"), response.text

    failures = fuzz(live_api, 500, check, only=NEW_OPERATIONS)
    assert not failures, "\n\n".join(failures)
    assert sum(calls.values()) >= 1000 and all(n >= 400 for n in calls.values()), calls


def test_without_a_key_nothing_leaks_and_nothing_breaks(live_api: LiveApi) -> None:
    def check(case: Case) -> None:
        response = call(case, live_api.url)
        assert response.status_code < 500, response.text
        if case.path not in ("/healthz", "/chart"):
            assert response.status_code == 401, (case.path, response.status_code, response.text)

    failures = fuzz(live_api, 10, check)
    assert not failures, "\n\n".join(failures)


BULK_PATHS = ("/candles/bulk", "/export")


def test_bulk_endpoints_take_a_thousand_cases_without_a_server_error(live_api: LiveApi) -> None:
    seen: dict[str, int] = dict.fromkeys(BULK_PATHS, 0)

    def check(case: Case) -> None:
        seen[case.path] += 1
        response = case.call(base_url=live_api.url, headers={"X-API-Key": KEY})
        assert response.status_code < 500, (case.path, case.query, response.status_code, response.text[:300])
        case.validate_response(response)

    failures = fuzz(live_api, 500, check, BULK_PATHS)
    assert not failures, "\n\n".join(failures)
    assert min(seen.values()) >= 500, seen


# The routes the old server's clients call that this service gained with the compatibility and
# adjustment work: together at least a thousand cases, every one checked against the schema.
COMPAT_PATHS = ("/top-movers", "/corporate-actions/latest", "/corporate-actions/by-ticker", "/udf/timescale_marks")


def test_the_compatibility_routes_take_a_thousand_cases_without_a_server_error(live_api: LiveApi) -> None:
    seen: dict[str, int] = dict.fromkeys(COMPAT_PATHS, 0)

    def check(case: Case) -> None:
        seen[case.path] += 1
        response = case.call(base_url=live_api.url, headers={"X-API-Key": KEY})
        assert response.status_code < 500, (case.path, case.query, response.status_code, response.text[:300])
        # A corporate-actions cursor is opaque, as a news cursor is.
        excluded = [schemathesis.checks.positive_data_acceptance] if case.path.startswith("/corporate-") else []
        case.validate_response(response, excluded_checks=excluded)

    failures = fuzz(live_api, 260, check, COMPAT_PATHS)
    assert not failures, "\n\n".join(failures)
    assert sum(seen.values()) >= 1000 and min(seen.values()) >= 250, seen
