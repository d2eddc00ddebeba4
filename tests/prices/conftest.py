"""Fixtures for the prices pipeline: the simulator reset around each test, a prices run, what it stored."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import dagster as dg
import httpx
import pytest

from tests.candles.conftest import market_data
from tests.conftest import MigratedDatabase, metadata_values
from vietmarket_pipelines.defs.common.partitions import TICKERS
from vietmarket_pipelines.defs.common.resources import TimescaleResource
from vietmarket_pipelines.defs.common.run_tags import RANGE_END_TAG, RANGE_START_TAG
from vietmarket_pipelines.defs.prices.assets import corporate_actions, daily_prices
from vietmarket_pipelines.defs.prices.checks import PRICES_CHECKS
from vietmarket_pipelines.simulator.server import SimulatorServer


def reset(server: SimulatorServer) -> None:
    httpx.delete(f"{server.url}/_sim/faults").raise_for_status()
    httpx.delete(f"{server.url}/_sim/corporate-actions").raise_for_status()
    httpx.delete(f"{server.url}/_sim/requests")


@pytest.fixture
def fresh_sim(simulator: SimulatorServer) -> Iterator[SimulatorServer]:
    """The session simulator with no faults and no added corporate actions before and after the test."""
    reset(simulator)
    yield simulator
    reset(simulator)


@pytest.fixture
def instance() -> Iterator[dg.DagsterInstance]:
    with dg.instance_for_test() as inst:
        yield inst


def materialize_prices(
    instance: dg.DagsterInstance, db: MigratedDatabase, server: SimulatorServer, tickers: list[str]
) -> dg.ExecuteInProcessResult:
    """daily_prices, corporate_actions and their checks for `tickers`: one partition, or one range run."""
    known = instance.get_dynamic_partitions(TICKERS)
    instance.add_dynamic_partitions(TICKERS, [t for t in tickers if t not in known])
    ordered = [t for t in instance.get_dynamic_partitions(TICKERS) if t in tickers]
    kwargs: dict[str, Any] = {}
    tags: dict[str, str] = {}
    if len(tickers) == 1:
        kwargs["partition_key"] = tickers[0]
    else:
        tags = {RANGE_START_TAG: ordered[0], RANGE_END_TAG: ordered[-1]}
    return dg.materialize(
        [daily_prices, corporate_actions, *PRICES_CHECKS],
        instance=instance,
        resources={"market_data": market_data(server), "timescale": TimescaleResource(dsn=db.writer_dsn, attempts=2)},
        tags=tags,
        raise_on_error=False,
        **kwargs,
    )


def partition_md(instance: dg.DagsterInstance, asset: str, ticker: str) -> dict[str, Any]:
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=dg.AssetKey(asset), asset_partitions=[ticker]), limit=1
    ).records
    assert records and records[0].asset_materialization is not None
    return metadata_values(records[0].asset_materialization.metadata)


def check_evaluations(result: dg.ExecuteInProcessResult, name: str) -> dict[str, dg.AssetCheckEvaluation]:
    """Partition (or "None" for the run's summary) -> the check's evaluation in this run."""
    return {str(e.partition): e for e in result.get_asset_check_evaluations() if e.check_name == name}


def stored_prices(db: MigratedDatabase, ticker: str) -> list[tuple[Any, ...]]:
    conn = db.connect()
    with conn, conn.cursor() as cur:
        cur.execute(
            "SELECT ts, open, high, low, close, ad_open, ad_high, ad_low, ad_close, reference, ceiling, floor, "
            "nm_volume, pt_volume, exchange, source, ingested_at FROM daily_prices WHERE ticker = %s ORDER BY ts",
            (ticker,),
        )
        rows = cur.fetchall()
    conn.close()
    return rows


def stored_actions(db: MigratedDatabase, ticker: str) -> list[tuple[Any, ...]]:
    conn = db.connect()
    with conn, conn.cursor() as cur:
        cur.execute(
            "SELECT id, ex_date, factor, cumulative_factor, event_type, exchange, evidence, record_date, pay_date, "
            "headline, source_url FROM corporate_actions WHERE ticker = %s AND source = 'finfo' ORDER BY ex_date",
            (ticker,),
        )
        rows = cur.fetchall()
    conn.close()
    return rows
