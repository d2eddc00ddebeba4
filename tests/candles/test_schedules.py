"""Candle schedules: a few whole-market runs per tick on trading days, nothing on weekends and holidays."""

from __future__ import annotations

from datetime import datetime

import dagster as dg
import pytest

from tests.candles.conftest import market_data
from tests.conftest import MigratedDatabase
from vietmarket_core.market import VN_TZ, Timeframe
from vietmarket_pipelines.definitions import defs
from vietmarket_pipelines.defs.candles.partitions import TICKERS, candle_key
from vietmarket_pipelines.defs.candles.schedules import (
    candles_close_schedule,
    candles_latest_schedule,
    candles_repair_schedule,
)
from vietmarket_pipelines.defs.common.resources import TimescaleResource
from vietmarket_pipelines.simulator.server import SimulatorServer

ACTIVE = ["AAA", "BBB", "CCC", "VCB"]

# A schedule's runs, heaviest timeframe first so that the longest run starts first.
HEAVIEST_FIRST: tuple[Timeframe, ...] = ("15m", "1h", "1d")


@pytest.fixture
def universe(clean_db: MigratedDatabase, instance: dg.DagsterInstance) -> MigratedDatabase:
    instance.add_dynamic_partitions(TICKERS, ["AAA", "BBB", "OLD", "CCC", "VCB", "GONE"])
    conn = clean_db.connect()
    with conn, conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO symbols (ticker, exchange, active) VALUES (%s, 'HOSE', %s)",
            [(t, True) for t in ACTIVE] + [("OLD", False), ("GONE", False)],
        )
    conn.close()
    return clean_db


def evaluate(schedule, instance, db, sim, when: datetime):  # type: ignore[no-untyped-def]
    # The definitions' resources nest others (the IO manager holds the store), so they are opened
    # and closed with the context.
    with dg.build_schedule_context(
        instance=instance,
        scheduled_execution_time=when,
        resources={"timescale": TimescaleResource(dsn=db.writer_dsn), "market_data": market_data(sim)},
        repository_def=defs.get_repository_def(),
    ) as context:
        return schedule.evaluate_tick(context)


def test_latest_tick_in_session_is_one_run_per_timeframe(universe, instance, sim) -> None:  # type: ignore[no-untyped-def]
    when = datetime(2026, 2, 13, 10, 5, tzinfo=VN_TZ)
    data = evaluate(candles_latest_schedule, instance, universe, sim, when)
    requests = data.run_requests
    assert [r.tags["vietmarket/mode"] for r in requests] == ["latest"] * 3
    for request, tf in zip(requests, HEAVIEST_FIRST, strict=True):
        # The range spans active tickers in partition order; inactive ones inside it are skipped by the asset.
        assert request.tags["dagster/asset_partition_range_start"] == str(candle_key("AAA", tf))
        assert request.tags["dagster/asset_partition_range_end"] == str(candle_key("VCB", tf))
        assert request.tags["vietmarket/provider"] == "vci"
    assert len({r.run_key for r in requests}) == 3
    later = evaluate(candles_latest_schedule, instance, universe, sim, datetime(2026, 2, 13, 10, 10, tzinfo=VN_TZ))
    assert not {r.run_key for r in requests} & {r.run_key for r in later.run_requests}


@pytest.mark.parametrize(
    ("when", "why"),
    [
        (datetime(2026, 4, 30, 10, 0, tzinfo=VN_TZ), "is a holiday"),
        (datetime(2026, 2, 18, 10, 0, tzinfo=VN_TZ), "is a holiday"),  # Tết
        (datetime(2026, 2, 14, 10, 0, tzinfo=VN_TZ), "is a weekend"),
        (datetime(2026, 2, 13, 12, 0, tzinfo=VN_TZ), "outside the sessions"),
    ],
)
def test_latest_tick_skips_holidays_weekends_and_the_lunch_break(universe, instance, sim, when, why) -> None:  # type: ignore[no-untyped-def]
    data = evaluate(candles_latest_schedule, instance, universe, sim, when)
    assert data.run_requests == []
    assert why in (data.skip_message or "")


def test_close_pass_runs_after_the_close_on_trading_days_only(universe, instance, sim) -> None:  # type: ignore[no-untyped-def]
    friday = evaluate(candles_close_schedule, instance, universe, sim, datetime(2026, 2, 13, 15, 30, tzinfo=VN_TZ))
    assert sorted(r.tags["dagster/asset_partition_range_start"] for r in friday.run_requests) == sorted(
        str(candle_key("AAA", tf)) for tf in ("1d", "1h", "15m")
    )
    holiday = evaluate(candles_close_schedule, instance, universe, sim, datetime(2026, 5, 1, 15, 30, tzinfo=VN_TZ))
    assert holiday.run_requests == [] and "not a trading day" in (holiday.skip_message or "")


def test_repair_refetches_from_the_first_missing_bar_and_ignores_weekends(
    universe: MigratedDatabase, instance: dg.DagsterInstance, sim: SimulatorServer
) -> None:
    conn = universe.connect()
    with conn, conn.cursor() as cur:
        # Two weeks of VCB daily bars (weekdays only) and a clean VNINDEX, then one day deleted.
        for ticker in ("VCB", "VNINDEX"):
            cur.execute(
                "INSERT INTO candles_1d (ticker, tf, ts, o, h, l, c, v, source) "
                "SELECT %s, '1d', extract(epoch FROM d)::bigint * 1000, 1, 1, 1, 1, 1, 'vci' "
                "FROM generate_series('2026-01-19'::date, '2026-02-13'::date, '1 day') d "
                "WHERE extract(isodow FROM d) < 6",
                (ticker,),
            )
        cur.execute("INSERT INTO symbols (ticker, exchange, active, kind) VALUES ('VNINDEX', 'HOSE', true, 'index')")
        cur.execute("DELETE FROM candles_1d WHERE ticker = 'VCB' AND ts = %s", (1770249600000,))  # 2026-02-05
    conn.close()
    data = evaluate(candles_repair_schedule, instance, universe, sim, datetime(2026, 2, 13, 20, 0, tzinfo=VN_TZ))
    repairs = [r for r in data.run_requests if r.tags["vietmarket/mode"] == "repair"]
    assert len(repairs) == 1
    (request,) = repairs
    assert request.partition_key == str(candle_key("VCB", "1d"))
    assert request.run_config["ops"]["candles"]["config"] == {"full_refetch": True, "start_date": "2026-02-05"}


def test_repair_probes_every_active_series_one_run_per_timeframe(universe, instance, sim) -> None:  # type: ignore[no-untyped-def]
    # No gaps anywhere (nothing stored): the nightly pass is the three whole-market probe runs.
    data = evaluate(candles_repair_schedule, instance, universe, sim, datetime(2026, 2, 13, 20, 0, tzinfo=VN_TZ))
    probes = data.run_requests
    assert [r.tags["vietmarket/mode"] for r in probes] == ["probe"] * 3
    for request, tf in zip(probes, HEAVIEST_FIRST, strict=True):
        assert request.partition_key is None, "a range of partitions, never a run per ticker"
        assert request.tags["dagster/asset_partition_range_start"] == str(candle_key("AAA", tf))
        assert request.tags["dagster/asset_partition_range_end"] == str(candle_key("VCB", tf))
    assert all(r.run_key and r.run_key.startswith("probe-") for r in probes)
