"""Candle checks fail on planted bad bars and pass on clean ones; the calendar cross-check finds real closures."""

from __future__ import annotations

from datetime import date, datetime

import dagster as dg
import numpy as np
from dagster._core.test_utils import in_process_test_workspace
from dagster._core.types.loadable_target_origin import LoadableTargetOrigin
from dagster_graphql.test.utils import execute_dagster_graphql

from tests.candles.conftest import materialize_candles
from tests.conftest import SIM_NOW, MigratedDatabase, metadata_values
from vietmarket_core.market import VN_TZ, daily_bar_ts, intraday_bar_ts
from vietmarket_pipelines.calendar import TradingCalendar
from vietmarket_pipelines.defs.calendar.truth import cross_check
from vietmarket_pipelines.defs.candles.assets import candles
from vietmarket_pipelines.defs.candles.checks import expected_newest, off_grid
from vietmarket_pipelines.defs.candles.gaps import find_gaps
from vietmarket_pipelines.defs.candles.partitions import candle_key
from vietmarket_pipelines.simulator.server import SimulatorServer

RECENT = {"full_refetch": True, "start_date": "2026-01-05"}

# One partition's latest check execution, as the asset's checks tab asks for it.
CHECK_PARTITION_QUERY = """
query CheckPartition($assetKey: AssetKeyInput!, $checkName: String!, $partition: String) {
  assetCheckExecutions(assetKey: $assetKey, checkName: $checkName, partition: $partition, limit: 1) {
    runId
    partition
    status
    evaluation { success severity description partition }
  }
}
"""


def by_partition(result: dg.ExecuteInProcessResult) -> dict[str, dict[str, dg.AssetCheckEvaluation]]:
    """check name -> partition key -> evaluation; "None" is the run's summary, which every check has."""
    found: dict[str, dict[str, dg.AssetCheckEvaluation]] = {}
    for e in result.get_asset_check_evaluations():
        assert str(e.partition) not in found.setdefault(e.check_name, {}), (e.check_name, e.partition)
        found[e.check_name][str(e.partition)] = e
    for name, verdicts in found.items():
        assert "None" in verdicts, f"{name} has no run summary"
    return found


def evaluations(result: dg.ExecuteInProcessResult) -> dict[str, dg.AssetCheckEvaluation]:
    """Each check's verdict on the one partition of a one-partition run (the summary for run-level checks)."""
    found: dict[str, dg.AssetCheckEvaluation] = {}
    for name, verdicts in by_partition(result).items():
        per_partition = [e for k, e in verdicts.items() if k != "None"]
        assert len(per_partition) <= 1, f"{name} reported {len(per_partition)} partitions in a one-partition run"
        found[name] = per_partition[0] if per_partition else verdicts["None"]
        assert found[name].passed == verdicts["None"].passed, f"{name}: the summary disagrees with the partition"
    return found


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
    checks = by_partition(result)
    both = {str(candle_key(t, "1d")) for t in ("VCB", "FPT")}
    for name in ("ohlc_sanity", "bar_alignment", "no_gaps"):
        assert set(checks[name]) == {*both, "None"} and all(e.passed for e in checks[name].values()), name
    # The market calendar is judged once per run, not per partition.
    assert set(checks["calendar_matches_vnindex"]) == {"None"}


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
    assert not result.success
    assert check.partition == str(candle_key("VCB", "1d"))
    assert str(check.description).startswith("VCB 1d: bars with impossible OHLC or volume: 1 bad bars")
    md = metadata_values(check.metadata)
    assert md["ticker"] == "VCB" and md["bad_bars"] == 1


def test_a_range_run_reports_every_partition_and_fails_only_the_bad_one(
    clean_db: MigratedDatabase, sim: SimulatorServer, instance: dg.DagsterInstance
) -> None:
    tickers = ["FPT", "HPG", "VCB"]
    assert materialize_candles(instance, clean_db, sim, tickers, "1d", config=RECENT).success
    plant(clean_db, "UPDATE candles_1d SET v = -5 WHERE ticker = 'HPG' AND ts = %s", (daily_bar_ts(date(2026, 1, 8)),))
    result = materialize_candles(instance, clean_db, sim, tickers, "1d", checks=True)
    assert not result.success  # ohlc_sanity blocks the whole run
    sanity = by_partition(result)["ohlc_sanity"]
    summary = sanity.pop("None")
    bad = str(candle_key("HPG", "1d"))
    assert set(sanity) == {str(candle_key(t, "1d")) for t in tickers}
    assert [k for k, e in sanity.items() if not e.passed] == [bad]
    assert str(sanity[bad].description).startswith("HPG 1d: ")
    assert not summary.passed and metadata_values(summary.metadata)["partitions_failing"] == 1
    # Dagster stores one row per partition, each targeting that partition's newest materialization
    # (what the checks tab lists), beside the run's summary row.
    infos = {
        i.partition_key: i
        for i in instance.event_log_storage.get_asset_check_partition_info(
            [dg.AssetCheckKey(candles.key, "ohlc_sanity")]
        )
    }
    assert infos.pop(None).latest_execution_status.value == "FAILED"
    assert {k: i.latest_execution_status.value for k, i in infos.items()} == {
        k: "FAILED" if k == bad else "SUCCEEDED" for k in sanity
    }
    assert all(i.is_current for i in infos.values())
    # ... and what the webserver serves for one partition, through its own GraphQL schema.
    with in_process_test_workspace(
        instance, LoadableTargetOrigin(module_name="vietmarket_pipelines.definitions")
    ) as workspace:
        status = {}
        for key in sanity:
            variables = {"assetKey": {"path": ["candles"]}, "checkName": "ohlc_sanity", "partition": key}
            (execution,) = execute_dagster_graphql(workspace, CHECK_PARTITION_QUERY, variables).data[
                "assetCheckExecutions"
            ]
            assert execution["partition"] == key
            status[key] = execution["status"]
            if key == bad:
                assert execution["evaluation"]["description"].startswith("HPG 1d: ")
        assert status == {k: "FAILED" if k == bad else "SUCCEEDED" for k in sanity}


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
    assert str(check.description).startswith("FPT 1h: ") and f"first at ts={noon}" in str(check.description)
    assert metadata_values(check.metadata)["first_off_grid_bar"] == noon / 1000


def test_a_deleted_day_is_a_gap_but_weekends_and_tet_are_not(
    clean_db: MigratedDatabase, sim: SimulatorServer, instance: dg.DagsterInstance
) -> None:
    config = {"full_refetch": True, "start_date": "2026-01-05"}
    for ticker in ("VNINDEX", "HPG"):
        assert materialize_candles(instance, clean_db, sim, [ticker], "1d", config=config).success
    plant(clean_db, "DELETE FROM candles_1d WHERE ticker = 'HPG' AND ts = %s", (daily_bar_ts(date(2026, 1, 8)),))
    check = evaluations(materialize_candles(instance, clean_db, sim, ["HPG"], "1d", checks=True))["no_gaps"]
    assert not check.passed and check.severity == dg.AssetCheckSeverity.WARN
    assert metadata_values(check.metadata)["bars_missing"] == 1


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
