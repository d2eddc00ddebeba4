"""The prices assets, per ticker: `daily_prices` from finfo and the `corporate_actions` derived from them."""

from datetime import UTC, datetime
from typing import Any

import dagster as dg

from vietmarket_core.market import VN_TZ
from vietmarket_pipelines.defs.common.market_data import MarketDataResource
from vietmarket_pipelines.defs.common.partition_metadata import add_partition_metadata
from vietmarket_pipelines.defs.common.partitions import tickers_partitions
from vietmarket_pipelines.defs.common.resources import TimescaleResource
from vietmarket_pipelines.defs.common.run_tags import RunMode
from vietmarket_pipelines.defs.prices.actions import SOURCE as ACTIONS_SOURCE
from vietmarket_pipelines.defs.prices.actions import derive_actions
from vietmarket_pipelines.defs.prices.fetch import SOURCE, PriceFetcher, RejectedTicker, TickerPrices, finfo_client
from vietmarket_pipelines.settings import step_retry_policy
from vietmarket_pipelines.timescale.corporate_actions import sync_corporate_actions
from vietmarket_pipelines.timescale.daily_prices import newest_daily_price_ts, read_daily_prices

# A whole-market backfill launched from the asset page becomes ~4 runs.
BACKFILL_PARTITIONS_PER_RUN = 400
# The metadata key a rejected ticker's materialization carries; `daily_prices_fetch_accepted` reads it back.
REJECTED_KEY = "rejected"
LISTED_REJECTIONS = 20


class PricesFailed(RuntimeError):
    """Every ticker of the step was rejected, and a retry may help (finfo was unavailable)."""


def _date(ts: int | None) -> str | None:
    return datetime.fromtimestamp(ts / 1000, tz=UTC).date().isoformat() if ts is not None else None


def price_metadata(result: TickerPrices) -> dict[str, Any]:
    s = result.stats
    md: dict[str, Any] = {
        "rows_fetched": result.fetched,
        "rows_inserted": s.inserted,
        "rows_updated": s.updated,
        "rows_unchanged": s.unchanged,
        "rows_deleted": s.deleted,
        "source": SOURCE,
        "history_replaced": result.shift is not None,
    }
    if result.first_ts is not None:
        md["first_date"] = _date(result.first_ts)
        md["last_date"] = _date(result.last_ts)
    if result.shift is not None:
        md["basis_shift"] = result.shift.describe()
        md["basis_shift_factor"] = result.shift.factor
    return md


def fail_whole_step(written: list[TickerPrices], rejected: list[RejectedTicker]) -> None:
    """Raises when nothing at all was written: a finfo outage is worth the step's retries."""
    if written or not rejected:
        return
    listed = "; ".join(r.problem for r in rejected[:LISTED_REJECTIONS])
    message = f"all {len(rejected)} tickers rejected, nothing written: {listed}"
    if any(r.retryable for r in rejected):
        raise PricesFailed(message)
    # A malformed payload will be just as malformed a minute later: fail now, clearly.
    raise dg.Failure(description=message, allow_retries=False)


def tickers_of_run(context: dg.AssetExecutionContext, timescale: TimescaleResource) -> list[str]:
    """The run's tickers; a scheduled tick drops delisted ones (they have nothing new)."""
    tickers = [str(k) for k in context.partition_keys]
    if RunMode.of(context.run.tags).is_tick:
        active = timescale.store().active_tickers()
        skipped = [t for t in tickers if t not in active]
        if skipped:
            context.log.info(f"skipping {len(skipped)} inactive tickers")
        return [t for t in tickers if t in active]
    return tickers


@dg.asset(
    partitions_def=tickers_partitions,
    group_name="prices",
    backfill_policy=dg.BackfillPolicy.multi_run(max_partitions_per_run=BACKFILL_PARTITIONS_PER_RUN),
    pool="market_data_http",
    retry_policy=step_retry_policy(),
    description=(
        "Daily prices per ticker from VNDirect finfo (stock_prices; vnmarket_prices for indices): raw OHLC and "
        "average, finfo's adjusted OHLC (one basis per ticker: as of the latest fetch that moved it), reference/"
        "ceiling/floor, matched and put-through volume and value. ts = 00:00 UTC of the trading date (unix ms); "
        "thousands of VND, indices in points. Incremental from the newest stored date minus an overlap; when the "
        "overlap's adClose/close differs from the stored one, the ticker's whole history is refetched and replaced "
        "in one transaction."
    ),
    kinds={"timescaledb"},
)
def daily_prices(
    context: dg.AssetExecutionContext, market_data: MarketDataResource, timescale: TimescaleResource
) -> None:
    tickers = tickers_of_run(context, timescale)
    today = datetime.now(VN_TZ).date()
    written: list[TickerPrices] = []
    rejected: list[RejectedTicker] = []
    with timescale.store().connection() as conn, finfo_client(market_data) as client:
        newest = newest_daily_price_ts(conn, tickers)
        fetcher = PriceFetcher(client, conn, today, context.log.info)
        for ticker in tickers:
            result = fetcher.update(ticker, newest.get(ticker))
            if isinstance(result, RejectedTicker):
                rejected.append(result)
            else:
                written.append(result)
    context.log.info(
        f"daily_prices: {len(written)} tickers written ({sum(w.fetched for w in written)} rows fetched, "
        f"{sum(w.stats.inserted for w in written)} inserted, {sum(w.stats.updated for w in written)} updated, "
        f"{sum(w.shift is not None for w in written)} histories replaced); {len(rejected)} rejected"
    )
    fail_whole_step(written, rejected)
    step = context.get_step_execution_context()
    for w in written:
        add_partition_metadata(step, daily_prices.key, w.ticker, price_metadata(w))
    for r in rejected:
        context.log.warning(r.problem)
        add_partition_metadata(step, daily_prices.key, r.ticker, {REJECTED_KEY: r.problem, "rows_fetched": 0})


@dg.asset(
    partitions_def=tickers_partitions,
    deps=[daily_prices],
    group_name="prices",
    backfill_policy=dg.BackfillPolicy.multi_run(max_partitions_per_run=BACKFILL_PARTITIONS_PER_RUN),
    description=(
        "Corporate actions per ticker derived from the stored daily_prices (source finfo): one row per step in "
        "adClose/close, with ex_date, factor, cumulative_factor, event_type and the evidence. Recomputed from the "
        "ticker's whole stored history, so cumulative factors follow a new action; an action the prices no longer "
        "show is removed."
    ),
    kinds={"timescaledb"},
)
def corporate_actions(context: dg.AssetExecutionContext, timescale: TimescaleResource) -> None:
    # An index's adClose/close is always 1: it derives no action and costs one read.
    tickers = tickers_of_run(context, timescale)
    totals = {"inserted": 0, "updated": 0, "removed": 0}
    with timescale.store().connection() as conn:
        for ticker in tickers:
            actions = derive_actions(read_daily_prices(conn, ticker))
            stats = sync_corporate_actions(conn, ticker, ACTIONS_SOURCE, actions)
            totals = {k: totals[k] + getattr(stats, k) for k in totals}
            md: dict[str, Any] = {
                "actions": stats.derived,
                "actions_inserted": stats.inserted,
                "actions_updated": stats.updated,
                "actions_removed": stats.removed,
                "source": ACTIONS_SOURCE,
            }
            if actions:
                md["latest_ex_date"] = actions[-1].ex_date.isoformat()
                md["latest_factor"] = actions[-1].factor
            add_partition_metadata(context.get_step_execution_context(), corporate_actions.key, ticker, md)
    context.log.info(f"corporate_actions over {len(tickers)} tickers: {totals}")
