"""daily_prices and corporate_actions end to end against the simulator's finfo and the real TimescaleDB."""

from __future__ import annotations

from datetime import date

import dagster as dg
import httpx
import pytest

from tests.conftest import SIM_NOW, MigratedDatabase, inject
from tests.prices.conftest import (
    check_evaluations,
    materialize_prices,
    partition_md,
    stored_actions,
    stored_prices,
)
from vietmarket_core.market import daily_bar_ts
from vietmarket_pipelines.simulator.server import SimulatorServer

TODAY = SIM_NOW.date()
FEB_13 = daily_bar_ts(date(2026, 2, 13))


def adjusting_actions(sim: SimulatorServer, ticker: str) -> list[tuple[date, float]]:
    """(ex-date, factor) of the simulator's actions that move adjusted prices, as in effect; each goes
    ex on the first session on or after its calendar date."""
    listed = httpx.get(f"{sim.url}/_sim/corporate-actions", params={"symbol": ticker}).json()["actions"]
    sessions = sim.simulator.market.daily(ticker, TODAY, "raw")["day"].tolist()
    out = []
    for a in listed:
        if a["factor"] != 1:
            day = date.fromisoformat(a["ex_date"]).toordinal()
            out.append((date.fromordinal(min(s for s in sessions if s >= day)), a["factor"]))
    return sorted(out)


def test_a_stock_and_an_index_are_written_on_both_bases_with_the_band(
    clean_db: MigratedDatabase, fresh_sim: SimulatorServer, instance: dg.DagsterInstance
) -> None:
    result = materialize_prices(instance, clean_db, fresh_sim, ["VCB", "VNINDEX"])
    assert result.success
    market = fresh_sim.simulator.market
    raw, adjusted = market.daily("VCB", TODAY, "raw"), market.daily("VCB", TODAY)
    rows = stored_prices(clean_db, "VCB")
    assert len(rows) == len(raw["day"]) > 5000
    assert rows[-1][0] == FEB_13
    assert [r[4] for r in rows] == raw["c"].tolist(), "close is the traded price"
    assert [r[8] for r in rows] == adjusted["c"].tolist(), "ad_close is finfo's adjusted price"
    assert all(r[11] <= r[9] <= r[10] for r in rows), "floor <= reference <= ceiling on every day"
    assert {r[14] for r in rows} == {"HOSE"} and {r[15] for r in rows} == {"finfo"}
    index = stored_prices(clean_db, "VNINDEX")
    assert len(index) > 5000 and index[-1][0] == FEB_13
    assert all(r[9] is None and r[10] is None and r[11] is None and r[14] is None for r in index), "no band"
    assert all(r[4] == r[8] for r in index), "an index is not adjusted"

    md = partition_md(instance, "daily_prices", "VCB")
    assert md["rows_fetched"] == md["rows_inserted"] == len(rows)
    assert md["last_date"] == "2026-02-13" and md["source"] == "finfo" and md["history_replaced"] is False

    # The actions are the simulator's adjusting ones, each factor and cumulative factor right.
    actions = stored_actions(clean_db, "VCB")
    expected = adjusting_actions(fresh_sim, "VCB")
    assert [a[1] for a in actions] == [d for d, _ in expected]
    for (_, ex, factor, _, kind, exchange, evidence, *unknown), (_, want) in zip(actions, expected, strict=True):
        assert factor == pytest.approx(want, rel=1e-3)
        assert kind in ("stock_dividend_or_bonus", "split"), (ex, factor, kind)
        assert exchange == "HOSE" and evidence["after_date"] == ex.isoformat()
        assert unknown == [None, None, None, None], "record/pay date, headline, url are unknown from prices"
    first = rows[0]
    assert actions[0][3] == pytest.approx(first[8] / first[4], rel=2e-3), "cumulative = the oldest ratio"
    assert stored_actions(clean_db, "VNINDEX") == []
    assert partition_md(instance, "corporate_actions", "VCB")["actions"] == len(actions)


