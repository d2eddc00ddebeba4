"""The anchor probe end to end: it catches what the overlap cannot see; the repair job fixes mixed series once."""

from __future__ import annotations

from collections.abc import Iterator

import dagster as dg
import httpx
import pytest

from tests.candles.conftest import materialize_candles
from tests.candles.test_candles_asset import partition_md, sim_requests, stored
from tests.candles.test_restatements import provider_bars, restatement_rows
from tests.conftest import MigratedDatabase, inject
from vietmarket_core.market import Timeframe
from vietmarket_pipelines.defs.candles.schedules import candles_rebase_job
from vietmarket_pipelines.simulator.server import SimulatorServer

# The platform's last fetch before an outage, the action that went ex while it was down (more
# than any OVERLAP before the simulator's now, Fri 2026-02-13), and the first day it missed.
OUTAGE_FROM, EX_DATE, MISSED_FROM = "2026-01-09", "2026-01-20", "2026-01-12"
BEFORE_OUTAGE = {"full_refetch": True, "end_date": OUTAGE_FROM}
MISSED_RANGE = {"full_refetch": True, "start_date": MISSED_FROM}
PROBE = dict(candles_rebase_job.tags or {})


@pytest.fixture
def actions_sim(sim: SimulatorServer) -> Iterator[SimulatorServer]:
    httpx.delete(f"{sim.url}/_sim/corporate-actions").raise_for_status()
    yield sim
    httpx.delete(f"{sim.url}/_sim/corporate-actions").raise_for_status()


def go_ex(sim: SimulatorServer, ticker: str, ratio: float = 0.2) -> None:
    action = {"symbol": ticker, "kind": "stock_dividend", "ratio": ratio, "ex_date": EX_DATE}
    httpx.post(f"{sim.url}/_sim/corporate-actions", json=action).raise_for_status()


def bars_of(db: MigratedDatabase, ticker: str, tf: Timeframe) -> dict[int, tuple[float, ...]]:
    return {r[0]: r[1:5] for r in stored(db, ticker, tf)}


def rows_with_ingested_at(db: MigratedDatabase, tf: Timeframe) -> list[tuple[object, ...]]:
    conn = db.connect()
    with conn, conn.cursor() as cur:
        cur.execute(f"SELECT ticker, ts, o, h, l, c, v, ingested_at FROM candles_{tf} ORDER BY ticker, ts")
        out = cur.fetchall()
    conn.close()
    return out


def probe_log(instance: dg.DagsterInstance, result: dg.ExecuteInProcessResult) -> list[str]:
    """The run's anchor-probe summary lines: how many series it probed, fixed, and which."""
    return [e.user_message for e in instance.all_logs(result.run_id) if "anchor probe" in e.user_message]


def list_active(db: MigratedDatabase, tickers: list[str]) -> None:
    """The universe the probe runs over: a probe, like a tick, skips inactive tickers."""
    conn = db.connect()
    with conn, conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO symbols (ticker, exchange, active) VALUES (%s, 'HOSE', true)", [(t,) for t in tickers]
        )
    conn.close()


def store_mixed(  # noqa: PLR0913 - the run's instance, database and simulator, plus the series
    instance: dg.DagsterInstance, db: MigratedDatabase, sim: SimulatorServer, tickers: list[str],
    restated: list[str], tf: Timeframe,
) -> None:  # fmt: skip
    """The series as an outage leaves them: stored up to OUTAGE_FROM, `restated` go ex while the
    platform is down, and on restart the missed range is refetched as asked, without comparison."""
    list_active(db, tickers)
    assert materialize_candles(instance, db, sim, tickers, tf, config=BEFORE_OUTAGE).success
    for ticker in restated:
        go_ex(sim, ticker)
    assert materialize_candles(instance, db, sim, tickers, tf, config=MISSED_RANGE).success


@pytest.mark.parametrize("tf", ["1d", "1h"])
def test_downtime_longer_than_the_overlap_then_an_action_the_nightly_probe_replaces_the_series(
    clean_db: MigratedDatabase, actions_sim: SimulatorServer, instance: dg.DagsterInstance, tf: Timeframe
) -> None:
    store_mixed(instance, clean_db, actions_sim, ["VCB"], ["VCB"], tf)
    mixed = bars_of(clean_db, "VCB", tf)

    # A normal tick after the restart: its overlap re-reads only bars already on the new basis.
    httpx.delete(f"{actions_sim.url}/_sim/requests")
    assert materialize_candles(instance, clean_db, actions_sim, ["VCB"], tf).success
    assert restatement_rows(clean_db) == [] and "restated" not in partition_md(instance, "VCB", tf)
    assert len(sim_requests(actions_sim)) == 1, "no whole-history refetch"
    provider = provider_bars(actions_sim, tf, min(mixed))
    stale = [ts for ts, bar in bars_of(clean_db, "VCB", tf).items() if bar != provider.get(ts)]
    assert len(stale) > 50 and max(stale) < min(ts for ts in mixed if mixed[ts] == provider.get(ts)), (
        "the bars before the outage are still on the old basis"
    )

    # The nightly probe: the anchor (the oldest stored bars) shows the provider's new basis.
    httpx.delete(f"{actions_sim.url}/_sim/requests")
    result = materialize_candles(instance, clean_db, actions_sim, ["VCB"], tf, tags=PROBE, checks=True)
    assert result.success, "the replaced series passes the blocking checks"
    rows = bars_of(clean_db, "VCB", tf)
    served = round(float(partition_md(instance, "VCB", tf)["first_ts"]) * 1000)
    assert {ts: bar for ts, bar in rows.items() if ts >= served} == provider_bars(actions_sim, tf, served), (
        "every bar the provider still serves is its current one"
    )
    # The 1d history is whole at the provider; an intraday one reaches back a limited number of
    # sessions, and the stored bars older than that are kept, rescaled onto the new basis.
    assert min(rows) == min(mixed) and (served == min(mixed)) == (tf == "1d")
    kept = {ts: bar for ts, bar in rows.items() if ts < served}
    assert all(
        abs(new - price / 1.2) <= 0.0101 for ts, bar in kept.items() for new, price in zip(bar, mixed[ts], strict=True)
    ), "kept bars rescaled to within a tick"
    ((ticker, rtf, source, factor, ex_date, replaced),) = restatement_rows(clean_db)
    assert (ticker, rtf, source, ex_date) == ("VCB", tf, "vci", None), "an anchor cannot place the ex-date"
    assert factor == pytest.approx(1 / 1.2, rel=1e-3) and replaced >= len(stale)
    md = partition_md(instance, "VCB", tf)
    assert md["restated"] is True and md["restatement_detected_by"] == "anchor"
    # One anchor request, one whole-history refetch; the anchor window is the oldest bars.
    bodies = [r["body"] for r in sim_requests(actions_sim) if r["route"] == "vci-history"]
    assert len(bodies) == 2 and bodies[0]["countBack"] < 100
    (line,) = probe_log(instance, result)
    assert "1 series probed with 1 anchor requests, 1 restated" in line and "VCB" in line


