"""The /candles page cache against a real database and a real server: hits, and never a stale page after a write."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Iterator
from typing import Any

import asyncpg
import httpx
import pytest
from litestar.testing import TestClient

from history_api.adjustment import ADJUSTMENTS, basis_sql
from history_api.app import create_app
from history_api.listener import Listener
from history_api.page_cache import AFFECTS, CachedPage, PageCache, PageKey
from tests.conftest import MigratedDatabase
from tests.history_api.conftest import KEY, LiveApi, api_settings, start_live_api, stop_live_api
from tests.timescale.test_candle_store import FEB_13, series
from tests.timescale.test_series_replacement import rescaled, restatement
from vietmarket_core.market import TIMEFRAMES
from vietmarket_pipelines.restatement import ReplacementSeries
from vietmarket_pipelines.timescale.candle_store import CandleStore

DAY = 86_400_000
HOUR = 3_600_000
BARS = 400
# Pages of VCB's 1d series: the newest one, one whose bars are 101..150 days old, and one older
# than any bar the tests revise (301..350 days old).
NEWEST: dict[str, Any] = {"ticker": "VCB", "tf": "1d", "limit": 50}
MIDDLE: dict[str, Any] = {**NEWEST, "beforeTs": FEB_13 - 100 * DAY}
OLDEST: dict[str, Any] = {**NEWEST, "beforeTs": FEB_13 - 300 * DAY}
REVISED_TS = FEB_13 - 120 * DAY  # a bar on the MIDDLE page
OTHER: dict[str, Any] = {"ticker": "FPT", "tf": "1d", "limit": 50, "beforeTs": FEB_13 - 100 * DAY}
RAW_DAYS = 30
HOURLY = [FEB_13 - d * DAY + h * HOUR for d in range(1, 11) for h in (2, 3, 4)]  # 09:00..11:00 ICT


def seed(db: MigratedDatabase) -> None:
    """VCB and FPT: 400 daily bars to 2026-02-13 through the write path; VCB's hourly bars and finfo daily prices."""
    list(CandleStore(db.writer_dsn).write_partitions([series("VCB", BARS), series("FPT", BARS, close=90.0)]))
    conn = db.connect("writer")
    with conn, conn.cursor() as cur:
        cur.execute(
            "INSERT INTO symbols (ticker, exchange, kind) VALUES ('VCB', 'HOSE', 'stock'), ('FPT', 'HOSE', 'stock')"
        )
        for ts in HOURLY:
            cur.execute(
                "INSERT INTO candles_1h (ticker, tf, ts, o, h, l, c, v, source) "
                "VALUES ('VCB', '1h', %s, 60, 61, 59, 60, 1000, 'vci')",
                (ts,),
            )
        for d in range(RAW_DAYS):
            cur.execute(
                "INSERT INTO daily_prices (ticker, ts, exchange, open, high, low, close, ad_open, ad_high, ad_low, "
                "ad_close, nm_volume, nm_value, pt_volume, pt_value, source) "
                "VALUES ('VCB', %s, 'HOSE', 20, 21, 19, 20, 10, 11, 9, 10, 100, 2000, 0, 0, 'finfo')",
                (FEB_13 - d * DAY,),
            )
    conn.close()


def write(db: MigratedDatabase, *statements: str) -> None:
    """The statements in one transaction on the writer's role, committed when this returns."""
    conn = db.connect("writer")
    with conn, conn.cursor() as cur:
        for sql in statements:
            cur.execute(sql)
    conn.close()


def get(api: LiveApi, params: dict[str, Any]) -> httpx.Response:
    # A new connection per request: with several workers, the kernel spreads them.
    response = httpx.get(api.url + "/candles", params=params, headers={"X-API-Key": KEY}, timeout=10)
    assert response.status_code == 200, response.text
    return response


def close_at(response: httpx.Response, ts: int) -> float:
    closes = [r["c"] for r in response.json()["rows"] if r["ts"] == ts]
    assert len(closes) == 1, f"bar {ts} is not on the page"
    return float(closes[0])


