"""The prices checks: finfo's actions against the restatements VCI and SSI made of the same ticker."""

from __future__ import annotations

from datetime import date

import dagster as dg
import pytest

from tests.conftest import MigratedDatabase
from tests.prices.conftest import check_evaluations, materialize_prices, stored_actions, stored_prices
from vietmarket_core.market import trading_date_of
from vietmarket_pipelines.defs.prices.checks import MATCH_SESSIONS
from vietmarket_pipelines.simulator.server import SimulatorServer


def seed_restatement(db: MigratedDatabase, tf: str, source: str, factor: float, ex: date) -> None:
    """A restatement of VCB, as the candle write path records one."""
    conn = db.connect()
    with conn, conn.cursor() as cur:
        cur.execute(
            "INSERT INTO series_restatements (ticker, tf, source, factor, estimated_ex_date, bars_replaced) "
            "VALUES (%s, %s, %s, %s, %s, 100)",
            ("VCB", tf, source, factor, ex),
        )
    conn.close()


@pytest.fixture
def stored_vcb(
    clean_db: MigratedDatabase, fresh_sim: SimulatorServer, instance: dg.DagsterInstance
) -> tuple[list[date], list[tuple[date, float]]]:
    """VCB's prices and actions stored: (its trading dates, its actions' (ex_date, factor))."""
    assert materialize_prices(instance, clean_db, fresh_sim, ["VCB"]).success
    sessions = [trading_date_of(r[0], "1d") for r in stored_prices(clean_db, "VCB")]
    actions = [(a[1], a[2]) for a in stored_actions(clean_db, "VCB")]
    assert len(actions) >= 3
    return sessions, actions


def verdict(instance: dg.DagsterInstance, db: MigratedDatabase, sim: SimulatorServer) -> dg.AssetCheckEvaluation:
    result = materialize_prices(instance, db, sim, ["VCB"])
    assert result.success, "a WARN check never fails the run"
    return check_evaluations(result, "actions_match_restatements")["VCB"]


def test_agreeing_restatements_pass(
    clean_db: MigratedDatabase,
    fresh_sim: SimulatorServer,
    instance: dg.DagsterInstance,
    stored_vcb: tuple[list[date], list[tuple[date, float]]],
) -> None:
    sessions, actions = stored_vcb
    (ex, factor), (older_ex, older_factor) = actions[-1], actions[-2]
    # VCI placed it exactly; SSI's estimate is a few sessions late, its factor rounded.
    seed_restatement(clean_db, "1d", "vci", factor, ex)
    late = sessions[sessions.index(older_ex) + MATCH_SESSIONS]
    seed_restatement(clean_db, "1h", "ssi", older_factor * 1.002, late)
    # Before finfo's first stored date there is nothing to judge it against.
    seed_restatement(clean_db, "15m", "vci", 0.5, date(1999, 1, 4))
    found = verdict(instance, clean_db, fresh_sim)
    assert found.passed, found.description
    assert found.metadata["restatements_read"].value == 3


def test_a_disagreeing_restatement_warns_naming_both(
    clean_db: MigratedDatabase,
    fresh_sim: SimulatorServer,
    instance: dg.DagsterInstance,
    stored_vcb: tuple[list[date], list[tuple[date, float]]],
) -> None:
    sessions, actions = stored_vcb
    ex, factor = actions[-1]
    seed_restatement(clean_db, "1d", "vci", factor, ex)
    seed_restatement(clean_db, "1h", "ssi", 0.5, ex)
    # Another factor on a date finfo shows nothing near.
    quiet = next(
        s
        for s in sessions[200:]
        if all(abs(sessions.index(s) - sessions.index(d)) > MATCH_SESSIONS for d, _ in actions)
    )
    seed_restatement(clean_db, "15m", "vci", 0.8, quiet)
    found = verdict(instance, clean_db, fresh_sim)
    assert not found.passed and found.severity == dg.AssetCheckSeverity.WARN
    text = found.description or ""
    assert text.startswith("VCB: corporate actions disagree with a restatement")
    assert "ssi 1h restatement" in text and f"factor 0.500000 from {ex}" in text
    assert f"finfo's action is {ex} factor {factor:.6f}" in text
    assert "vci 15m restatement" in text and f"factor 0.800000 from {quiet}" in text
    assert f"finfo shows no action within {MATCH_SESSIONS} sessions" in text
    assert "vci 1d" not in text, "the agreeing one is not named"
    assert found.metadata["disagreements"].value == 2
