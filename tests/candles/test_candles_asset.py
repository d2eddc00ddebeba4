"""The candles asset end to end against the simulator and the real TimescaleDB."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import dagster as dg
import httpx
import pytest

from tests.candles.conftest import failure_text, materialize_candles
from tests.conftest import SIM_NOW, MigratedDatabase, inject, metadata_values
from vietmarket_core.market import Timeframe
from vietmarket_pipelines.calendar import TradingCalendar
from vietmarket_pipelines.defs.candles.assets import candles
from vietmarket_pipelines.defs.candles.checks import CANDLE_CHECKS
from vietmarket_pipelines.defs.candles.partitions import candle_key
from vietmarket_pipelines.simulator.server import SimulatorServer

FEB_13 = 1770940800000


def stored(db: MigratedDatabase, ticker: str, tf: str) -> list[tuple[int, float, float, float, float, float]]:
    conn = db.connect()
    with conn, conn.cursor() as cur:
        cur.execute(f"SELECT ts, o, h, l, c, v FROM candles_{tf} WHERE ticker = %s ORDER BY ts", (ticker,))
        rows = cur.fetchall()
    conn.close()
    return rows


def partition_md(instance: dg.DagsterInstance, ticker: str, tf: Timeframe) -> dict[str, Any]:
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=dg.AssetKey("candles"), asset_partitions=[str(candle_key(ticker, tf))]),
        limit=1,
    ).records
    assert records and records[0].asset_materialization is not None
    return metadata_values(records[0].asset_materialization.metadata)


def sim_requests(sim: SimulatorServer) -> list[dict[str, Any]]:
    return httpx.get(f"{sim.url}/_sim/requests").json()  # type: ignore[no-any-return]


def test_full_history_then_an_incremental_no_op(
    clean_db: MigratedDatabase, sim: SimulatorServer, instance: dg.DagsterInstance
) -> None:
    result = materialize_candles(instance, clean_db, sim, ["VCB"], "1d")
    assert result.success
    rows = stored(clean_db, "VCB", "1d")
    daily = sim.simulator.market.daily("VCB", SIM_NOW.date())
    assert len(rows) == len(daily["day"]) > 5000
    assert rows[-1][0] == FEB_13
    assert rows[-1][1:5] == tuple(float(daily[k][-1]) for k in "ohlc")
    md = partition_md(instance, "VCB", "1d")
    assert md["bars_inserted"] == len(rows) and md["bars_unchanged"] == 0
    assert md["dagster/partition_row_count"] == len(rows)
    # Unix ms overflow GraphQL integers: the metadata holds a timestamp in seconds and the bar in market terms.
    assert md["source"] == "vci" and md["last_ts"] == FEB_13 / 1000 and md["last_bar"] == "2026-02-13"

    httpx.delete(f"{sim.url}/_sim/requests")
    assert materialize_candles(instance, clean_db, sim, ["VCB"], "1d").success
    md = partition_md(instance, "VCB", "1d")
    assert md["bars_inserted"] == 0 and md["bars_updated"] == 0 and md["bars_unchanged"] == md["bars_fetched"] > 0
    # Incremental: from the newest stored bar minus the 7-day overlap, not the whole history.
    (request,) = sim_requests(sim)
    since_overlap = len(TradingCalendar().trading_days(date(2026, 2, 6), datetime.now(UTC).date()))
    assert since_overlap <= request["body"]["countBack"] <= since_overlap * 1.1 + 2


def test_a_range_run_writes_every_partition_with_its_own_metadata(
    clean_db: MigratedDatabase, sim: SimulatorServer, instance: dg.DagsterInstance
) -> None:
    tickers = sorted(t.symbol for t in sim.simulator.market.listed_stocks())[:60]
    result = materialize_candles(
        instance, clean_db, sim, tickers, "1h", config={"full_refetch": True, "start_date": "2026-01-05"}
    )
    assert result.success
    # The step also reports the trading calendar it refreshed first; the candles are the rest.
    materializations = [m for m in result.asset_materializations_for_node("candles") if m.asset_key == candles.key]
    assert {m.partition for m in materializations} == {str(candle_key(t, "1h")) for t in tickers}
    for ticker in tickers[:5]:
        rows = stored(clean_db, ticker, "1h")
        md = partition_md(instance, ticker, "1h")
        assert md["bars_fetched"] == len(rows) == md["dagster/partition_row_count"]
    # 60 tickers went out in 2 batched requests, not 60.
    assert len([r for r in sim_requests(sim) if r["route"] == "vci-history"]) <= 4


def test_an_older_backfill_never_moves_latest_back(
    clean_db: MigratedDatabase, sim: SimulatorServer, instance: dg.DagsterInstance
) -> None:
    recent = {"full_refetch": True, "start_date": "2026-02-01"}
    assert materialize_candles(instance, clean_db, sim, ["FPT"], "1d", config=recent).success
    old = {"full_refetch": True, "start_date": "2015-01-01", "end_date": "2019-12-31"}
    assert materialize_candles(instance, clean_db, sim, ["FPT"], "1d", config=old).success
    conn = clean_db.connect()
    with conn, conn.cursor() as cur:
        cur.execute("SELECT ts FROM candles_latest WHERE ticker = 'FPT' AND tf = '1d'")
        assert cur.fetchone() == (FEB_13,)
        cur.execute("SELECT min(ts) < %s FROM candles_1d WHERE ticker = 'FPT'", (1577836800000,))
        assert cur.fetchone() == (True,)
    conn.close()


# A simulator fault rule (its /_sim/faults body) and what the run's error must say.
TRANSPORT_FAULTS: list[tuple[dict[str, str | int], str]] = [
    ({"fault": "429", "retry_after": 0}, "gave up after 2 attempts, last answer HTTP 429"),
    ({"fault": "500"}, "last answer HTTP 500"),
    ({"fault": "503"}, "last answer HTTP 503"),
    ({"fault": "timeout", "delay": 3}, "last one timed out"),
    ({"fault": "rate_limit_text"}, "GIỚI HẠN API"),
    ({"fault": "truncated"}, "response is not valid JSON"),
]
PAYLOAD_FAULTS = [
    ("unequal", "arrays of unequal length"),
    ("nan", "field 'c' has nan"),
    ("non_numeric", "non-numeric value 'n/a'"),
    ("duplicates", "is duplicated"),
    ("out_of_order", "is out of order"),
    ("h_lt_l", "< l"),
    ("outside_range", "outside [l"),
    ("negative_volume", "negative volume"),
    ("future", "in the future"),
    ("wrong_symbol", "which was not requested"),
]


@pytest.mark.parametrize(
    ("rule", "message"),
    TRANSPORT_FAULTS + [({"fault": f}, m) for f, m in PAYLOAD_FAULTS],
    ids=[r["fault"] for r, _ in TRANSPORT_FAULTS] + [f for f, _ in PAYLOAD_FAULTS],
)
def test_every_simulator_fault_fails_clearly_and_writes_nothing(
    clean_db: MigratedDatabase,
    sim: SimulatorServer,
    instance: dg.DagsterInstance,
    rule: dict[str, object],
    message: str,
) -> None:
    inject(sim, route="vci-history", symbol="HPG", **rule)
    result = materialize_candles(instance, clean_db, sim, ["HPG"], "1d")
    assert not result.success
    text = failure_text(result)
    assert message in text, text
    assert "HPG" in text
    assert stored(clean_db, "HPG", "1d") == []


def test_one_bad_ticker_fails_alone_in_a_range(
    clean_db: MigratedDatabase, sim: SimulatorServer, instance: dg.DagsterInstance
) -> None:
    inject(sim, route="vci-history", symbol="VNM", fault="h_lt_l")
    result = materialize_candles(
        instance,
        clean_db,
        sim,
        ["FPT", "VCB", "VNM"],
        "1d",
        config={"full_refetch": True, "start_date": "2026-01-01"},
        checks=True,
    )
    assert stored(clean_db, "VNM", "1d") == []
    assert len(stored(clean_db, "FPT", "1d")) > 0 and len(stored(clean_db, "VCB", "1d")) > 0
    # The written partitions are materialized with their own metadata, and every check ran.
    for ticker in ("FPT", "VCB"):
        md = partition_md(instance, ticker, "1d")
        assert md["bars_inserted"] == len(stored(clean_db, ticker, "1d")) > 0 and "rejected" not in md
    assert "h_lt_l" not in str(partition_md(instance, "FPT", "1d"))
    evaluations = result.get_asset_check_evaluations()
    assert {e.check_name for e in evaluations} >= {c.check_key.name for c in CANDLE_CHECKS}
    # The rejected partition fails its own check, naming provider, ticker, tf and the problem.
    accepted = {e.partition: e for e in evaluations if e.check_name == "fetch_accepted" and e.partition}
    assert {k for k, e in accepted.items() if not e.passed} == {"1d|VNM"}
    assert accepted["1d|FPT"].passed and accepted["1d|VCB"].passed
    problem = accepted["1d|VNM"].description or ""
    assert "fetch rejected: vci VNM 1d: " in problem and "< l" in problem, problem
    # A blocking ERROR check failed, so the run is red, though everything else was recorded.
    assert not result.success
    # The next run retries the rejected partition.
    httpx.delete(f"{sim.url}/_sim/faults")
    assert materialize_candles(instance, clean_db, sim, ["VNM"], "1d").success
    assert len(stored(clean_db, "VNM", "1d")) > 0


def test_the_database_unreachable_fails_clearly_and_the_next_run_recovers(
    clean_db: MigratedDatabase, sim: SimulatorServer, instance: dg.DagsterInstance
) -> None:
    unreachable = "postgresql://nobody:x@127.0.0.1:9/none"
    result = materialize_candles(instance, clean_db, sim, ["MWG"], "1d", io_manager_dsn=unreachable)
    assert not result.success
    error_text = failure_text(result)
    assert "TimescaleDB unreachable after 2 attempts" in error_text
    assert materialize_candles(instance, clean_db, sim, ["MWG"], "1d").success
    assert len(stored(clean_db, "MWG", "1d")) > 0


def test_15m_from_the_simulator_has_no_lunch_bins(
    clean_db: MigratedDatabase, sim: SimulatorServer, instance: dg.DagsterInstance
) -> None:
    assert materialize_candles(
        instance, clean_db, sim, ["VCB"], "15m", config={"full_refetch": True, "start_date": "2026-02-12"}
    ).success
    rows = stored(clean_db, "VCB", "15m")
    # VCB trades on HOSE: 16 bins a day, from the 09:15 opening match to the 14:45 closing one.
    assert len(rows) == 2 * 16
    minutes_of_day = {((ts // 1000 + 7 * 3600) % 86400) // 60 for ts, *_ in rows}
    assert min(minutes_of_day) == 9 * 60 + 15 and max(minutes_of_day) == 14 * 60 + 45
    assert not any(11 * 60 + 30 <= m < 13 * 60 for m in minutes_of_day)
