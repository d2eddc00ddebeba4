"""The client's retries against real answers: 429s from an API with tight per-key limits, 503s from one without its DB.

Nothing shared is stopped: the 429s come from an API started with its own key file, the 503s from
one started on a database URL where no server listens, the transport errors from a closed port.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.clusters import free_port
from tests.history_api.conftest import KEY, OTHER_KEY, ApiDatabase, LiveApi, start_live_api, stop_live_api
from vietmarket_client import ApiError, Client, RateLimited, ServiceUnavailable, TransportError

# A third key of the tight API: its /export limit is spent by one call.
EXPORT_KEY = "test-key-" + "e" * 24
RETRY_LOG = re.compile(r"retry (\d+)/(\d+) in ([0-9.]+) s \((Retry-After ([0-9.]+) s|backoff)\)")


@pytest.fixture(scope="module")
def tight_api(api_db: ApiDatabase, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveApi]:
    """The live API with 2 requests a second per key (key file), one export an hour, and a tiny export cap."""
    root = tmp_path_factory.mktemp("tight-api")
    keys = Path(root, "keys")
    keys.write_text(f"{KEY} 2/second\n{OTHER_KEY} 2/second\n{EXPORT_KEY}\n", encoding="utf-8")
    api = start_live_api(
        api_db.reader_dsn,
        str(root),
        HISTORY_API_KEYS_FILE=str(keys),
        HISTORY_API_EXPORT_RATE_LIMIT="1/hour",
        HISTORY_API_EXPORT_MAX_BARS="1000",
    )
    yield api
    stop_live_api(api)


def retries(caplog: pytest.LogCaptureFixture) -> list[re.Match[str]]:
    found = (RETRY_LOG.search(r.getMessage()) for r in caplog.records if r.name == "vietmarket_client")
    return [m for m in found if m is not None]


def test_a_429_waits_what_retry_after_says_then_succeeds(tight_api: LiveApi, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="vietmarket_client")
    with Client(tight_api.url, KEY, max_retries=5) as client:
        started = time.monotonic()
        frames = [client.history("VCB", "1d", "2026-02-09", "2026-02-14") for _ in range(5)]
        elapsed = time.monotonic() - started
    assert [len(f) for f in frames] == [5] * 5
    waits = retries(caplog)
    # Five calls at two a second: the limit was hit, and every wait was the server's Retry-After.
    assert waits and all(m.group(5) is not None for m in waits), [m.group(0) for m in waits]
    assert all(float(m.group(3)) == float(m.group(5)) >= 1 for m in waits)
    assert elapsed >= sum(float(m.group(3)) for m in waits)
    assert "GET /candles/bulk: 429 rate_limited; retry 1/5" in caplog.text


def test_no_retries_left_raises_rate_limited(tight_api: LiveApi, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="vietmarket_client")
    with Client(tight_api.url, OTHER_KEY, max_retries=0) as client, pytest.raises(RateLimited) as raised:
        for _ in range(10):  # the third call within a second is over 2/second
            client.history("VCB", "1d", "2026-02-09", "2026-02-14")
    error = raised.value
    assert (error.status, error.code, error.attempts) == (429, "rate_limited", 1)
    assert error.retry_after is not None and error.retry_after >= 1
    assert str(error).startswith("GET /candles/bulk: 429 rate_limited: limit 2 per 1 second")
    assert retries(caplog) == []


def test_a_retry_after_over_max_wait_is_capped(tight_api: LiveApi, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="vietmarket_client")
    with Client(tight_api.url, EXPORT_KEY, max_retries=2, max_wait=0.3) as client:
        client.export("1d", "2026-02-09", "2026-02-14", tickers="VCB")
        started = time.monotonic()
        with pytest.raises(RateLimited) as raised:
            client.export("1d", "2026-02-09", "2026-02-14", tickers="VCB")
        elapsed = time.monotonic() - started
    error = raised.value
    # The service never says less than 1 s, so a 0.3 s cap always applies.
    assert error.attempts == 3 and error.retry_after is not None and error.retry_after >= 1
    assert "HISTORY_API_EXPORT_RATE_LIMIT" in str(error) and "gave up after 3 attempts" in str(error)
    waits = retries(caplog)
    assert [float(m.group(3)) for m in waits] == [0.3, 0.3] and all(float(m.group(5)) >= 1 for m in waits)
    assert 0.6 <= elapsed < 5


def test_an_export_over_the_cap_is_an_api_error_naming_it(tight_api: LiveApi) -> None:
    with Client(tight_api.url, EXPORT_KEY) as client, pytest.raises(ApiError) as raised:
        client.export("1d", "2014-01-01", "2026-02-14")
    assert (raised.value.status, raised.value.code) == (413, "export_too_large")
    assert "HISTORY_API_EXPORT_MAX_BARS" in str(raised.value)


def test_503_db_unreachable_is_retried_then_raised(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="vietmarket_client")
    # A database URL where nothing listens: the service starts, and every data call is 503 db_unreachable.
    api = start_live_api(f"postgresql://nobody@127.0.0.1:{free_port()}/none", str(tmp_path))
    try:
        with Client(api.url, KEY, max_retries=2, max_wait=0.5) as client:
            started = time.monotonic()
            with pytest.raises(ServiceUnavailable) as raised:
                client.history("VCB", "1d", "2026-02-09", "2026-02-14")
            elapsed = time.monotonic() - started
    finally:
        stop_live_api(api)
    error = raised.value
    assert (error.status, error.code, error.attempts) == (503, "db_unreachable", 3)
    assert str(error).startswith("GET /candles/bulk: 503 db_unreachable: the database cannot be reached")
    waits = retries(caplog)
    # The service says Retry-After: 5; max_wait caps each wait at 0.5 s.
    assert [(float(m.group(3)), m.group(5)) for m in waits] == [(0.5, "5"), (0.5, "5")]
    assert "GET /candles/bulk: 503 db_unreachable; retry 2/2 in 0.50 s" in caplog.text and elapsed >= 1.0


def test_no_answer_backs_off_then_raises_transport_error(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="vietmarket_client")
    closed = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    with Client(closed, KEY, max_retries=3, max_wait=0.2) as client, pytest.raises(TransportError) as raised:
        client.history("VCB", "1d", "2026-02-09", "2026-02-14")
    assert raised.value.attempts == 4 and "ConnectError" in str(raised.value)
    waits = [float(m.group(3)) for m in retries(caplog)]
    # Equal jitter: step k waits between half and all of min(0.2, 0.5 * 2**k).
    assert len(waits) == 3 and all(0.1 <= w <= 0.2 for w in waits)
    assert all(m.group(4) == "backoff" for m in retries(caplog))