def test_an_ex_date_today_replaces_the_history_on_the_new_basis(
    clean_db: MigratedDatabase, fresh_sim: SimulatorServer, instance: dg.DagsterInstance
) -> None:
    assert materialize_prices(instance, clean_db, fresh_sim, ["FPT"]).success
    before, actions_before = stored_prices(clean_db, "FPT"), stored_actions(clean_db, "FPT")

    # An incremental no-op: a short overlap, nothing rewritten.
    assert materialize_prices(instance, clean_db, fresh_sim, ["FPT"]).success
    md = partition_md(instance, "daily_prices", "FPT")
    assert 0 < md["rows_fetched"] < 15 and md["rows_updated"] == 0 and md["history_replaced"] is False
    assert stored_prices(clean_db, "FPT") == before and stored_actions(clean_db, "FPT") == actions_before

    action = {"symbol": "FPT", "kind": "stock_dividend", "ratio": 0.2, "ex_date": "today"}
    httpx.post(f"{fresh_sim.url}/_sim/corporate-actions", json=action).raise_for_status()
    assert materialize_prices(instance, clean_db, fresh_sim, ["FPT"]).success
    md = partition_md(instance, "daily_prices", "FPT")
    assert md["history_replaced"] is True and md["rows_fetched"] == len(before)
    assert md["basis_shift_factor"] == pytest.approx(1 / 1.2, rel=1e-3)
    after = stored_prices(clean_db, "FPT")
    adjusted = fresh_sim.simulator.market.daily("FPT", TODAY)
    assert [r[8] for r in after] == adjusted["c"].tolist(), "every ad_close on the new basis"
    for old, new in zip(before[:-1], after[:-1], strict=True):
        assert new[8] == pytest.approx(old[8] / 1.2, abs=0.0101), "every earlier bar rescaled by one factor"
        assert new[4] == old[4], "raw closes before the ex-date do not change"

    actions = stored_actions(clean_db, "FPT")
    assert [a[1] for a in actions] == [a[1] for a in actions_before] + [TODAY]
    newest = actions[-1]
    assert newest[2] == pytest.approx(1 / 1.2, rel=1e-3) and newest[3] == newest[2]
    assert newest[4] == "stock_dividend_or_bonus"
    for i, (old, new) in enumerate(zip(actions_before, actions, strict=False)):
        assert new[0] == old[0], "the older actions keep their rows"
        assert new[3] == pytest.approx(new[2] * actions[i + 1][3], rel=1e-12), "factor x the later cumulative"
        # Each factor is good to the rounding of the two adCloses it was read from, old and new
        # basis; the cumulative factor carries those of every later step.
        tolerance = sum(
            0.005 / a[6][f"{side}_ad_close"] for a in actions_before[i:] + actions[i:] for side in ("before", "after")
        )
        assert abs(new[3] / (old[3] / 1.2) - 1) <= tolerance, "the cumulative factor takes in the new one"

    # The provider takes it back: the history returns to the old basis and the action is removed.
    httpx.delete(f"{fresh_sim.url}/_sim/corporate-actions").raise_for_status()
    assert materialize_prices(instance, clean_db, fresh_sim, ["FPT"]).success
    assert partition_md(instance, "daily_prices", "FPT")["history_replaced"] is True
    assert [r[:16] for r in stored_prices(clean_db, "FPT")] == [r[:16] for r in before]
    assert [a[:5] for a in stored_actions(clean_db, "FPT")] == [a[:5] for a in actions_before]


@pytest.mark.parametrize(
    ("fault", "problem"),
    [("short_page", "paging cut short"), ("missing_adclose", "adClose missing")],
)
def test_a_malformed_answer_is_rejected_and_earlier_rows_stay(
    clean_db: MigratedDatabase,
    fresh_sim: SimulatorServer,
    instance: dg.DagsterInstance,
    fault: str,
    problem: str,
) -> None:
    assert materialize_prices(instance, clean_db, fresh_sim, ["VCB", "HPG"]).success
    before = stored_prices(clean_db, "VCB")
    # The next run would rewrite VCB's whole history: the fault hits its incremental answer.
    action = {"symbol": "VCB", "kind": "bonus", "ratio": 0.5, "ex_date": "today"}
    httpx.post(f"{fresh_sim.url}/_sim/corporate-actions", json=action).raise_for_status()
    inject(fresh_sim, route="finfo-prices", fault=fault, symbol="VCB", times=1)
    result = materialize_prices(instance, clean_db, fresh_sim, ["VCB", "HPG"])
    assert not result.success, "the blocking check turns the run red"
    verdicts = check_evaluations(result, "daily_prices_fetch_accepted")
    assert verdicts["VCB"].passed is False and verdicts["HPG"].passed is True
    description = verdicts["VCB"].description or ""
    assert "VCB" in description and problem in description, description
    assert stored_prices(clean_db, "VCB") == before, "nothing of the rejected answer was written"
    assert partition_md(instance, "daily_prices", "HPG")["rows_fetched"] > 0
    assert partition_md(instance, "daily_prices", "VCB")["rows_fetched"] == 0
