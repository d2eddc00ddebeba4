"""As a user works: the real webserver and daemon, a backfill launched like the Materialize button,
rows checked in TimescaleDB, and the asset page looked at in headless Chromium."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest

from benchmarks.dagster_stack import DagsterStack
from tests.conftest import MigratedDatabase
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
        stack.add_partitions("tickers", tickers)
        partitions = [f"1d|{t}" for t in tickers] + [f"1h|{t}" for t in tickers[:12]]
        backfill_id = stack.launch_backfill("candles", partitions)
        backfill = stack.wait_backfill(backfill_id, timeout_s=420)
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
