"""GET /stream/latest on the real server: a written bar arrives live, heartbeats, replay by Last-Event-ID, bounds."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from typing import Any

import httpx
import psycopg2
import pytest

from tests.history_api.conftest import KEY, LAST_DAY, OTHER_KEY, ApiDatabase, LiveApi, start_live_api, stop_live_api
from vietmarket_core.market import daily_bar_ts

NEW_DAY = date(2026, 3, 2)  # after the seeded history: written here, deleted after each test
MAX_STREAMS = 2


@pytest.fixture(scope="module")
def stream_api(api_db: ApiDatabase, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveApi]:
    api = start_live_api(
        api_db.reader_dsn,
        str(tmp_path_factory.mktemp("stream")),
        HISTORY_API_STREAM_HEARTBEAT_S="1",
        HISTORY_API_STREAM_MAX_PER_KEY=str(MAX_STREAMS),
    )
    yield api
    stop_live_api(api)


@pytest.fixture
def written(api_db: ApiDatabase) -> Iterator[list[tuple[str, int]]]:
    """The bars a test writes after the seeded history; deleted again, so candles_latest steps back."""
    rows: list[tuple[str, int]] = []
    yield rows
    conn = psycopg2.connect(api_db.admin_dsn)
    with conn, conn.cursor() as cur:
        for ticker, ts in rows:
            cur.execute("DELETE FROM candles_1d WHERE ticker = %s AND ts = %s", (ticker, ts))
    conn.close()


def write_bar(api_db: ApiDatabase, rows: list[tuple[str, int]], ticker: str, day: date, close: float) -> int:
    ts = daily_bar_ts(day)
    conn = psycopg2.connect(api_db.admin_dsn)
    with conn, conn.cursor() as cur:
        cur.execute(
            "INSERT INTO candles_1d (ticker, tf, ts, o, h, l, c, v, source) VALUES (%s, '1d', %s, %s, %s, %s, %s, "
            "%s, 'vci') ON CONFLICT (ticker, tf, ts) DO UPDATE SET c = excluded.c",
            (ticker, ts, close, close + 1, close - 1, close, 1234.0),
        )
    conn.close()
    rows.append((ticker, ts))
    return ts


class Events:
    """The stream's events as dicts (event, id, data, or comment), each with the time it was read."""

    def __init__(self, response: httpx.Response) -> None:
        self.response = response
        self._lines = response.iter_lines()

    def next(self) -> dict[str, Any]:
        event: dict[str, Any] = {}
        for line in self._lines:
            if line == "":
                if event:
                    event["at"] = time.monotonic()
                    return event
                continue
            name, _, value = line.partition(":")
            event["comment" if name == "" else name] = value.removeprefix(" ")
        raise AssertionError("the stream ended")

    def next_bar(self) -> dict[str, Any]:
        while "data" not in (event := self.next()):
            pass
        return {**event, "bar": json.loads(event["data"])}


@contextmanager
def stream(api: LiveApi, key: str = KEY, **headers: str) -> Iterator[Events]:
    params = {"tickers": "VCB,shb", "tf": "1d"}
    with httpx.stream(
        "GET", api.url + "/stream/latest", params=params, headers={"X-API-Key": key, **headers}, timeout=10
    ) as response:
        assert response.status_code == 200, response.read()
        assert response.headers["content-type"].startswith("text/event-stream")
        assert "content-encoding" not in response.headers
        events = Events(response)
        assert events.next()["comment"] == "connected"
        yield events


def test_a_written_bar_arrives_within_two_seconds(
    stream_api: LiveApi, api_db: ApiDatabase, written: list[tuple[str, int]]
) -> None:
    with stream(stream_api) as events:
        write_bar(api_db, written, "VCG", NEW_DAY, 20.0)  # not subscribed: never sent
        sent = time.monotonic()
        ts = write_bar(api_db, written, "VCB", NEW_DAY, 70.5)
        event = events.next_bar()
        assert event["at"] - sent < 2.0, f"the bar took {event['at'] - sent:.2f} s"
        assert event["event"] == "bar" and event["id"] == str(ts)
        assert event["bar"] == {
            "ticker": "VCB", "tf": "1d", "ts": ts, "o": 70.5, "h": 71.5, "l": 69.5, "c": 70.5, "v": 1234,
        }  # fmt: skip
        # The live bar revised in place is sent again; then only heartbeats while nothing changes.
        write_bar(api_db, written, "VCB", NEW_DAY, 71.0)
        assert events.next_bar()["bar"]["c"] == 71.0
        quiet = [events.next() for _ in range(2)]
        assert [e.get("comment") for e in quiet] == ["heartbeat", "heartbeat"]
        assert quiet[1]["at"] - quiet[0]["at"] == pytest.approx(1.0, abs=0.5)


