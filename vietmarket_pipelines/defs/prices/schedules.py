"""Prices schedule in Asia/Ho_Chi_Minh: one whole-market run after the close on trading days."""

from datetime import datetime

import dagster as dg

from vietmarket_core.market import VN_TZ
from vietmarket_pipelines.calendar import TradingCalendar
from vietmarket_pipelines.defs.calendar.truth import observed_calendar
from vietmarket_pipelines.defs.common.partitions import tickers_in_partition_order
from vietmarket_pipelines.defs.common.resources import TimescaleResource
from vietmarket_pipelines.defs.common.run_tags import PROVIDER_TAG, RANGE_END_TAG, RANGE_START_TAG, RunMode, mode_tags
from vietmarket_pipelines.defs.prices.assets import corporate_actions, daily_prices
from vietmarket_pipelines.defs.prices.fetch import SOURCE

TZ = "Asia/Ho_Chi_Minh"

prices_job = dg.define_asset_job(
    "prices_job",
    selection=dg.AssetSelection.assets(daily_prices, corporate_actions),
    description="Materializes daily_prices, then the corporate_actions derived from them, for the tickers a "
    "schedule or backfill names, with their checks.",
)


def prices_close_requests(
    when: datetime, tickers: list[str], calendar: TradingCalendar
) -> dg.RunRequest | dg.SkipReason:
    """One run over every active ticker (a range of partitions, never a run per ticker), or why none."""
    local = when.astimezone(VN_TZ).date()
    if not calendar.is_trading_day(local):
        kind = "a weekend" if local.weekday() >= 5 else "a holiday"
        return dg.SkipReason(f"{local} is {kind}: no session, no new prices")
    if not tickers:
        return dg.SkipReason("no active tickers yet: materialize `symbols` first")
    return dg.RunRequest(
        run_key=f"prices-close-{when.isoformat()}",
        tags={
            RANGE_START_TAG: tickers[0],
            RANGE_END_TAG: tickers[-1],
            **mode_tags(RunMode.CLOSE),
            PROVIDER_TAG: SOURCE,
        },
    )


@dg.schedule(
    cron_schedule="45 15 * * 1-5",
    execution_timezone=TZ,
    job=prices_job,
    default_status=dg.DefaultScheduleStatus.STOPPED,
    description="15:45 on trading days, after the close and the candles' final pass: daily prices and corporate "
    "actions of every active ticker, in one run.",
)
def prices_close_schedule(
    context: dg.ScheduleEvaluationContext, timescale: TimescaleResource
) -> dg.RunRequest | dg.SkipReason:
    store = timescale.store()
    tickers = tickers_in_partition_order(context.instance, store.active_tickers())
    # The calendar the candles' runs keep (the rules corrected by the days the indices traded).
    return prices_close_requests(context.scheduled_execution_time, tickers, observed_calendar(store))
