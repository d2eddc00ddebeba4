"""The `candles` asset: OHLCV bars per ticker x timeframe, fetched incrementally and validated strictly."""

import time
from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock_time

import dagster as dg
from pydantic import Field

from vietmarket_core.market import VN_TZ, Timeframe
from vietmarket_pipelines.bars import BarSeries
from vietmarket_pipelines.defs.candles.partitions import candle_key, candle_partitions, split_candle_key
from vietmarket_pipelines.defs.candles.prefetch import Prefetched
from vietmarket_pipelines.defs.common.market_data import MarketDataResource, step_retry_policy
from vietmarket_pipelines.defs.common.resources import TimescaleResource
from vietmarket_pipelines.io_managers.timescale_candles import CandleBatch
from vietmarket_pipelines.providers.http import ProviderError
from vietmarket_pipelines.timescale.candle_store import CandleStore

# An incremental fetch re-reads this much before the newest stored bar: providers revise recent
# bars (late prints, corrections), and an overlap costs little.
OVERLAP: dict[Timeframe, timedelta] = {
    "1d": timedelta(days=7),
    "1h": timedelta(days=3),
    "15m": timedelta(days=2),
}

MODE_TAG = "vietmarket/mode"
SCHEDULED_MODES = ("latest", "close")

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


def _vn_start_of(d: date) -> datetime:
    return datetime.combine(d, clock_time(0), tzinfo=VN_TZ)


def fetch_window(
    config: CandleFetchConfig, tf: Timeframe, newest_ts: int | None, now: datetime
) -> tuple[datetime | None, datetime]:
    """[start, end] to fetch for one series.  start None means the full history."""
    if config.full_refetch:
        start = _vn_start_of(date.fromisoformat(config.start_date)) if config.start_date else None
        end = (
            _vn_start_of(date.fromisoformat(config.end_date)) + timedelta(days=1) - timedelta(seconds=1)
            if config.end_date
            else now
        )
        return start, min(end, now)
    if newest_ts is None:
        return None, now
    return datetime.fromtimestamp(newest_ts / 1000, tz=UTC) - OVERLAP[tf], now


@dg.asset(
    partitions_def=candle_partitions,
    io_manager_key="timescale_candles",
    group_name="candles",
    backfill_policy=dg.BackfillPolicy.multi_run(max_partitions_per_run=BACKFILL_PARTITIONS_PER_RUN),
    pool="market_data_http",
    retry_policy=step_retry_policy(),
    description=(
        "OHLCV bars per (ticker, tf) in TimescaleDB. ts: unix ms; 1d = 00:00 UTC of the trading date, "
        "intraday = true UTC instant of the bar open. Prices in thousands of VND (indices in points). "
        "Incremental from the newest stored bar minus an overlap; `full_refetch` repairs a date range."
    ),
    kinds={"timescaledb"},
)
def candles(
    context: dg.AssetExecutionContext,
    config: CandleFetchConfig,
    market_data: MarketDataResource,
    timescale: TimescaleResource,
) -> CandleBatch:
    now = datetime.now(UTC)
    by_tf: dict[Timeframe, list[str]] = defaultdict(list)
    for key in context.partition_keys:
        ticker, tf = split_candle_key(key)
        by_tf[tf].append(ticker)

    store = timescale.store()
    batch = CandleBatch()
    if context.run.tags.get(MODE_TAG) in SCHEDULED_MODES:
        # A scheduled whole-market range may span delisted tickers; they have nothing new to fetch.
        active = store.active_tickers()
        skipped = {tf: [t for t in tickers if t not in active] for tf, tickers in by_tf.items()}
        by_tf = defaultdict(list, {tf: [t for t in tickers if t in active] for tf, tickers in by_tf.items()})
        if any(skipped.values()):
            context.log.info(f"skipping inactive tickers: {sum(map(len, skipped.values()))} series")

    def fetch_all() -> Iterator[BarSeries]:
        for tf, tickers in by_tf.items():
            yield from fetch_timeframe(config, market_data, store, tf, tickers, now, batch)

    # Fetching runs ahead in a thread while the IO manager writes what has arrived.
    batch.series = Prefetched(fetch_all).start()
    return batch


def fetch_timeframe(
    config: CandleFetchConfig,
    market_data: MarketDataResource,
    store: CandleStore,
    tf: Timeframe,
    tickers: list[str],
    now: datetime,
    batch: CandleBatch,
) -> Iterator[BarSeries]:
    """The validated series of one timeframe, a provider batch at a time; rejected partitions go
    to `batch.errors`, and a summary line to `batch.notes`."""
    started = time.monotonic()
    newest = {} if config.full_refetch else store.newest_ts(tf, tickers)
    # Requests group series by provider and by the day their window starts, so one batched
    # request serves many tickers without over-fetching for any of them.
    groups: dict[tuple[str, datetime | None], list[str]] = defaultdict(list)
    ends: dict[tuple[str, datetime | None], datetime] = {}
    for ticker in tickers:
        start, end = fetch_window(config, tf, newest.get(ticker), now)
        day = _vn_start_of(start.astimezone(VN_TZ).date()) if start else None
        group = (market_data.provider_name(ticker, tf), day)
        groups[group].append(ticker)
        ends[group] = end
    bars = series = 0
    for (provider_name, start), group_tickers in groups.items():
        provider = market_data.provider(provider_name)
        try:
            for i in range(0, len(group_tickers), provider.batch_size):
                chunk = group_tickers[i : i + provider.batch_size]
                try:
                    result = provider.fetch(chunk, tf, start, ends[(provider_name, start)])
                except ProviderError as exc:
                    for ticker in chunk:
                        batch.errors[str(candle_key(ticker, tf))] = exc
                    continue
                for ticker, error in result.errors.items():
                    batch.errors[str(candle_key(ticker, tf))] = error
                for s in result.series.values():
                    bars, series = bars + len(s), series + 1
                    yield s
        finally:
            provider.close()
    batch.notes.append(
        f"{tf}: fetched {bars} bars for {series} of {len(tickers)} series in {time.monotonic() - started:.1f} s"
    )
