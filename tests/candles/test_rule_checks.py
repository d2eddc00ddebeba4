"""Exchange-rule checks on candles fail on a planted violation, name it, and pass on clean data."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import Any

import dagster as dg
import httpx
import pytest

from tests.candles.conftest import resources
from tests.candles.test_checks import RECENT, evaluations, plant
from tests.conftest import SIM_NOW, MigratedDatabase, metadata_values
from vietmarket_core.market import Timeframe, daily_bar_ts
from vietmarket_pipelines.defs.candles.assets import candles
from vietmarket_pipelines.defs.candles.partitions import TICKERS, candle_key
from vietmarket_pipelines.defs.candles.rule_checks import CANDLE_RULE_CHECKS, JumpCandidate, judge_jumps
from vietmarket_pipelines.providers.finfo import FinfoPricesClient
from vietmarket_pipelines.simulator.server import SimulatorServer
from vietmarket_pipelines.timescale.daily_prices import upsert_daily_prices

JUMP_DAY = date(2026, 1, 20)
DIFFERING = (date(2026, 1, 8), date(2026, 2, 3))


def run(
    instance: dg.DagsterInstance, db: MigratedDatabase, sim: SimulatorServer, tf: Timeframe, **config: Any
) -> dict[str, dg.AssetCheckEvaluation]:
    """One VCB partition at `tf` and the rule checks on it: each check's verdict on the partition."""
    known = set(instance.get_dynamic_partitions(TICKERS))
    instance.add_dynamic_partitions(TICKERS, [t for t in ["VCB"] if t not in known])
    result = dg.materialize(
        [candles, *CANDLE_RULE_CHECKS],
        instance=instance,
        resources=resources(db, sim),
        run_config={"ops": {"candles": {"config": config}}},
        partition_key=str(candle_key("VCB", tf)),
        raise_on_error=False,
    )
    assert result.success, "rule checks warn; they never fail the run"
    return evaluations(result)


@pytest.fixture
def seeded(clean_db: MigratedDatabase, sim: SimulatorServer) -> Iterator[MigratedDatabase]:
    """VCB's finfo daily prices (raw, adjusted, the band) for the candles' span."""
    with FinfoPricesClient(sim.url) as finfo:
        prices = finfo.stock_prices("VCB", date(2025, 12, 1), SIM_NOW.date())
    conn = clean_db.connect("writer")
    upsert_daily_prices(conn, prices)
    conn.close()
    yield clean_db


@pytest.mark.parametrize("tf", ["1d", "1h", "15m"])
def test_a_jump_fails_until_a_corporate_action_explains_it(
    seeded: MigratedDatabase, sim: SimulatorServer, instance: dg.DagsterInstance, tf: Timeframe
) -> None:
    clean = run(instance, seeded, sim, tf, **RECENT)["no_unexplained_jump"]
    assert clean.passed, clean.description
    # The defect of the issue: bars before an ex-date left on the old (unadjusted) basis.
    table = f"candles_{tf}"
    plant(
        seeded,
        f"UPDATE {table} SET o = o * 1.25, h = h * 1.25, l = l * 1.25, c = c * 1.25 WHERE ticker = 'VCB' AND ts < %s",
        (daily_bar_ts(JUMP_DAY) - 7 * 3_600_000,),  # the trading date's 00:00 ICT
    )
    jump = run(instance, seeded, sim, tf)["no_unexplained_jump"]
    assert not jump.passed and jump.severity == dg.AssetCheckSeverity.WARN and not jump.blocking
    assert jump.partition == str(candle_key("VCB", tf))
    description = str(jump.description)
    assert description.startswith(f"VCB {tf}: jumps beyond the band: 1 unexplained (0 explained), first ")
    assert f"VCB {JUMP_DAY.isoformat()}: low " in description and "after 2026-01-19's low" in description
    assert "band -6." in description and "(rule: HOSE no move beyond the day's band" in description
    md = metadata_values(jump.metadata)
    assert md["jumps_unexplained"] == 1 and md["dates"] == [JUMP_DAY.isoformat()]

    plant(
        seeded,
        "INSERT INTO corporate_actions (ticker, exchange, ex_date, event_type, source, factor) "
        "VALUES ('VCB', 'HOSE', %s, 'stock_dividend', 'finfo', 0.8)",
        (JUMP_DAY,),
    )
    explained = run(instance, seeded, sim, tf)["no_unexplained_jump"]
    assert explained.passed and metadata_values(explained.metadata)["jumps_explained_in_run"] == 1


