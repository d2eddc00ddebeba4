"""The `symbols` asset: the listed universe in the symbols table and the `tickers` partitions."""

import time

import dagster as dg
import psycopg2

from vietmarket_core.sqlfiles import load_sql
from vietmarket_pipelines.defs.common.market_data import MarketDataResource
from vietmarket_pipelines.defs.common.partitions import TICKERS
from vietmarket_pipelines.defs.common.resources import TimescaleResource
from vietmarket_pipelines.providers.http import ProviderError, ProviderUnavailable
from vietmarket_pipelines.settings import step_retry_policy

PACKAGE = __package__ or "vietmarket_pipelines.defs.universe"


def _sql(name: str) -> str:
    return load_sql(PACKAGE, name)


@dg.asset(
    group_name="universe",
    description="Listed HOSE/HNX/UPCOM stocks plus VNINDEX, VN30, HNXINDEX and UPCOMINDEX, from VCI with "
    "VNDirect as the fallback. New tickers become `tickers` partitions; vanished ones turn inactive, "
    "keeping their history.",
    pool="market_data_http",
    retry_policy=step_retry_policy(),
    kinds={"timescaledb"},
)
def symbols(
    context: dg.AssetExecutionContext, market_data: MarketDataResource, timescale: TimescaleResource
) -> dg.MaterializeResult:  # type: ignore[type-arg]
    try:
        universe = market_data.universe()
    except ProviderUnavailable:
        raise  # an outage: the step's retry policy may outlast it
    except ProviderError as exc:
        # Partial or malformed listings do not heal in a minute; fail now, and change nothing.
        raise dg.Failure(description=str(exc), allow_retries=False) from exc
    listings = universe.listings
    tickers = [x.ticker for x in listings]
    now_ms = time.time_ns() // 1_000_000
    store = timescale.store()
    with store.connection() as conn, conn.cursor() as cur:
        try:
            cur.execute(
                _sql("upsert_symbols.sql"),
                {
                    "tickers": tickers,
                    "names": [x.name for x in listings],
                    "exchanges": [x.exchange for x in listings],
                    "kinds": [x.kind for x in listings],
                    "now_ms": now_ms,
                },
            )
            new = sorted(t for t, inserted in cur.fetchall() if inserted)
            cur.execute(_sql("deactivate_vanished.sql"), {"tickers": tickers, "now_ms": now_ms})
            vanished = sorted(t for (t,) in cur.fetchall())
            conn.commit()
        except psycopg2.Error:
            conn.rollback()
            raise
    known = set(context.instance.get_dynamic_partitions(TICKERS))
    added = sorted(set(tickers) - known)
    if added:
        context.instance.add_dynamic_partitions(TICKERS, added)
    for problem in universe.problems:
        context.log.warning(problem)
    exchanges = {
        ex: sum(1 for x in listings if x.exchange == ex and x.kind == "stock") for ex in ("HOSE", "HNX", "UPCOM")
    }
    return dg.MaterializeResult(
        metadata={
            "source": universe.source,
            "listed_stocks": universe.stock_count,
            "indices": len(listings) - universe.stock_count,
            **{f"stocks_{ex.lower()}": n for ex, n in exchanges.items()},
            "new_symbols": len(new),
            "new_partitions": len(added),
            "deactivated": dg.MetadataValue.json(vanished[:200]),
            "deactivated_count": len(vanished),
            "source_problems": dg.MetadataValue.json(list(universe.problems)),
            "dagster/row_count": len(listings),
        }
    )
