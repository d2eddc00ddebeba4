"""Candle schedules in Asia/Ho_Chi_Minh: latest bars in sessions, a pass after the close, nightly repair and probe."""

from collections.abc import Iterator
from datetime import datetime, timedelta

import dagster as dg
import numpy as np

from vietmarket_core.market import TIMEFRAMES, VN_TZ, Timeframe, trading_date_of
from vietmarket_pipelines.calendar import AFTERNOON, MORNING, TradingCalendar
from vietmarket_pipelines.defs.calendar.truth import observed_calendar
from vietmarket_pipelines.defs.candles.assets import candles
from vietmarket_pipelines.defs.candles.gaps import find_gaps
from vietmarket_pipelines.defs.candles.partitions import candle_key, range_tags
from vietmarket_pipelines.defs.common.market_data import MarketDataResource
from vietmarket_pipelines.defs.common.partitions import tickers_in_partition_order
from vietmarket_pipelines.defs.common.resources import TimescaleResource
from vietmarket_pipelines.defs.common.run_tags import PROVIDER_TAG, RunMode, mode_tags

TZ = "Asia/Ho_Chi_Minh"
# A tick just after a session ends still runs, to catch that session's last bars.
AFTER_SESSION_GRACE = timedelta(minutes=10)
MAX_REPAIR_RUNS_PER_TICK = 50
# A tick's runs, heaviest first: the 15m run (a minute-bar payload per batch, resampled) takes the
# longest, so it is queued first and the lighter runs share the request budget around it.
TICK_ORDER: tuple[Timeframe, ...] = ("15m", "1h", "1d")

candles_job = dg.define_asset_job(
    "candles_job",
    selection=dg.AssetSelection.assets(candles),
    description="Materializes candles for the partitions a schedule or backfill names, with their checks.",
)


# The repair of existing data: launched as a backfill over every partition (README "Repairing a
# mixed adjustment basis"), each run probes its range's anchors and replaces the restated series.
candles_rebase_job = dg.define_asset_job(
    "candles_rebase_job",
    selection=dg.AssetSelection.assets(candles),
    tags=mode_tags(RunMode.PROBE),
    description="Finds every stored series whose oldest bars the provider has restated (a mixed adjustment "
    "basis) and replaces it whole. Resumable and idempotent: a series on the current basis costs its share of "
    "one batched anchor request and writes nothing.",
)


def active_tickers_in_partition_order(instance: dg.DagsterInstance, timescale: TimescaleResource) -> list[str]:
    """Active tickers in the order of the `tickers` partitions, so a first..last range is contiguous."""
    return tickers_in_partition_order(instance, timescale.store().active_tickers())


def whole_market_requests(
    mode: RunMode,
    when: datetime,
    tickers: list[str],
    timeframes: tuple[Timeframe, ...],
    market_data: MarketDataResource,
) -> Iterator[dg.RunRequest]:
    """One run per timeframe over every active ticker: a range of partitions, never a run per ticker."""
    if not tickers:
        return
    for tf in timeframes:
        yield dg.RunRequest(
            run_key=f"{mode}-{tf}-{when.isoformat()}",
            tags={
                **range_tags(tf, tickers),
                **mode_tags(mode),
                PROVIDER_TAG: market_data.routes.get(tf, "vci"),
            },
        )


def session_state(when: datetime, calendar: TradingCalendar) -> str | None:
    """None when a latest tick should run at `when`; otherwise why not."""
    local = when.astimezone(VN_TZ)
    if not calendar.is_trading_day(local.date()):
        kind = "a weekend" if local.weekday() >= 5 else "a holiday"
        return f"{local.date()} is {kind}: no session"
    t = local.time()
    for start, end in (MORNING, AFTERNOON):
        end_grace = (datetime.combine(local.date(), end) + AFTER_SESSION_GRACE).time()
        if start <= t <= end_grace:
            return None
    return f"{local.strftime('%H:%M')} ICT is outside the sessions"


def whole_market_tick(
    mode: RunMode,
    skip_reason: str | None,
    context: dg.ScheduleEvaluationContext,
    timescale: TimescaleResource,
    market_data: MarketDataResource,
) -> Iterator[dg.RunRequest] | dg.SkipReason:
    """The run requests of a latest or close tick, or why there are none."""
    if skip_reason:
        return dg.SkipReason(skip_reason)
    tickers = active_tickers_in_partition_order(context.instance, timescale)
    if not tickers:
        return dg.SkipReason("no active tickers yet: materialize `symbols` first")
    return whole_market_requests(mode, context.scheduled_execution_time, tickers, TICK_ORDER, market_data)