def test_a_reconnect_gets_the_missed_bars_from_its_last_event_id(
    stream_api: LiveApi, api_db: ApiDatabase, written: list[tuple[str, int]]
) -> None:
    seen = daily_bar_ts(LAST_DAY - timedelta(days=3))  # Tuesday 10 February: 10, 11, 12, 13 follow
    ts = write_bar(api_db, written, "SHB", NEW_DAY, 11.0)  # written while "disconnected"
    with stream(stream_api, **{"Last-Event-ID": str(seen)}) as events:
        replayed = [events.next_bar() for _ in range(6)]
        got = [(e["bar"]["ticker"], e["bar"]["ts"]) for e in replayed]
        days = [daily_bar_ts(LAST_DAY - timedelta(days=d)) for d in (3, 2, 1, 0)]
        assert got == [("VCB", d) for d in days[:3]] + [("SHB", days[3]), ("VCB", days[3]), ("SHB", ts)]
        ids = [int(e["id"]) for e in replayed]
        assert ids == sorted(ids) and ids[-1] == ts
        assert events.next().get("comment") == "heartbeat", "nothing else was missed"


def test_streams_per_key_are_bounded(stream_api: LiveApi) -> None:
    with stream(stream_api), stream(stream_api):
        extra = httpx.get(stream_api.url + "/stream/latest?tickers=VCB&tf=1d", headers={"X-API-Key": KEY})
        assert extra.status_code == 429 and extra.json()["error"] == "too_many_streams"
        with stream(stream_api, OTHER_KEY) as other:
            assert other.response.status_code == 200, "the bound is per key"
    # Closed streams give their places back.
    deadline = time.monotonic() + 5
    while True:
        with httpx.stream(
            "GET", stream_api.url + "/stream/latest?tickers=VCB&tf=1d", headers={"X-API-Key": KEY}
        ) as again:
            if again.status_code == 200 or time.monotonic() > deadline:
                break
        time.sleep(0.2)
    assert again.status_code == 200


@pytest.mark.parametrize(
    ("params", "headers", "error"),
    [
        ({"tickers": "", "tf": "1d"}, {}, "invalid_tickers"),
        ({"tickers": "VCB,,FPT", "tf": "1d"}, {}, "invalid_tickers"),
        ({"tickers": ",".join(f"T{i}" for i in range(51)), "tf": "1d"}, {}, "invalid_tickers"),
        ({"tickers": "VCB", "tf": "5m"}, {}, "invalid_tf"),
        ({"tickers": "VCB"}, {}, "invalid_tf"),
        ({"tickers": "VCB", "tf": "1d"}, {"Last-Event-ID": "yesterday"}, "invalid_Last-Event-ID"),
        ({"tickers": "VCB", "tf": "1d"}, {"Last-Event-ID": "1" * 14}, "invalid_Last-Event-ID"),
    ],
)
def test_bad_requests_are_clear_400s(
    stream_api: LiveApi, params: dict[str, str], headers: dict[str, str], error: str
) -> None:
    res = httpx.get(stream_api.url + "/stream/latest", params=params, headers={"X-API-Key": KEY, **headers})
    assert res.status_code == 400, res.text
    assert res.json()["error"] == error, res.json()


def test_a_stream_needs_a_key(stream_api: LiveApi) -> None:
    assert httpx.get(stream_api.url + "/stream/latest?tickers=VCB&tf=1d").status_code == 401


def test_an_empty_last_event_id_replays_nothing(stream_api: LiveApi) -> None:
    # The SSE spec's reset: a client whose last event had no id sends it empty.
    with stream(stream_api, **{"Last-Event-ID": ""}) as events:
        assert events.next().get("comment") == "heartbeat"
