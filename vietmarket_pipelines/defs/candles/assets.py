"""The `candles` asset: OHLCV bars per ticker x timeframe, fetched incrementally and validated strictly."""

from datetime import UTC, date, datetime

import dagster as dg
from pydantic import Field

from vietmarket_pipelines.defs.calendar.assets import refresh_before_candles, trading_calendar
from vietmarket_pipelines.defs.candles.fetch import CandleFetch, CandleFetcher, RefetchRange
from vietmarket_pipelines.defs.candles.partitions import candle_partitions, tickers_by_timeframe
from vietmarket_pipelines.defs.candles.prefetch import Prefetched
from vietmarket_pipelines.defs.candles.probe import AnchorProbe
from vietmarket_pipelines.defs.common.market_data import MarketDataResource
from vietmarket_pipelines.defs.common.resources import TimescaleResource
from vietmarket_pipelines.defs.common.run_tags import RunMode
from vietmarket_pipelines.settings import step_retry_policy

# A whole-market backfill launched from the asset page becomes ~4 runs per timeframe.
BACKFILL_PARTITIONS_PER_RUN = 400


class CandleFetchConfig(dg.Config):
    """Run config of the candles asset."""

    full_refetch: bool = Field(
        default=False, description="Refetch [start_date, end_date] regardless of what is stored."
    )
    start_date: str | None = Field(
        default=None, description="ISO date (Asia/Ho_Chi_Minh) a refetch starts at; empty: full history."
    )
    end_date: str | None = Field(default=None, description="ISO date a refetch ends at (inclusive); empty: now.")

    def refetch(self) -> RefetchRange | None:
        if not self.full_refetch:
            return None
        return RefetchRange(
            start_date=date.fromisoformat(self.start_date) if self.start_date else None,
            end_date=date.fromisoformat(self.end_date) if self.end_date else None,
        )


@dg.asset(
    partitions_def=candle_partitions,
    # Its checks judge by the trading calendar, which the step refreshes first when it is due.
    deps=[trading_calendar],
    io_manager_key="timescale_candles",
    group_name="candles",
    backfill_policy=dg.BackfillPolicy.multi_run(max_partitions_per_run=BACKFILL_PARTITIONS_PER_RUN),
    pool="market_data_http",
    retry_policy=step_retry_policy(),
    description=(
        "OHLCV bars per (ticker, tf) in TimescaleDB. ts: unix ms; 1d = 00:00 UTC of the trading date, "
        "intraday = true UTC instant of the bar open. Prices in thousands of VND (indices in points). "
        "Basis: the provider's (VCI and SSI adjusted as of the fetch, VNDirect raw; `source` on every bar). "
        "Incremental from the newest stored bar minus an overlap; when the overlap shows the provider rescaled "
        "history (an ex-date), the whole series is refetched and replaced in one transaction. "
        "`full_refetch` repairs a date range; "
        "a `probe` run (candles_rebase_job, the nightly repair) replaces series whose oldest bars the provider "
        "restated."
    ),
    kinds={"timescaledb"},
)
def candles(
    context: dg.AssetExecutionContext,
    config: CandleFetchConfig,
    market_data: MarketDataResource,
    timescale: TimescaleResource,
) -> CandleFetch:
    mode = RunMode.of(context.run.tags)
    by_tf = tickers_by_timeframe(context.partition_keys)
    store = timescale.store()
    # Before anything is fetched: the checks of this run must not judge by a calendar that lacks a
    # day (a backfill reaches VNINDEX only ~1,070 tickers in).
    refresh_before_candles(context, market_data, timescale)
    if mode.active_only:
        # A scheduled whole-market range may span delisted tickers; they have nothing new to fetch.
        active = store.active_tickers()
        wanted = {tf: [t for t in tickers if t in active] for tf, tickers in by_tf.items()}
        skipped = sum(map(len, by_tf.values())) - sum(map(len, wanted.values()))
        by_tf = wanted
        if skipped:
            context.log.info(f"skipping inactive tickers: {skipped} series")
    if mode is RunMode.PROBE:
        if config.full_refetch:
            raise dg.Failure(
                description=f"a {RunMode.PROBE} run compares anchors and replaces restated series; "
                "it takes no full_refetch range"
            )
        replacing = CandleFetcher(market_data, store, None, datetime.now(UTC), context.log.info)
        probe = AnchorProbe(replacing, context.log.info)
        return CandleFetch(mode, Prefetched(lambda: probe.fetch(by_tf)).start())
    fetcher = CandleFetcher(market_data, store, config.refetch(), datetime.now(UTC), context.log.info)
    # Fetching runs ahead in a thread while the IO manager writes what has arrived.
    return CandleFetch(mode, Prefetched(lambda: fetcher.fetch(by_tf)).start())