def warm(api: LiveApi, params: dict[str, Any], timeout_s: float = 15.0) -> httpx.Response:
    """Requests the page until it is a hit (the listener may still be connecting): the page is cached."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        response = get(api, params)
        if response.headers["X-Cache"] == "hit":
            return response
        time.sleep(0.05)
    raise AssertionError(f"{params} never became a cache hit; last X-Cache {response.headers['X-Cache']}")


@pytest.fixture
def market(clean_db: MigratedDatabase) -> MigratedDatabase:
    seed(clean_db)
    return clean_db


@pytest.fixture
def api(market: MigratedDatabase, tmp_path: Any) -> Iterator[LiveApi]:
    live = start_live_api(market.reader_dsn, str(tmp_path))
    yield live
    stop_live_api(live)


def test_a_revised_old_bar_is_on_the_very_next_request_and_other_pages_stay_cached(
    market: MigratedDatabase, api: LiveApi
) -> None:
    first = get(api, MIDDLE)
    assert first.headers["X-Cache"] in ("miss", "bypass")
    cached = warm(api, MIDDLE)
    assert cached.content == first.content and cached.headers["ETag"] == first.headers["ETag"]
    assert cached.headers["Cache-Control"] == "private, max-age=300", "a settled page keeps its max-age from cache"
    for params in (NEWEST, OLDEST, OTHER):
        warm(api, params)
    assert get(api, MIDDLE).headers["X-Cache"] == "hit"

    # Each revision commits, and the request right after it must already see it.
    for i in range(15):
        value = round(9.1 + 0.1 * i, 2)
        write(market, f"UPDATE candles_1d SET c = {value} WHERE ticker = 'VCB' AND ts = {REVISED_TS}")
        after = get(api, MIDDLE)
        assert close_at(after, REVISED_TS) == value, f"revision {i}: a stale page was served ({after.headers})"
        assert after.headers["X-Cache"] == "miss"
        assert get(api, MIDDLE).headers["X-Cache"] == "hit", "the fresh page is cached again"
        assert get(api, NEWEST).headers["X-Cache"] == "miss", "the newest page is reached by any change"
    # Not reached: a page older than the revised bar, and another ticker.
    for params in (OLDEST, OTHER):
        assert get(api, params).headers["X-Cache"] == "hit", params


def served_closes(response: httpx.Response) -> dict[int, float]:
    return {r["ts"]: r["c"] for r in response.json()["rows"]}


def stored_closes(db: MigratedDatabase, before: int, limit: int = 50) -> dict[int, float]:
    conn = db.connect("reader")
    with conn, conn.cursor() as cur:
        cur.execute(
            "SELECT ts, c FROM candles_1d WHERE ticker = 'VCB' AND ts < %s ORDER BY ts DESC LIMIT %s", (before, limit)
        )
        rows = dict(cur.fetchall())
    conn.close()
    return rows


def test_an_upsert_and_a_series_replacement_through_the_write_path_are_served_at_once(
    market: MigratedDatabase, api: LiveApi
) -> None:
    store = CandleStore(market.writer_dsn)
    for params in (MIDDLE, NEWEST, OLDEST, OTHER):
        warm(api, params)

    # The provider revises the bars of a month inside the MIDDLE page: an upsert of the whole series.
    revised = series("VCB", BARS)
    revised.frame.loc[(revised.frame["ts"] >= REVISED_TS - 30 * DAY) & (revised.frame["ts"] < REVISED_TS), "c"] = 10.5
    assert [s.updated for s in store.write_partitions([revised])] == [30]
    after = get(api, MIDDLE)
    assert after.headers["X-Cache"] == "miss"
    assert served_closes(after) == stored_closes(market, MIDDLE["beforeTs"])
    assert 10.5 in served_closes(after).values()
    assert get(api, OLDEST).headers["X-Cache"] == "hit", "the upsert changed nothing older than its first bar"

    # A restatement replaces the whole series (delete + insert in one transaction): every VCB page changes.
    warm(api, MIDDLE)
    full = rescaled(series("VCB", BARS + 1, end=FEB_13 + DAY), 0.5, FEB_13 - 30 * DAY)
    with store.writer() as writer:
        writer.replace(ReplacementSeries(full, restatement(0.5)))
    for params in (MIDDLE, OLDEST, NEWEST):
        page = get(api, params)
        assert page.headers["X-Cache"] == "miss", params
        assert served_closes(page) == stored_closes(market, params.get("beforeTs", 2**62)), params
        assert set(served_closes(page).values()) <= {5.0, 10.0}
    assert get(api, OTHER).headers["X-Cache"] == "hit"


def test_raw_pages_follow_daily_prices_and_corporate_actions(market: MigratedDatabase, api: LiveApi) -> None:
    raw_daily = {"ticker": "VCB", "tf": "1d", "adjustment": "raw", "beforeTs": FEB_13 - 5 * DAY, "limit": 10}
    adjusted_daily = {**raw_daily, "adjustment": "adjusted"}
    raw_hourly = {"ticker": "VCB", "tf": "1h", "adjustment": "raw", "beforeTs": FEB_13, "limit": 10}
    adjusted_hourly = {**raw_hourly, "adjustment": "adjusted"}
    for params in (raw_daily, adjusted_daily, raw_hourly, adjusted_hourly):
        warm(api, params)

    write(market, f"UPDATE daily_prices SET close = 20.5 WHERE ticker = 'VCB' AND ts = {FEB_13 - 10 * DAY}")
    page = get(api, raw_daily)
    assert (page.headers["X-Cache"], close_at(page, FEB_13 - 10 * DAY)) == ("miss", 20.5)
    assert get(api, adjusted_daily).headers["X-Cache"] == "hit", "adjusted 1d pages do not read daily_prices"
    assert get(api, raw_hourly).headers["X-Cache"] == "hit"

    # A bonus issue after these bars: their raw prices are the adjusted ones over its factor.
    write(
        market,
        "INSERT INTO corporate_actions (ticker, ex_date, event_type, source, factor) "
        "VALUES ('VCB', '2026-02-13', 'bonus', 'finfo', 0.5)",
    )
    page = get(api, raw_hourly)
    assert page.headers["X-Cache"] == "miss"
    assert {r["c"] for r in page.json()["rows"]} == {120.0}
    assert get(api, adjusted_hourly).headers["X-Cache"] == "hit", "adjusted pages do not read corporate_actions"
    assert get(api, raw_daily).headers["X-Cache"] == "hit", "raw 1d is finfo's traded prices, not un-adjusted"


def listener_pids(db: MigratedDatabase) -> list[int]:
    conn = db.connect()
    with conn, conn.cursor() as cur:
        cur.execute(
            "SELECT pid FROM pg_stat_activity WHERE application_name = 'history_api_listen' AND datname = %s",
            (db.name,),
        )
        pids = [pid for (pid,) in cur.fetchall()]
    conn.close()
    return pids


def test_a_killed_listener_never_leaves_a_stale_page_and_the_cache_recovers(
    market: MigratedDatabase, api: LiveApi
) -> None:
    warm(api, MIDDLE)
    warm(api, OTHER)
    (pid,) = listener_pids(market)
    conn = market.connect()
    with conn, conn.cursor() as cur:
        cur.execute("SELECT pg_terminate_backend(%s)", (pid,))
        assert cur.fetchone() == (True,)
    conn.close()
    # Written while nobody listens: no notification will ever tell the API.
    write(market, f"UPDATE candles_1d SET c = 9.5 WHERE ticker = 'VCB' AND ts = {REVISED_TS}")
    page = get(api, MIDDLE)
    assert page.headers["X-Cache"] in ("miss", "bypass") and close_at(page, REVISED_TS) == 9.5
    assert get(api, OTHER).headers["X-Cache"] != "hit", "a lost listener drops every page"

    recovered = warm(api, MIDDLE)
    assert close_at(recovered, REVISED_TS) == 9.5
    assert len(listener_pids(market)) == 1 and listener_pids(market) != [pid]
    write(market, f"UPDATE candles_1d SET c = 9.7 WHERE ticker = 'VCB' AND ts = {REVISED_TS}")
    assert close_at(get(api, MIDDLE), REVISED_TS) == 9.7, "the new listener invalidates"


def test_the_byte_bound_evicts_the_least_recently_used_page(market: MigratedDatabase, tmp_path: Any) -> None:
    probe = start_live_api(market.reader_dsn, str(tmp_path), HISTORY_API_PAGE_CACHE_BYTES="0")
    try:
        page = get(probe, MIDDLE)
        assert page.headers["X-Cache"] == "bypass", "0 turns the cache off"
        assert get(probe, MIDDLE).headers["X-Cache"] == "bypass"
        size = len(page.content)
    finally:
        stop_live_api(probe)
    # Room for one page of 50 bars, not two.
    api = start_live_api(market.reader_dsn, str(tmp_path), HISTORY_API_PAGE_CACHE_BYTES=str(size * 3 // 2))
    try:
        warm(api, MIDDLE)
        assert get(api, OTHER).headers["X-Cache"] == "miss"
        assert get(api, OTHER).headers["X-Cache"] == "hit"
        assert get(api, MIDDLE).headers["X-Cache"] == "miss", "MIDDLE was evicted to make room"
        assert get(api, OTHER).headers["X-Cache"] == "miss", "and OTHER in turn"
        big = {**NEWEST, "limit": 200}  # larger than the whole bound: served, never cached
        assert [get(api, big).headers["X-Cache"] for _ in range(2)] == ["miss", "miss"]
    finally:
        stop_live_api(api)


def test_every_worker_serves_a_revision_at_once(market: MigratedDatabase, tmp_path: Any) -> None:
    api = start_live_api(market.reader_dsn, str(tmp_path), HISTORY_API_WORKERS="2")
    try:
        deadline = time.monotonic() + 20
        while len(listener_pids(market)) < 2:
            assert time.monotonic() < deadline, "two workers, two listeners"
            time.sleep(0.1)
        states = [get(api, MIDDLE).headers["X-Cache"] for _ in range(40)]
        assert states.count("hit") >= 30, states
        for i in range(5):
            value = round(9.2 + 0.2 * i, 2)
            write(market, f"UPDATE candles_1d SET c = {value} WHERE ticker = 'VCB' AND ts = {REVISED_TS}")
            pages = [get(api, MIDDLE) for _ in range(20)]
            assert [close_at(p, REVISED_TS) for p in pages] == [value] * 20, f"revision {i}"
            assert "hit" in [p.headers["X-Cache"] for p in pages], "the fresh page is cached again"
    finally:
        stop_live_api(api)


def test_a_page_stored_across_a_change_is_refused_and_a_hit_waits_for_committed_changes(
    market: MigratedDatabase,
) -> None:
    """In one event loop the notification of a commit may still be unread when the next lookup runs."""

    async def scenario() -> None:
        settings = api_settings(market.reader_dsn)
        listener = Listener(settings)
        cache = PageCache(settings, listener)
        await listener.start()
        writer = await asyncpg.connect(market.writer_dsn)
        try:
            await asyncio.wait_for(listener.listening.wait(), 10)
            key: PageKey = ("adjusted", "VCB", "1d", MIDDLE["beforeTs"], 50)
            page = CachedPage(b"{}", 0)
            before = cache.ticket(key)
            await writer.execute(f"UPDATE candles_1d SET c = 9.3 WHERE ticker = 'VCB' AND ts = {REVISED_TS}")
            deadline = time.monotonic() + 5
            while cache.ticket(key) == before:
                assert time.monotonic() < deadline, "the notification never arrived"
                await asyncio.sleep(0.01)
            assert not cache.store(key, before, page), "read before a change, stored after it"
            assert cache.store(key, cache.ticket(key), page)
            assert await cache.lookup(key) is page
            for i in range(20):
                # A change above the page does not reach it; one inside it does, at once.
                await writer.execute(f"UPDATE candles_1d SET c = 9.1 WHERE ticker = 'VCB' AND ts = {FEB_13}")
                assert await cache.lookup(key) is page, i
                await writer.execute(f"UPDATE candles_1d SET c = 9.{i % 9} WHERE ticker = 'VCB' AND ts = {REVISED_TS}")
                assert await cache.lookup(key) is None, f"round {i}: a committed change was not seen"
                assert cache.store(key, cache.ticket(key), page)
        finally:
            await writer.close()
            await listener.stop()

    asyncio.run(scenario())


def test_a_zero_bound_turns_the_cache_off_in_process(market: MigratedDatabase) -> None:
    with TestClient(create_app(api_settings(market.reader_dsn, page_cache_bytes=0))) as client:
        client.headers["X-API-Key"] = KEY
        states = [client.get("/candles", params=MIDDLE).headers["X-Cache"] for _ in range(3)]
    assert states == ["bypass"] * 3


def test_the_relations_each_page_reads_are_the_ones_whose_changes_reach_it() -> None:
    tables = {"1d": "candles_1d", "1h": "candles_1h", "15m": "candles_15m"}
    relations = {*tables.values(), "daily_prices", "corporate_actions"}
    statements = basis_sql("sql/candles_page.sql")
    for adjustment in ADJUSTMENTS:
        for tf in TIMEFRAMES:
            # The statement without its comments, which name every table.
            code = re.sub(r"--[^\n]*", "", statements[adjustment, tf])
            read = {r for r in relations if re.search(rf"\b{r}\b", code)}
            reaching = {tables.get(rel, rel) for rel, pages in AFFECTS.items() if (adjustment, tf) in pages}
            assert read == reaching, (adjustment, tf)