def test_vci_closes_that_differ_from_finfo_adclose_warn_naming_the_dates(
    seeded: MigratedDatabase, sim: SimulatorServer, instance: dg.DagsterInstance
) -> None:
    clean = run(instance, seeded, sim, "1d", **RECENT)["adjusted_close_matches_finfo"]
    assert clean.passed, clean.description
    compared_in_run = metadata_values(clean.metadata)["closes_compared_in_run"]
    assert compared_in_run >= 25
    for day in DIFFERING:
        plant(
            seeded,
            "UPDATE candles_1d SET c = c + 0.3, h = h + 0.3 WHERE ticker = 'VCB' AND ts = %s",
            (daily_bar_ts(day),),
        )
    differs = run(instance, seeded, sim, "1d")["adjusted_close_matches_finfo"]
    assert not differs.passed and differs.severity == dg.AssetCheckSeverity.WARN
    md = metadata_values(differs.metadata)
    assert md["dates"] == [d.isoformat() for d in DIFFERING] and md["closes_differing"] == 2
    assert str(differs.description).startswith(
        f"VCB 1d: closes off finfo's adClose: 2 of {compared_in_run} differ, first VCB {DIFFERING[0]}: close "
    )
    assert "vs finfo adClose" in str(differs.description) and "(rule: adjusted close equals finfo adClose" in str(
        differs.description
    )


def test_intraday_partitions_have_no_finfo_close_to_compare(
    seeded: MigratedDatabase, sim: SimulatorServer, instance: dg.DagsterInstance
) -> None:
    check = run(instance, seeded, sim, "1h", **RECENT)["adjusted_close_matches_finfo"]
    assert check.passed and metadata_values(check.metadata)["closes_compared_in_run"] == 0


def test_finfo_on_a_newer_basis_than_the_stored_candles_differs_on_every_earlier_date(
    seeded: MigratedDatabase, sim: SimulatorServer, instance: dg.DagsterInstance
) -> None:
    assert run(instance, seeded, sim, "1d", **RECENT)["adjusted_close_matches_finfo"].passed
    action = {"symbol": "VCB", "kind": "stock_dividend", "ratio": 0.2, "ex_date": "today"}
    httpx.post(f"{sim.url}/_sim/corporate-actions", json=action).raise_for_status()
    try:
        with FinfoPricesClient(sim.url) as finfo:
            prices = finfo.stock_prices("VCB", date(2025, 12, 1), SIM_NOW.date())
    finally:
        httpx.delete(f"{sim.url}/_sim/corporate-actions").raise_for_status()
    conn = seeded.connect("writer")
    upsert_daily_prices(conn, prices)
    conn.close()
    # The candles' incremental run refetches with the action dropped again: still the old basis.
    check = run(instance, seeded, sim, "1d")["adjusted_close_matches_finfo"]
    assert not check.passed
    md = metadata_values(check.metadata)
    assert md["closes_compared"] >= 25 and md["closes_differing"] == md["closes_compared"]
    assert md["dates"][0] == "2026-01-05"


def candidate(ticker: str, exchange: str | None, band: tuple[float, float, float] | None, **kw: Any) -> JumpCandidate:
    reference, floor, ceiling = band or (None, None, None)
    values: dict[str, Any] = {
        **{"prev_low": 10.0, "prev_high": 10.5, "low": 11.0, "high": 11.4},
        **{"prev_raw_low": None, "prev_raw_high": None, "ex_dates": []},
        **kw,
    }
    return JumpCandidate(
        ticker, daily_bar_ts(JUMP_DAY), daily_bar_ts(date(2026, 1, 19)), exchange=exchange,
        reference=reference, floor=floor, ceiling=ceiling, **values,
    )  # fmt: skip


def test_judging_uses_the_days_real_band_else_the_exchanges() -> None:
    # 11.4 after a high of 10.5 is +8.6 %: beyond HOSE's 7 %, inside HNX's 10 % and UPCOM's 15 %.
    judged = judge_jumps(
        [candidate("AAA", "HOSE", None), candidate("BBB", "HNX", None), candidate("CCC", "UPCOM", None)]
    )
    assert set(judged) == {"AAA"} and judged["AAA"].explained == 0
    assert judged["AAA"].unexplained[0].values.endswith("band -7.00%/+7.00%")
    # A first day after a long suspension: finfo's real band (HOSE ±20 %) admits the move.
    assert judge_jumps([candidate("AAA", "HOSE", (10.5, 8.4, 12.6))]) == {}
    explained = judge_jumps([candidate("AAA", "HOSE", None, ex_dates=[JUMP_DAY])])
    assert explained["AAA"].explained == 1 and not explained["AAA"].unexplained
    # A cash dividend: the exchange set the reference (11.0 raw) a whole tick above the previous raw range.
    adjusted = candidate("AAA", "HOSE", (11.0, 10.25, 11.75), prev_raw_low=10.0, prev_raw_high=10.5, high=11.75)
    assert judge_jumps([adjusted])["AAA"].explained == 1
    # The same day with its reference inside the previous range is no ex-date.
    assert judge_jumps([candidate("AAA", "HOSE", (10.5, 9.8, 11.2), prev_raw_low=10.0, prev_raw_high=10.5)])[
        "AAA"
    ].unexplained
    # No band to judge by: an index, or a ticker whose exchange is unknown.
    assert judge_jumps([candidate("VNINDEX", "HOSE", None), candidate("DDD", None, None)]) == {}
