"""Fixtures for the candle pipeline: the simulator, Dagster resources on the test database, helpers."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, TypedDict, Unpack

import dagster as dg
import pytest

from tests.conftest import MigratedDatabase
from vietmarket_core.market import Timeframe
from vietmarket_pipelines.defs.candles.assets import candles
from vietmarket_pipelines.defs.candles.checks import CANDLE_CHECKS, candles_convex_mirror_in_sync
from vietmarket_pipelines.defs.candles.io_manager import TimescaleCandleIOManager
from vietmarket_pipelines.defs.candles.partitions import TICKERS, candle_key, range_tags
from vietmarket_pipelines.defs.common.convex_mirror import ConvexMirrorResource
from vietmarket_pipelines.defs.common.market_data import MarketDataResource
from vietmarket_pipelines.defs.common.resources import TimescaleResource
from vietmarket_pipelines.defs.universe.assets import symbols
from vietmarket_pipelines.simulator.server import SimulatorServer


def market_data(server: SimulatorServer, **overrides: Any) -> MarketDataResource:
    url = server.url
    settings: dict[str, Any] = {
        "vci_base_url": url,
        "ssi_base_url": url,
        "vndirect_dchart_base_url": url,
        "vndirect_finfo_base_url": url,
        "requests_per_window": 200,
        "window_seconds": 1.0,
        "timeout_seconds": 2.0,
        "max_attempts": 2,
        **overrides,
    }
    return MarketDataResource(**settings)


def resources(
    db: MigratedDatabase,
    server: SimulatorServer,
    io_manager_dsn: str | None = None,
    convex: ConvexMirrorResource | None = None,
    **overrides: Any,
) -> dict[str, Any]:
    """The resources a candle run gets; the IO manager writes through `io_manager_dsn` when given."""
    mirror = convex or ConvexMirrorResource()
    return {
        "market_data": market_data(server, **overrides),
        "timescale": TimescaleResource(dsn=db.writer_dsn, attempts=2),
        "timescale_candles": TimescaleCandleIOManager(
            timescale=TimescaleResource(dsn=io_manager_dsn or db.writer_dsn, attempts=2), convex=mirror
        ),
        "convex": mirror,
    }


@pytest.fixture
def instance() -> Iterator[dg.DagsterInstance]:
    with dg.instance_for_test() as inst:
        yield inst


class CandleRun(TypedDict, total=False):
    """How a test's candle run differs from a plain incremental one."""

    config: dict[str, Any]  # the asset's run config, e.g. a full refetch
    checks: bool  # run the candle checks too
    tags: dict[str, str]  # extra run tags, e.g. the mode
    io_manager_dsn: str  # the IO manager writes here instead (an unreachable database)
    convex: ConvexMirrorResource  # mirror through this, with the mirror's in-sync check


def materialize_candles(
    instance: dg.DagsterInstance,
    db: MigratedDatabase,
    server: SimulatorServer,
    tickers: list[str],
    tf: Timeframe,
    **run: Unpack[CandleRun],
) -> dg.ExecuteInProcessResult:
    """Materializes candles for `tickers` at `tf`: one partition, or one range run over many."""
    known = set(instance.get_dynamic_partitions(TICKERS))
    instance.add_dynamic_partitions(TICKERS, [t for t in tickers if t not in known])
    run_tags = dict(run.get("tags", {}))
    kwargs: dict[str, Any] = {}
    if len(tickers) == 1:
        kwargs["partition_key"] = str(candle_key(tickers[0], tf))
    else:
        run_tags |= range_tags(tf, [t for t in instance.get_dynamic_partitions(TICKERS) if t in tickers])
    convex = run.get("convex")
    assets: list[Any] = [candles, *(CANDLE_CHECKS if run.get("checks") else ())]
    if convex is not None:
        assets.append(candles_convex_mirror_in_sync)
    return dg.materialize(
        assets,
        instance=instance,
        resources=resources(db, server, run.get("io_manager_dsn"), convex),
        run_config={"ops": {"candles": {"config": run.get("config", {})}}},
        tags=run_tags,
        raise_on_error=False,
        selection=None,
        **kwargs,
    )


def materialize_symbols(
    instance: dg.DagsterInstance, db: MigratedDatabase, server: SimulatorServer, **overrides: Any
) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        [symbols], instance=instance, resources=resources(db, server, **overrides), raise_on_error=False
    )


def failure_text(result: dg.ExecuteInProcessResult) -> str:
    """Every message in the first step failure's cause and context chain."""
    error = result.get_step_failure_events()[0].event_specific_data.error  # type: ignore[union-attr]
    parts, pending = [], [error]
    while pending:
        info = pending.pop()
        if info is None:
            continue
        parts.append(info.message)
        pending.extend([info.cause, info.context])
    return "\n".join(parts)