@dg.schedule(
    cron_schedule=["*/5 9-11 * * 1-5", "*/5 13-14 * * 1-5", "0,5,10 15 * * 1-5"],
    execution_timezone=TZ,
    job=candles_job,
    default_status=dg.DefaultScheduleStatus.STOPPED,
    description="Every 5 minutes in sessions on trading days: the latest bars of every active ticker, "
    "one run per timeframe.",
)
def candles_latest_schedule(
    context: dg.ScheduleEvaluationContext, timescale: TimescaleResource, market_data: MarketDataResource
) -> Iterator[dg.RunRequest] | dg.SkipReason:
    when = context.scheduled_execution_time
    calendar = observed_calendar(timescale.store())
    return whole_market_tick(RunMode.LATEST, session_state(when, calendar), context, timescale, market_data)


@dg.schedule(
    cron_schedule="30 15 * * 1-5",
    execution_timezone=TZ,
    job=candles_job,
    default_status=dg.DefaultScheduleStatus.STOPPED,
    description="15:30 on trading days, after the close: the final pass over every timeframe.",
)
def candles_close_schedule(
    context: dg.ScheduleEvaluationContext, timescale: TimescaleResource, market_data: MarketDataResource
) -> Iterator[dg.RunRequest] | dg.SkipReason:
    when = context.scheduled_execution_time
    local = when.astimezone(VN_TZ)
    trading = observed_calendar(timescale.store()).is_trading_day(local.date())
    closed = None if trading else f"{local.date()} is not a trading day"
    return whole_market_tick(RunMode.CLOSE, closed, context, timescale, market_data)


def gap_repairs(timescale: TimescaleResource, when: datetime) -> Iterator[tuple[str, Timeframe, str]]:
    """(ticker, tf, first missing date) of every active series with a gap, against the observed calendar
    and the grid of the ticker's exchange."""
    store = timescale.store()
    calendar = observed_calendar(store)
    active = store.active_tickers()
    exchanges = store.exchanges(sorted(active))
    extents = {tf: store.series_extents(tf) for tf in TIMEFRAMES}
    for tf in TIMEFRAMES:
        suspects = []
        for ticker, first, last, count in extents[tf]:
            if ticker not in active:
                continue
            days = (trading_date_of(first, tf), trading_date_of(last, tf))
            if count < len(calendar.grid(*days, tf, exchanges.get(ticker))):
                suspects.append(ticker)
        if not suspects:
            continue
        for ticker, ts in store.bar_timestamps(tf, suspects).items():
            gaps = find_gaps(ticker, tf, np.asarray(ts), calendar, exchange=exchanges.get(ticker))
            if gaps.first_missing is not None:
                yield ticker, tf, trading_date_of(gaps.first_missing, tf).isoformat()


@dg.schedule(
    cron_schedule="0 20 * * 1-5",
    execution_timezone=TZ,
    job=candles_job,
    default_status=dg.DefaultScheduleStatus.STOPPED,
    description="20:00 on weekdays: refetches every active series from its first missing bar (gaps are judged "
    "against `trading_calendar` on the ticker's exchange grid, so weekends, holidays and bins the exchange "
    "never trades never count), and probes an old anchor of every active series, one run per timeframe, "
    "replacing the series the provider restated.",
)
def candles_repair_schedule(
    context: dg.ScheduleEvaluationContext, timescale: TimescaleResource, market_data: MarketDataResource
) -> list[dg.RunRequest] | dg.SkipReason:
    when = context.scheduled_execution_time
    repairs = list(gap_repairs(timescale, when))
    if len(repairs) > MAX_REPAIR_RUNS_PER_TICK:
        context.log.warning(f"{len(repairs)} series have gaps; repairing {MAX_REPAIR_RUNS_PER_TICK} tonight")
    requests = [
        dg.RunRequest(
            run_key=f"repair-{tf}-{ticker}-{when.date().isoformat()}",
            partition_key=candle_key(ticker, tf),
            run_config={"ops": {"candles": {"config": {"full_refetch": True, "start_date": start}}}},
            tags={**mode_tags(RunMode.REPAIR), PROVIDER_TAG: market_data.provider_name(ticker, tf)},
        )
        for ticker, tf, start in repairs[:MAX_REPAIR_RUNS_PER_TICK]
    ]
    # The anchor probe catches the restatements the overlap cannot see (probe.py), including one
    # a gap repair's forced refetch would otherwise leave behind: one run per timeframe.
    tickers = active_tickers_in_partition_order(context.instance, timescale)
    requests += whole_market_requests(RunMode.PROBE, when, tickers, TICK_ORDER, market_data)
    return requests or dg.SkipReason("no active tickers yet: materialize `symbols` first")
