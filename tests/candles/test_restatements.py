"""Restatements end to end: a tick across an ex-date replaces the series whole; a revised bar stays a revision."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime

import dagster as dg
import httpx
import pytest

from tests.candles.conftest import materialize_candles
from tests.candles.test_candles_asset import partition_md, sim_requests, stored
from tests.conftest import SIM_NOW, MigratedDatabase, inject
from vietmarket_core.market import Timeframe, daily_bar_ts
from vietmarket_pipelines.providers.vci import FULL_HISTORY_DAYS, SOURCE_BARS_PER_DAY
from vietmarket_pipelines.simulator.server import SimulatorServer

EX_DATE = SIM_NOW.date()  # 2026-02-13: the action goes ex "today"
KINDS = {"1h": "hour", "15m": "minute15"}


@pytest.fixture
def actions_sim(sim: SimulatorServer) -> Iterator[SimulatorServer]:
    httpx.delete(f"{sim.url}/_sim/corporate-actions").raise_for_status()
    yield sim
    httpx.delete(f"{sim.url}/_sim/corporate-actions").raise_for_status()


def provider_bars(
    sim: SimulatorServer, tf: Timeframe, since_ms: int, ticker: str = "VCB"
) -> dict[int, tuple[float, ...]]:
    """The simulator's adjusted series as of now, bar by bar: what VCI serves."""
    if tf == "1d":
        d = sim.simulator.market.daily(ticker, EX_DATE)
        ts = [daily_bar_ts(date.fromordinal(int(o))) for o in d["day"]]
        return {t: tuple(float(d[k][i]) for k in "ohlc") for i, t in enumerate(ts) if t >= since_ms}
    b = sim.simulator.bars(ticker, KINDS[tf], since_ms // 1000, int(SIM_NOW.timestamp()), None)
    return {int(t) * 1000: tuple(float(b[k][i]) for k in "ohlc") for i, t in enumerate(b["t"])}


# (ticker, tf, source, factor, estimated_ex_date, bars_replaced)
Restatement = tuple[str, str, str, float, date | None, int]


def restatement_rows(db: MigratedDatabase) -> list[Restatement]:
    conn = db.connect()
    with conn, conn.cursor() as cur:
        cur.execute("SELECT ticker, tf, source, factor, estimated_ex_date, bars_replaced FROM series_restatements")
        out = cur.fetchall()
    conn.close()
    return out


@pytest.mark.parametrize("tf", ["1d", "1h", "15m"])
def test_a_tick_across_an_ex_date_leaves_the_whole_series_on_the_new_basis(
    clean_db: MigratedDatabase, actions_sim: SimulatorServer, instance: dg.DagsterInstance, tf: Timeframe
) -> None:
    # Stored through the day before the ex-date, on the basis of that day.
    until_eve = {"full_refetch": True, "end_date": "2026-02-12"}
    assert materialize_candles(instance, clean_db, actions_sim, ["VCB"], tf, config=until_eve).success
    old = {r[0]: r[1:5] for r in stored(clean_db, "VCB", tf)}
    action = {"symbol": "VCB", "kind": "stock_dividend", "ratio": 0.2, "ex_date": "today"}
    httpx.post(f"{actions_sim.url}/_sim/corporate-actions", json=action).raise_for_status()

    httpx.delete(f"{actions_sim.url}/_sim/requests")
    result = materialize_candles(instance, clean_db, actions_sim, ["VCB"], tf)
    assert result.success

    rows = {r[0]: r[1:5] for r in stored(clean_db, "VCB", tf)}
    # The whole history the provider still serves starts at the replacement's first bar.
    served = round(float(partition_md(instance, "VCB", tf)["first_ts"]) * 1000)
    provider = provider_bars(actions_sim, tf, served)
    assert {ts: bar for ts, bar in rows.items() if ts >= served} == provider, "every bar served is the provider's"
    # Bars older than the provider's whole history still reaches are kept, moved to the new basis.
    kept = {ts: bar for ts, bar in rows.items() if ts < served}
    assert all(
        abs(new - price / 1.2) <= 0.0101 for ts, bar in kept.items() for new, price in zip(bar, old[ts], strict=True)
    ), "kept bars rescaled to within a tick"
    ex_ms = daily_bar_ts(EX_DATE) if tf == "1d" else int(datetime(2026, 2, 13, 2, tzinfo=UTC).timestamp() * 1000)
    before = [ts for ts in sorted(old) if ts < ex_ms and ts in rows]
    assert len(before) > 100 and all(rows[ts][3] != old[ts][3] for ts in before), "none left on the old basis"
    eve, ex_open = rows[before[-1]][3], rows[min(ts for ts in rows if ts >= ex_ms)][0]
    assert abs(ex_open / eve - 1) < 0.07, "no false jump at the ex-date (the old basis made it about -17 %)"

    ((ticker, rtf, source, factor, ex_date, replaced),) = restatement_rows(clean_db)
    assert (ticker, rtf, source, ex_date) == ("VCB", tf, "vci", EX_DATE)
    assert factor == pytest.approx(1 / 1.2, rel=1e-3)
    md = partition_md(instance, "VCB", tf)
    assert md["restated"] is True and md["restatement_detected_by"] == "overlap"
    assert md["restatement_factor"] == pytest.approx(factor) and md["estimated_ex_date"] == "2026-02-13"
    assert md["bars_replaced"] == replaced == md["bars_updated"] + md["bars_rescaled"] + md["bars_deleted"]
    assert md["bars_rescaled"] == len(kept) and md["dagster/partition_row_count"] == len(rows)
    # One request for the overlap, one for the whole history that replaced it.
    counts = [r["body"]["countBack"] for r in sim_requests(actions_sim) if r["route"] == "vci-history"]
    full = int(FULL_HISTORY_DAYS[tf] * SOURCE_BARS_PER_DAY[tf] * 1.1) + SOURCE_BARS_PER_DAY[tf]
    assert len(counts) == 2 and counts[1] == full

    # The next tick sees one basis again: nothing restated, nothing rewritten.
    assert materialize_candles(instance, clean_db, actions_sim, ["VCB"], tf).success
    md = partition_md(instance, "VCB", tf)
    assert "restated" not in md and md["bars_updated"] == 0
    assert len(restatement_rows(clean_db)) == 1


def test_a_single_revised_bar_stays_a_revision_and_refetches_nothing(
    clean_db: MigratedDatabase, actions_sim: SimulatorServer, instance: dg.DagsterInstance
) -> None:
    assert materialize_candles(instance, clean_db, actions_sim, ["VCB"], "1d").success
    before = stored(clean_db, "VCB", "1d")
    inject(actions_sim, route="vci-history", fault="revised", symbol="VCB", times=1)
    httpx.delete(f"{actions_sim.url}/_sim/requests")
    assert materialize_candles(instance, clean_db, actions_sim, ["VCB"], "1d").success

    md = partition_md(instance, "VCB", "1d")
    assert "restated" not in md and md["bars_updated"] == 1 and md["bars_inserted"] == 0
    after = stored(clean_db, "VCB", "1d")
    assert after[:-1] == before[:-1]
    assert after[-1][4] != before[-1][4] and after[-1][4] in (before[-1][2], before[-1][3])
    assert restatement_rows(clean_db) == []
    assert [r["route"] for r in sim_requests(actions_sim)] == ["vci-history"], "no full-history refetch"


def test_a_forced_refetch_is_written_as_asked_without_detection(
    clean_db: MigratedDatabase, actions_sim: SimulatorServer, instance: dg.DagsterInstance
) -> None:
    eve = {"full_refetch": True, "start_date": "2026-01-05", "end_date": "2026-02-12"}
    assert materialize_candles(instance, clean_db, actions_sim, ["FPT"], "1d", config=eve).success
    old = {r[0]: r[1:5] for r in stored(clean_db, "FPT", "1d")}
    action = {"symbol": "FPT", "kind": "split", "ratio": 2, "ex_date": "today"}
    httpx.post(f"{actions_sim.url}/_sim/corporate-actions", json=action).raise_for_status()
    httpx.delete(f"{actions_sim.url}/_sim/requests")
    window = {"full_refetch": True, "start_date": "2026-02-02"}
    assert materialize_candles(instance, clean_db, actions_sim, ["FPT"], "1d", config=window).success

    md = partition_md(instance, "FPT", "1d")
    assert "restated" not in md and md["bars_updated"] == md["bars_fetched"] - 1
    assert restatement_rows(clean_db) == [] and len(sim_requests(actions_sim)) == 1
    rows = {r[0]: r[1:5] for r in stored(clean_db, "FPT", "1d")}
    # Only the asked range moved; the bars before it stay for the repair job to find.
    start = daily_bar_ts(date(2026, 2, 2))
    assert {ts: v for ts, v in rows.items() if ts < start} == {ts: v for ts, v in old.items() if ts < start}
    provider = provider_bars(actions_sim, "1d", start, "FPT")
    assert {ts: v for ts, v in rows.items() if ts >= start} == provider


def test_a_failed_whole_history_refetch_writes_nothing_and_the_next_tick_sees_the_restatement_again(
    clean_db: MigratedDatabase, actions_sim: SimulatorServer, instance: dg.DagsterInstance
) -> None:
    until_eve = {"full_refetch": True, "start_date": "2025-06-02", "end_date": "2026-02-12"}
    assert materialize_candles(instance, clean_db, actions_sim, ["VCB"], "1d", config=until_eve).success
    before = stored(clean_db, "VCB", "1d")
    action = {"symbol": "VCB", "kind": "bonus", "ratio": 0.5, "ex_date": "today"}
    httpx.post(f"{actions_sim.url}/_sim/corporate-actions", json=action).raise_for_status()
    # The overlap comes through; the whole-history request that should replace the series fails.
    inject(actions_sim, route="vci-history", fault="503", symbol="VCB", after=1)
    result = materialize_candles(instance, clean_db, actions_sim, ["VCB"], "1d")
    assert not result.success, "every partition was rejected and the provider may recover: the step fails"
    assert stored(clean_db, "VCB", "1d") == before, "not even the overlap was written"
    assert restatement_rows(clean_db) == []

    httpx.delete(f"{actions_sim.url}/_sim/faults")
    assert materialize_candles(instance, clean_db, actions_sim, ["VCB"], "1d").success
    ((*_, factor, ex_date, _),) = restatement_rows(clean_db)
    assert factor == pytest.approx(1 / 1.5, rel=1e-3) and ex_date == EX_DATE
    rows = {r[0]: r[1:5] for r in stored(clean_db, "VCB", "1d")}
    assert rows == provider_bars(actions_sim, "1d", min(rows))
