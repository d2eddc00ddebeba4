"""Retries, Retry-After, timeouts and rate limiting of the provider client, over real HTTP."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from vietmarket_pipelines.providers.http import (
    HttpPolicy,
    ProviderClient,
    ProviderUnavailable,
    parse_retry_after,
)
from vietmarket_pipelines.simulator.server import start_in_thread


def policy(**overrides: float) -> HttpPolicy:
    base = {"requests": 100, "per_seconds": 1.0, "timeout_s": 0.5, "connect_timeout_s": 0.5, "max_attempts": 4,
            "backoff_initial_s": 0.01, "backoff_max_s": 0.05}  # fmt: skip
    return HttpPolicy(**{**base, **overrides})  # type: ignore[arg-type]


def sequence(*responses: Response) -> object:
    answers = list(responses)

    def handler(request: Request) -> Response:
        return answers.pop(0) if len(answers) > 1 else answers[0]

    return handler


def test_429_is_retried_after_the_time_retry_after_asks(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/x").respond_with_handler(
        sequence(Response("slow down", 429, headers={"Retry-After": "1"}), Response('{"ok": 1}', 200))  # type: ignore[arg-type]
    )
    with ProviderClient("vci", httpserver.url_for(""), policy=policy()) as client:
        started = time.monotonic()
        assert client.request_json("GET", "/x", what="test") == {"ok": 1}
        assert time.monotonic() - started >= 1.0
    assert len(httpserver.log) == 2


def test_5xx_is_retried_with_backoff_then_succeeds(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/x").respond_with_handler(
        sequence(Response("boom", 502), Response("boom", 503), Response("[1]", 200))  # type: ignore[arg-type]
    )
    with ProviderClient("ssi", httpserver.url_for(""), policy=policy()) as client:
        assert client.request_json("GET", "/x", what="test") == [1]
    assert len(httpserver.log) == 3


def test_vci_rate_limit_message_counts_as_a_429(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/x").respond_with_handler(
        sequence(Response('{"message": "GIỚI HẠN API"}', 200), Response("[2]", 200))  # type: ignore[arg-type]
    )
    with ProviderClient("vci", httpserver.url_for(""), policy=policy()) as client:
        assert client.request_json("GET", "/x", what="test") == [2]


def test_a_provider_that_keeps_failing_gives_a_clear_error(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/x").respond_with_data("down", status=503)
    with (
        ProviderClient("vndirect", httpserver.url_for(""), policy=policy()) as client,
        pytest.raises(
            ProviderUnavailable, match=r"vndirect history FPT 1d: gave up after 4 attempts, last answer HTTP 503"
        ),
    ):
        client.request_json("GET", "/x", what="history FPT 1d")
    assert len(httpserver.log) == 4


def test_timeouts_are_retried_then_reported(httpserver: HTTPServer) -> None:
    def stall(request: Request) -> Response:
        time.sleep(1.0)
        return Response("[]", 200)

    httpserver.expect_request("/x").respond_with_handler(stall)
    with (
        ProviderClient("vci", httpserver.url_for(""), policy=policy(max_attempts=2, timeout_s=0.2)) as client,
        pytest.raises(ProviderUnavailable, match="last one timed out"),
    ):
        client.request_json("GET", "/x", what="test")


def test_the_client_side_rate_limiter_spaces_requests(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/x").respond_with_data("[]")
    with ProviderClient("vci", httpserver.url_for(""), policy=policy(requests=2, per_seconds=0.5)) as client:
        started = time.monotonic()
        for _ in range(6):
            client.request_json("GET", "/x", what="test")
        elapsed = time.monotonic() - started
    # 6 requests at 2 per 0.5 s need at least two full windows.
    assert elapsed >= 1.0


def test_connections_are_reused() -> None:
    # The simulator speaks HTTP/1.1 with keep-alive, as the real hosts do.
    server = start_in_thread()
    try:
        with ProviderClient("vci", server.url, policy=policy()) as client:
            for _ in range(5):
                client.request_json("GET", "/_sim/health", what="test")
            pool = client._client._transport._pool  # type: ignore[attr-defined]
            assert len(pool.connections) == 1
    finally:
        server.shutdown()


def test_retry_after_accepts_seconds_and_http_dates() -> None:
    now = datetime(2026, 2, 13, 8, 0, tzinfo=UTC)
    assert parse_retry_after("7") == 7.0
    assert parse_retry_after((now + timedelta(seconds=30)).strftime("%a, %d %b %Y %H:%M:%S GMT"), now) == 30.0
    assert parse_retry_after("soon") is None
