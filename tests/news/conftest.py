"""The news assets on the test database, reading the simulator's Vietstock."""

from __future__ import annotations

from typing import Any, TypedDict, Unpack

import dagster as dg
import psycopg2.extras
import pytest

from tests.conftest import MigratedDatabase, metadata_values
from vietmarket_pipelines.defs.common.convex_mirror import ConvexMirrorResource
from vietmarket_pipelines.defs.common.resources import TimescaleResource
from vietmarket_pipelines.defs.news.assets import news_articles
from vietmarket_pipelines.defs.news.checks import NEWS_CHECKS
from vietmarket_pipelines.defs.news.resources import VietstockResource
from vietmarket_pipelines.simulator.server import SimulatorServer


@pytest.fixture
def news_db(clean_db: MigratedDatabase, sim: SimulatorServer) -> MigratedDatabase:
    """A clean database whose symbols are the simulator's listed stocks, all active."""
    stocks = sim.simulator.market.listed_stocks()
    conn = clean_db.connect()
    with conn, conn.cursor() as cur:
        psycopg2.extras.execute_values(
            cur, "INSERT INTO symbols (ticker, name, exchange) VALUES %s", [(t.symbol, t.name, None) for t in stocks]
        )
    conn.close()
    return clean_db


def news_resources(
    db: MigratedDatabase, server: SimulatorServer, convex: ConvexMirrorResource | None = None, **overrides: Any
) -> dict[str, Any]:
    settings: dict[str, Any] = {
        "base_url": server.url,
        "requests_per_second": 200.0,
        "timeout_seconds": 2.0,
        "max_attempts": 2,
        **overrides,
    }
    return {
        "vietstock": VietstockResource(**settings),
        "timescale": TimescaleResource(dsn=db.writer_dsn, attempts=2),
        "convex": convex or ConvexMirrorResource(),
    }


class NewsRun(TypedDict, total=False):
    """How a test's news run differs from a plain one."""

    raise_on_error: bool  # False: return a failed run instead of raising
    convex: ConvexMirrorResource  # mirror through this
    vietstock: dict[str, Any]  # VietstockResource settings, e.g. the shared pacing


def materialize_news(
    db: MigratedDatabase,
    server: SimulatorServer,
    config: dict[str, Any] | None = None,
    asset: dg.AssetsDefinition = news_articles,
    **run: Unpack[NewsRun],
) -> dg.ExecuteInProcessResult:
    # An instance of its own: without one, a previous test's closed instance can linger in
    # Dagster's global definitions-loading state.
    with dg.instance_for_test() as instance:
        return dg.materialize(
            [asset, *NEWS_CHECKS] if asset is news_articles else [asset],
            instance=instance,
            resources=news_resources(db, server, run.get("convex"), **run.get("vietstock", {})),
            run_config={"ops": {asset.op.name: {"config": config or {}}}},
            raise_on_error=run.get("raise_on_error", True),
        )


def materialization_metadata(result: dg.ExecuteInProcessResult) -> dict[str, Any]:
    (event,) = result.get_asset_materialization_events()
    return metadata_values(event.materialization.metadata)


def rows(db: MigratedDatabase, query: str, params: Any = None) -> list[tuple[Any, ...]]:
    conn = db.connect()
    try:
        with conn.cursor() as cur:
            cur.execute(query, params)
            return cur.fetchall()
    finally:
        conn.close()
