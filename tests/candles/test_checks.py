"""Candle checks fail on planted bad bars and pass on clean ones; the calendar cross-check finds real closures."""

from __future__ import annotations

from datetime import date, datetime

import dagster as dg
import numpy as np

from tests.candles.conftest import materialize_candles
from tests.conftest import SIM_NOW, MigratedDatabase
from vietmarket_core.market import VN_TZ, daily_bar_ts, intraday_bar_ts
from vietmarket_pipelines.calendar import TradingCalendar
from vietmarket_pipelines.defs.candles.calendar_truth import cross_check
from vietmarket_pipelines.defs.candles.checks import expected_newest, off_grid
from vietmarket_pipelines.defs.candles.gaps import find_gaps
from vietmarket_pipelines.simulator.server import SimulatorServer

RECENT = {"full_refetch": True, "start_date": "2026-01-05"}


def evaluations(result: dg.ExecuteInProcessResult) -> dict[str, dg.AssetCheckEvaluation]:
    return {e.check_name: e for e in result.get_asset_check_evaluations()}


def plant(db: MigratedDatabase, sql: str, params: tuple[object, ...]) -> None:
    conn = db.connect()
    with conn, conn.cursor() as cur:
        cur.execute(sql, params)
    conn.close()


def test_clean_series_pass_every_check(
    clean_db: MigratedDatabase, sim: SimulatorServer, instance: dg.DagsterInstance
) -> None:
    materialize_candles(instance, clean_db, sim, ["VNINDEX"], "1d", config=RECENT)
    result = materialize_candles(instance, clean_db, sim, ["VCB", "FPT"], "1d", config=RECENT, checks=True)
    assert result.success
    checks = evaluations(result)
    assert checks["ohlc_sanity"].passed and checks["bar_alignment"].passed and checks["no_gaps"].passed
    assert checks["ohlc_sanity"].metadata["series_checked"].value == 2


def test_a_planted_impossible_bar_fails_ohlc_sanity_and_blocks(
    clean_db: MigratedDatabase, sim: SimulatorServer, instance: dg.DagsterInstance
) -> None:
    assert materialize_candles(instance, clean_db, sim, ["VCB"], "1d", config=RECENT).success
    plant(
        clean_db, "UPDATE candles_1d SET h = l - 1 WHERE ticker = 'VCB' AND ts = %s", (daily_bar_ts(date(2026, 1, 7)),)
    )
    result = materialize_candles(instance, clean_db, sim, ["VCB"], "1d", checks=True)
    check = evaluations(result)["ohlc_sanity"]
    assert not check.passed and check.severity == dg.AssetCheckSeverity.ERROR and check.blocking
    assert "VCB 1d" in check.metadata["failing_sample"].value  # type: ignore[operator]


def test_a_bar_in_the_lunch_break_fails_alignment(
    clean_db: MigratedDatabase, sim: SimulatorServer, instance: dg.DagsterInstance
) -> None:
    assert materialize_candles(
        instance, clean_db, sim, ["FPT"], "1h", config={"full_refetch": True, "start_date": "2026-02-10"}
    ).success
    noon = intraday_bar_ts(datetime(2026, 2, 11, 12, 0, tzinfo=VN_TZ))
    plant(
        clean_db,
        "INSERT INTO candles_1h (ticker, tf, ts, o, h, l, c, v) VALUES ('FPT', '1h', %s, 1, 1, 1, 1, 1)",
        (noon,),
    )
    check = evaluations(materialize_candles(instance, clean_db, sim, ["FPT"], "1h", checks=True))["bar_alignment"]
    assert not check.passed and check.severity == dg.AssetCheckSeverity.ERROR
    assert f"first at ts={noon}" in check.metadata["failing_sample"].value["FPT 1h"]  # type: ignore[index]


def test_a_deleted_day_is_a_gap_but_weekends_and_tet_are_not(
    clean_db: MigratedDatabase, sim: SimulatorServer, instance: dg.DagsterInstance
) -> None:
    config = {"full_refetch": True, "start_date": "2026-01-05"}
    for ticker in ("VNINDEX", "HPG"):
        assert materialize_candles(instance, clean_db, sim, [ticker], "1d", config=config).success
    plant(clean_db, "DELETE FROM candles_1d WHERE ticker = 'HPG' AND ts = %s", (daily_bar_ts(date(2026, 1, 8)),))
    check = evaluations(materialize_candles(instance, clean_db, sim, ["HPG"], "1d", checks=True))["no_gaps"]
    assert not check.passed and check.severity == dg.AssetCheckSeverity.WARN
    assert check.metadata["bars_missing"].value == 1


def test_gap_finder_uses_the_calendar() -> None:
    calendar = TradingCalendar()
    days = calendar.trading_days(date(2026, 2, 9), date(2026, 2, 27))
    assert date(2026, 2, 14) not in days and date(2026, 2, 18) not in days  # Saturday, Tết
    ts = np.array([daily_bar_ts(d) for d in days if d != date(2026, 2, 24)], dtype=np.int64)
    gaps = find_gaps("VCB", "1d", ts, calendar)
    assert gaps.missing_ts == [daily_bar_ts(date(2026, 2, 24))]


def test_off_grid_finds_weekend_and_off_session_bars() -> None:
    calendar = TradingCalendar()
    good = intraday_bar_ts(datetime(2026, 2, 13, 14, 45, tzinfo=VN_TZ))
    saturday = intraday_bar_ts(datetime(2026, 2, 14, 9, 0, tzinfo=VN_TZ))
    late = intraday_bar_ts(datetime(2026, 2, 13, 15, 0, tzinfo=VN_TZ))
    assert off_grid(np.array([good, saturday, late], dtype=np.int64), "15m", calendar).tolist() == [saturday, late]


def test_calendar_cross_check_finds_closures_the_rules_miss(sim: SimulatorServer) -> None:
    daily = sim.simulator.market.daily("VNINDEX", SIM_NOW.date())
    traded = [date.fromordinal(int(d)) for d in daily["day"]]
    report = cross_check(traded)
    # The simulated market closed for Tết 2010 (Feb 13-17); the rule-based calendar has no data before 2018.
    assert date(2010, 2, 15) in report.closed_but_rule_says_open
    assert report.traded_but_rule_says_closed == []
    observed = TradingCalendar(traded)
    assert not observed.is_trading_day(date(2010, 2, 15))
    assert observed.is_trading_day(date(2010, 2, 22))


def test_freshness_expects_the_last_closed_session() -> None:
    calendar = TradingCalendar()
    friday_evening = datetime(2026, 2, 13, 18, 0, tzinfo=VN_TZ)
    assert expected_newest("1d", friday_evening, calendar) == daily_bar_ts(date(2026, 2, 13))
    monday_morning = datetime(2026, 2, 23, 10, 0, tzinfo=VN_TZ)  # after Tết
    assert expected_newest("1d", monday_morning, calendar) == daily_bar_ts(date(2026, 2, 13))
    assert expected_newest("15m", monday_morning, calendar) == intraday_bar_ts(
        datetime(2026, 2, 23, 9, 15, tzinfo=VN_TZ)
    )
