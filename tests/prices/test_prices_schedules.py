"""The prices schedule: one whole-market run after the close on trading days, nothing on weekends and holidays."""

from __future__ import annotations

from datetime import datetime

import dagster as dg
import pytest

from tests.conftest import MigratedDatabase
from vietmarket_core.market import VN_TZ
from vietmarket_pipelines.definitions import defs
from vietmarket_pipelines.defs.common.partitions import TICKERS
from vietmarket_pipelines.defs.common.resources import TimescaleResource
from vietmarket_pipelines.defs.prices.schedules import prices_close_schedule

ACTIVE = ["AAA", "BBB", "VCB", "VNINDEX"]


@pytest.fixture
def universe(clean_db: MigratedDatabase, instance: dg.DagsterInstance) -> MigratedDatabase:
    instance.add_dynamic_partitions(TICKERS, ["OLD", "AAA", "BBB", "GONE", "VCB", "VNINDEX", "DEAD"])
    conn = clean_db.connect()
    with conn, conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO symbols (ticker, exchange, active) VALUES (%s, 'HOSE', %s)",
            [(t, True) for t in ACTIVE] + [(t, False) for t in ("OLD", "GONE", "DEAD")],
        )
    conn.close()
    return clean_db


def evaluate(instance: dg.DagsterInstance, db: MigratedDatabase, when: datetime) -> dg.ScheduleExecutionData:
    with dg.build_schedule_context(
        instance=instance,
        scheduled_execution_time=when,
        resources={"timescale": TimescaleResource(dsn=db.writer_dsn)},
        repository_def=defs.get_repository_def(),
    ) as context:
        return prices_close_schedule.evaluate_tick(context)


def test_a_trading_day_is_one_run_over_the_active_tickers(
    universe: MigratedDatabase, instance: dg.DagsterInstance
) -> None:
    data = evaluate(instance, universe, datetime(2026, 2, 13, 15, 45, tzinfo=VN_TZ))
    (request,) = data.run_requests or []
    # The range runs from the first to the last active ticker in partition order; the asset skips
    # the inactive ones inside it (GONE) on a scheduled run.
    assert request.tags["dagster/asset_partition_range_start"] == "AAA"
    assert request.tags["dagster/asset_partition_range_end"] == "VNINDEX"
    assert request.tags["vietmarket/mode"] == "close" and request.tags["vietmarket/provider"] == "finfo"
    assert request.job_name in (None, "prices_job")


@pytest.mark.parametrize(
    ("when", "why"),
    [
        (datetime(2026, 4, 30, 15, 45, tzinfo=VN_TZ), "is a holiday"),
        (datetime(2026, 2, 18, 15, 45, tzinfo=VN_TZ), "is a holiday"),  # Tết
        (datetime(2026, 2, 14, 15, 45, tzinfo=VN_TZ), "is a weekend"),
    ],
)
def test_no_run_on_weekends_and_holidays(
    universe: MigratedDatabase, instance: dg.DagsterInstance, when: datetime, why: str
) -> None:
    data = evaluate(instance, universe, when)
    assert data.run_requests == []
    assert why in (data.skip_message or "")


def test_no_run_before_the_universe_is_known(clean_db: MigratedDatabase, instance: dg.DagsterInstance) -> None:
    data = evaluate(instance, clean_db, datetime(2026, 2, 13, 15, 45, tzinfo=VN_TZ))
    assert data.run_requests == [] and "materialize `symbols` first" in (data.skip_message or "")


def test_a_day_the_indices_did_not_trade_has_no_run_whatever_the_rules_say(
    universe: MigratedDatabase, instance: dg.DagsterInstance
) -> None:
    # The stored trading calendar (the indices' traded days) knows a closure the rules do not:
    # 2026-02-12 and 2026-02-13 are weekdays the rules call trading days.
    conn = universe.connect()
    with conn, conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO trading_calendar (trading_date, traded, source) VALUES (%s, %s, 'vci')",
            [("2026-02-12", True), ("2026-02-13", False), ("2026-02-16", True)],
        )
    conn.close()
    closed = evaluate(instance, universe, datetime(2026, 2, 13, 15, 45, tzinfo=VN_TZ))
    assert closed.run_requests == [] and "is a holiday" in (closed.skip_message or "")
    traded = evaluate(instance, universe, datetime(2026, 2, 12, 15, 45, tzinfo=VN_TZ))
    assert len(traded.run_requests or []) == 1
