"""The trading calendar is refreshed before any candle is checked, so a market that departs from the rules
never fails a stock that sorts before VNINDEX."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime

import dagster as dg
import httpx
import numpy as np
import pytest

from tests.candles.conftest import market_data, materialize_candles, resources
from tests.candles.test_checks import by_partition
from tests.conftest import SIM_NOW, MigratedDatabase, inject, metadata_values
from vietmarket_core.market import VN_TZ, daily_bar_ts
from vietmarket_pipelines.calendar import TradingCalendar
from vietmarket_pipelines.defs.calendar.assets import trading_calendar
from vietmarket_pipelines.defs.calendar.refresh import refresh, refresh_due
from vietmarket_pipelines.defs.candles.checks import off_grid
from vietmarket_pipelines.defs.candles.partitions import candle_key
from vietmarket_pipelines.simulator.market import CalendarOverrides
from vietmarket_pipelines.simulator.server import SimulatorServer, start_in_thread
from vietmarket_pipelines.timescale.candle_store import CandleStore

# The market traded on a bridge day the rules call a holiday, and closed on a Wednesday they call open.
OPENED = date(2026, 1, 2)
CLOSED = date(2026, 1, 21)
# Both sort before VNINDEX, as ~1,070 tickers of a whole-market backfill do.
STOCKS = ["ACB", "BID"]
SIM_PORT = 56401


@pytest.fixture(scope="module")
def odd_market() -> Iterator[SimulatorServer]:
    server = start_in_thread(
        port=SIM_PORT,
        now=SIM_NOW,
        calendar_overrides=CalendarOverrides(closed=frozenset({CLOSED}), opened=frozenset({OPENED})),
    )
    yield server
    server.shutdown()


def index_requests(server: SimulatorServer) -> list[dict[str, object]]:
    seen = httpx.get(f"{server.url}/_sim/requests").json()
    return [r for r in seen if "VNINDEX" in str(r.get("body"))]


def stored_verdicts(db: MigratedDatabase) -> dict[date, bool]:
    conn = db.connect()
    with conn, conn.cursor() as cur:
        cur.execute("SELECT trading_date, traded FROM trading_calendar")
        rows = dict(cur.fetchall())
    conn.close()
    return rows


def test_the_rules_disagree_with_this_market() -> None:
    rules = TradingCalendar()
    assert not rules.rule_says_trading(OPENED) and rules.rule_says_trading(CLOSED)


def test_a_fresh_backfill_of_stocks_before_vnindex_passes_alignment_on_the_first_run(
    clean_db: MigratedDatabase, odd_market: SimulatorServer, instance: dg.DagsterInstance
) -> None:
    httpx.delete(f"{odd_market.url}/_sim/requests")
    result = materialize_candles(instance, clean_db, odd_market, STOCKS, "1d", checks=True)
    assert result.success
    checks = by_partition(result)
    for name in ("bar_alignment", "no_gaps"):
        assert all(e.passed for e in checks[name].values()), [e.description for e in checks[name].values()]
    assert metadata_values(checks["calendar_matches_vnindex"]["None"].metadata)["disagreements"] >= 2

    # The stocks traded on the day the rules call a holiday: against the rules alone, alignment fails.
    conn = clean_db.connect()
    with conn, conn.cursor() as cur:
        cur.execute("SELECT ts FROM candles_1d WHERE ticker = 'ACB' ORDER BY ts")
        acb = np.array([ts for (ts,) in cur.fetchall()], dtype=np.int64)
    conn.close()
    assert daily_bar_ts(OPENED) in acb.tolist() and daily_bar_ts(CLOSED) not in acb.tolist()
    assert off_grid(acb, "1d", TradingCalendar()).tolist() == [daily_bar_ts(OPENED)]

    # The step refreshed the calendar first, in one request, and the run reports it as materialized.
    verdicts = stored_verdicts(clean_db)
    assert verdicts[OPENED] is True and verdicts[CLOSED] is False
    assert verdicts[date(2026, 1, 3)] is False  # a Saturday inside the span
    assert len(index_requests(odd_market)) == 1
    calendar_events = result.asset_materializations_for_node("candles")
    assert [e.asset_key for e in calendar_events if e.asset_key == trading_calendar.key] == [trading_calendar.key]
    # The checks of these stocks ran before VNINDEX's candles were ever stored.
    assert str(candle_key("VNINDEX", "1d")) not in checks["bar_alignment"]

    # A second run in the same half-day judges by the stored calendar without asking again.
    httpx.delete(f"{odd_market.url}/_sim/requests")
    again = materialize_candles(instance, clean_db, odd_market, STOCKS, "1d", checks=True)
    assert again.success and index_requests(odd_market) == []
    assert trading_calendar.key not in {e.asset_key for e in again.asset_materializations_for_node("candles")}


def test_the_asset_refetches_the_whole_history_and_rewrites_nothing_unchanged(
    clean_db: MigratedDatabase, odd_market: SimulatorServer, instance: dg.DagsterInstance
) -> None:
    run = resources(clean_db, odd_market)
    first = dg.materialize([trading_calendar], instance=instance, resources=run)
    md = metadata_values(first.asset_materializations_for_node("trading_calendar")[0].metadata)
    assert md["first_day"] == "2000-07-28" and md["last_day"] == "2026-02-13"
    assert md["days_changed"] == (date(2026, 2, 13) - date(2000, 7, 28)).days + 1
    second = dg.materialize([trading_calendar], instance=instance, resources=run)
    md = metadata_values(second.asset_materializations_for_node("trading_calendar")[0].metadata)
    assert md["days_changed"] == 0
    assert stored_verdicts(clean_db)[OPENED] is True


def test_a_refresh_is_due_after_each_session_open_and_close() -> None:
    def at(d: date, h: int, m: int = 0) -> datetime:
        return datetime(d.year, d.month, d.day, h, m, tzinfo=VN_TZ)

    friday, monday = date(2026, 2, 13), date(2026, 2, 16)
    assert refresh_due(at(friday, 8, 59)) == at(date(2026, 2, 12), 15)
    assert refresh_due(at(friday, 9)) == at(friday, 9)
    assert refresh_due(at(friday, 14, 59)) == at(friday, 9)
    assert refresh_due(at(friday, 16)) == at(friday, 15)
    assert refresh_due(at(monday, 8)) == at(friday, 15), "nothing opens at the weekend"


def test_runs_starting_together_refresh_once(clean_db: MigratedDatabase, odd_market: SimulatorServer) -> None:
    """A tick's three runs refresh under one lock: the first fetches, the others read its result."""
    httpx.delete(f"{odd_market.url}/_sim/requests")
    store = CandleStore(clean_db.writer_dsn)
    data = market_data(odd_market)
    now = datetime.now(UTC)
    with ThreadPoolExecutor(3) as pool:
        done = list(pool.map(lambda _: refresh(store, data, now, only_if_due=True), range(3)))
    assert sum(d is not None for d in done) == 1
    assert len(index_requests(odd_market)) == 1
    assert stored_verdicts(clean_db)[OPENED] is True


def test_a_failed_refresh_warns_and_the_candles_are_still_written(
    clean_db: MigratedDatabase, sim: SimulatorServer, instance: dg.DagsterInstance
) -> None:
    inject(sim, route="vci-history", fault="500", symbol="VNINDEX", times=10)
    result = materialize_candles(
        instance, clean_db, sim, ["VCB"], "1d", config={"full_refetch": True, "start_date": "2026-02-02"}
    )
    assert result.success
    warnings = [e.user_message for e in instance.all_logs(result.run_id) if e.level == logging.WARNING]
    assert any("trading calendar not refreshed" in w for w in warnings), warnings
    assert trading_calendar.key not in {e.asset_key for e in result.asset_materializations_for_node("candles")}
    assert stored_verdicts(clean_db) == {}
