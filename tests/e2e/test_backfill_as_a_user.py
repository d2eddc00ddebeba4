"""As a user works: the real webserver and daemon, a backfill launched like the Materialize button,
rows checked in TimescaleDB, and the asset page looked at in headless Chromium."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from benchmarks.dagster_stack import DagsterStack
from tests.conftest import MigratedDatabase, inject
from vietmarket_pipelines.simulator.server import SimulatorServer
from vietmarket_pipelines.timescale.databases import create_database, drop_database, with_database

ARTIFACTS = Path("artifacts")


@pytest.fixture
def dagster_db(admin_url: str) -> Iterator[str]:
    name = f"vm_dagster_e2e_{os.getpid()}_{secrets.token_hex(2)}"
    create_database(admin_url, name)
    try:
        yield with_database(admin_url, name)
    finally:
        drop_database(admin_url, name)


@pytest.mark.e2e
def test_a_backfill_launched_through_the_webserver_lands_in_timescale(
    clean_db: MigratedDatabase, simulator: SimulatorServer, dagster_db: str
) -> None:
    tickers = sorted(t.symbol for t in simulator.simulator.market.listed_stocks())[:24]
    env = {
        "VIETMARKET_PG_URL": clean_db.writer_dsn,
        "VIETMARKET_SIMULATOR_URL": simulator.url,
        "VIETMARKET_STEP_RETRIES": "0",
    }
    with DagsterStack(dagster_db, env) as stack:
        stack.client.add_partitions("tickers", tickers)
        partitions = [f"1d|{t}" for t in tickers] + [f"1h|{t}" for t in tickers[:12]]
        backfill_id = stack.client.launch_backfill("candles", partitions)
        backfill = stack.client.wait_backfill(backfill_id, timeout_s=420)
        assert backfill["status"] == "COMPLETED_SUCCESS", backfill
        # The backfill policy groups partitions into a few runs, one per timeframe here, not 36.
        assert 1 <= len(backfill["runs"]) <= 4
        assert all(run["status"] == "SUCCESS" for run in backfill["runs"])

        conn = clean_db.connect()
        with conn, conn.cursor() as cur:
            cur.execute("SELECT tf, count(DISTINCT ticker), max(ts) FROM candles GROUP BY tf ORDER BY tf")
            assert cur.fetchall() == [("1d", 24, 1770940800000), ("1h", 12, 1770966000000)]
        conn.close()

        shot = stack.screenshot("/assets/candles?view=partitions", ARTIFACTS / "e2e-candles-asset-page.png")
        assert shot.stat().st_size > 20_000, "the screenshot is too small to show the asset page"

        a_backfill_with_one_malformed_payload_fails_that_partition_alone(stack, clean_db, simulator, tickers)


CHECK_EXECUTIONS = """
query($partition: String!) {
  assetCheckExecutions(assetKey: {path: ["candles"]}, checkName: "fetch_accepted", partition: $partition, limit: 1) {
    status partition evaluation { success description partition }
  }
}"""


def a_backfill_with_one_malformed_payload_fails_that_partition_alone(
    stack: DagsterStack, db: MigratedDatabase, simulator: SimulatorServer, tickers: list[str]
) -> None:
    """The same stack, a second backfill: one ticker's payload is broken, the rest land and are checked."""
    bad, good = tickers[3], [t for t in tickers[:8] if t != tickers[3]]
    inject(simulator, route="vci-history", symbol=bad, fault="negative_volume")
    try:
        backfill_id = stack.client.launch_backfill(
            "candles",
            [f"15m|{t}" for t in tickers[:8]],
            run_config={"ops": {"candles": {"config": {"full_refetch": True, "start_date": "2026-02-10"}}}},
        )
        backfill = stack.client.wait_backfill(backfill_id, timeout_s=420)
    finally:
        httpx.delete(f"{simulator.url}/_sim/faults")
    # One run covered the eight partitions; its blocking fetch check failed, so the run is red ...
    assert [run["status"] for run in backfill["runs"]] == ["FAILURE"], backfill
    conn = db.connect()
    with conn, conn.cursor() as cur:
        cur.execute("SELECT ticker FROM candles_15m GROUP BY ticker ORDER BY ticker")
        assert [t for (t,) in cur.fetchall()] == sorted(good)
    conn.close()
    # ... and the UI has a verdict per partition: the broken one failed, naming what was wrong.
    graphql = stack.client.graphql
    verdicts = {t: graphql(CHECK_EXECUTIONS, {"partition": f"15m|{t}"})["assetCheckExecutions"][0] for t in tickers[:8]}
    assert verdicts[bad]["evaluation"]["success"] is False, verdicts[bad]
    assert f"fetch rejected: vci {bad} 15m: " in verdicts[bad]["evaluation"]["description"], verdicts[bad]
    assert "negative volume" in verdicts[bad]["evaluation"]["description"]
    assert all(verdicts[t]["evaluation"]["success"] for t in good), verdicts
