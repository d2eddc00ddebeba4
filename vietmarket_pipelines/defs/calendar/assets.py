"""The `trading_calendar` asset: the days the market traded, from the indices' daily bars, merged with the rules."""

from datetime import UTC, datetime

import dagster as dg

from vietmarket_pipelines.defs.calendar.refresh import CalendarRefresh, CalendarUnavailable, refresh
from vietmarket_pipelines.defs.common.market_data import MarketDataResource
from vietmarket_pipelines.defs.common.resources import TimescaleResource
from vietmarket_pipelines.providers.http import ProviderError

TRADING_CALENDAR_DESCRIPTION = (
    "One verdict per calendar day (trading_calendar table) from the first to the last date on which "
    "an index (VNINDEX, VN30, HNXINDEX, UPCOMINDEX) traded, fetched from the provider of VNINDEX's 1d "
    "bars; outside that span the rule-based calendar decides. Every candle check and schedule judges "
    "by it. Each candles run refreshes it first when a session has opened or closed since its last "
    "refresh, and reports that as this asset's materialization."
)


@dg.asset(
    group_name="calendar", description=TRADING_CALENDAR_DESCRIPTION, kinds={"timescaledb"}, pool="market_data_http"
)
def trading_calendar(market_data: MarketDataResource, timescale: TimescaleResource) -> dg.MaterializeResult:  # type: ignore[type-arg]
    """The whole history, refetched in one request whatever is stored."""
    done = refresh(timescale.store(), market_data, datetime.now(UTC), only_if_due=False)
    if done is None:  # only a due-only refresh skips
        raise dg.Failure("the trading calendar was not refreshed")
    return dg.MaterializeResult(metadata=done.metadata())


def refresh_before_candles(
    context: dg.AssetExecutionContext, market_data: MarketDataResource, timescale: TimescaleResource
) -> CalendarRefresh | None:
    """The candles step's first act: the calendar its checks will judge by, refreshed if a session
    opened or closed since (one request, once however many runs start together) and recorded as a
    `trading_calendar` materialization of this run.  A failed refresh leaves the stored calendar,
    with a warning; the next run tries again."""
    try:
        done = refresh(timescale.store(), market_data, datetime.now(UTC), only_if_due=True)
    except (ProviderError, CalendarUnavailable) as exc:
        context.log.warning(f"trading calendar not refreshed, the stored one stays: {exc}")
        return None
    if done is not None:
        context.log_event(dg.AssetMaterialization(asset_key=trading_calendar.key, metadata=done.metadata()))
    return done