def test_the_repair_job_fixes_mixed_series_resumes_and_changes_nothing_the_second_time(
    clean_db: MigratedDatabase, actions_sim: SimulatorServer, instance: dg.DagsterInstance
) -> None:
    tickers, mixed = ["FPT", "HPG", "MWG", "VCB"], ["FPT", "HPG", "VCB"]
    # VNM is mixed too, then delisted: its stored series is kept as it is.
    store_mixed(instance, clean_db, actions_sim, [*tickers, "VNM"], [*mixed, "VNM"], "1d")
    conn = clean_db.connect()
    with conn, conn.cursor() as cur:
        cur.execute("UPDATE symbols SET active = false WHERE ticker = 'VNM'")
    conn.close()
    before = {t: bars_of(clean_db, t, "1d") for t in [*tickers, "VNM"]}

    # An interrupted repair: only FPT's run finished.
    assert materialize_candles(instance, clean_db, actions_sim, ["FPT"], "1d", tags=PROBE).success
    assert [r[0] for r in restatement_rows(clean_db)] == ["FPT"]

    httpx.delete(f"{actions_sim.url}/_sim/requests")
    result = materialize_candles(instance, clean_db, actions_sim, [*tickers, "VNM"], "1d", tags=PROBE)
    assert result.success
    assert bars_of(clean_db, "VNM", "1d") == before["VNM"]
    (line,) = probe_log(instance, result)
    assert "4 series probed with 1 anchor requests, 2 restated and refetched whole in 1 more: HPG, VCB" in line
    assert sorted(r[0] for r in restatement_rows(clean_db)) == ["FPT", "HPG", "VCB"], "FPT was not fixed twice"
    assert len(sim_requests(actions_sim)) == 2, "one batched anchor request, one batched refetch"
    for ticker in tickers:
        assert bars_of(clean_db, ticker, "1d") == provider_bars(actions_sim, "1d", 0, ticker)
        md = partition_md(instance, ticker, "1d")
        assert md.get("restated") is (True if ticker in ("HPG", "VCB") else None), ticker
    assert bars_of(clean_db, "MWG", "1d") == before["MWG"], "a series on one basis is left alone"

    # Run again: every anchor matches, nothing is written, no ingested_at moves.
    snapshot = rows_with_ingested_at(clean_db, "1d")
    httpx.delete(f"{actions_sim.url}/_sim/requests")
    again = materialize_candles(instance, clean_db, actions_sim, [*tickers, "VNM"], "1d", tags=PROBE)
    assert again.success
    (line,) = probe_log(instance, again)
    assert "4 series probed with 1 anchor requests, 0 restated" in line
    assert rows_with_ingested_at(clean_db, "1d") == snapshot
    assert len(restatement_rows(clean_db)) == 3 and len(sim_requests(actions_sim)) == 1


def test_a_probe_the_provider_fails_writes_nothing_and_its_rerun_fixes_the_series(
    clean_db: MigratedDatabase, actions_sim: SimulatorServer, instance: dg.DagsterInstance
) -> None:
    store_mixed(instance, clean_db, actions_sim, ["VCB"], ["VCB"], "1d")
    mixed = bars_of(clean_db, "VCB", "1d")
    # Both attempts of the anchor request fail (the test client makes two).
    inject(actions_sim, route="vci-history", fault="503", symbol="VCB", times=2)
    failed = materialize_candles(instance, clean_db, actions_sim, ["VCB"], "1d", tags=PROBE)
    assert not failed.success
    assert bars_of(clean_db, "VCB", "1d") == mixed and restatement_rows(clean_db) == []

    assert materialize_candles(instance, clean_db, actions_sim, ["VCB"], "1d", tags=PROBE).success
    rows = bars_of(clean_db, "VCB", "1d")
    assert rows == provider_bars(actions_sim, "1d", min(rows)) and len(restatement_rows(clean_db)) == 1
