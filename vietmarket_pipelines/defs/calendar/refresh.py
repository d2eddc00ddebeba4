"""Refreshing trading_calendar from the indices' daily bars, at most once per opened or closed session."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from vietmarket_core.market import INDEX_TICKERS, VN_TZ, trading_date_of
from vietmarket_pipelines.calendar import MORNING, TradingCalendar
from vietmarket_pipelines.defs.common.market_data import MarketDataResource
from vietmarket_pipelines.timescale.candle_store import CandleStore
from vietmarket_pipelines.timescale.trading_calendar import (
    CalendarDays,
    lock_and_read_refreshed_at,
    read_calendar,
    write_calendar,
)

# A session's first prints are at 09:00 (HNX and UPCOM; HOSE's at 09:15) and its last by 15:00:
# a calendar refreshed before the latest of these moments on a weekday may lack a day.
REFRESH_AT = (MORNING[0], time(15, 0))
# An incremental refresh reaches back this far before the newest stored traded day.
OVERLAP = timedelta(days=30)


class CalendarUnavailable(RuntimeError):
    """The provider answered with no daily bar for any index."""


@dataclass(frozen=True)
class CalendarRefresh:
    """What one refresh wrote."""

    source: str
    first: date
    last: date
    trading_days: int
    days_changed: int
    disagreements_with_rules: int

    def metadata(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "first_day": self.first.isoformat(),
            "last_day": self.last.isoformat(),
            "trading_days": self.trading_days,
            "days_changed": self.days_changed,
            "disagreements_with_rules": self.disagreements_with_rules,
        }


def refresh_due(now: datetime) -> datetime:
    """The latest session open or close (09:00, 15:00 ICT on a weekday) at or before `now`."""
    local = now.astimezone(VN_TZ)
    day = local.date()
    while True:
        if day.weekday() < 5:
            for at in reversed(REFRESH_AT):
                moment = datetime.combine(day, at, tzinfo=VN_TZ)
                if moment <= local:
                    return moment
        day -= timedelta(days=1)


def observe(market_data: MarketDataResource, since: date | None, now: datetime) -> CalendarDays:
    """Every day from the first to the last date any index traded (from `since` on, or its whole
    history), each with whether one did: one batched request to the provider of VNINDEX's 1d."""
    name = market_data.provider_name("VNINDEX", "1d")
    provider = market_data.provider(name)
    start = datetime.combine(since, time(0), tzinfo=VN_TZ) if since else None
    try:
        result = provider.fetch(list(INDEX_TICKERS), "1d", start, now)
    finally:
        provider.close()
    traded = {trading_date_of(int(ts), "1d") for s in result.series.values() for ts in s.frame["ts"].tolist()}
    if not traded:
        problems = "; ".join(f"{t}: {e}" for t, e in result.errors.items()) or "no bars"
        raise CalendarUnavailable(f"{name}: no daily bar for any of {', '.join(INDEX_TICKERS)} ({problems})")
    first, last = min(traded), max(traded)
    days = [first + timedelta(days=i) for i in range((last - first).days + 1)]
    return CalendarDays(name, days, [d in traded for d in days])


def refresh(
    store: CandleStore, market_data: MarketDataResource, now: datetime, *, only_if_due: bool
) -> CalendarRefresh | None:
    """Refreshes the stored calendar in one transaction, under a lock so that concurrent runs fetch
    once; with `only_if_due`, only when a session opened or closed since the last refresh (None
    otherwise), and from OVERLAP before the newest stored traded day."""
    with store.connection() as conn:
        refreshed_at = lock_and_read_refreshed_at(conn)
        if only_if_due and refreshed_at is not None and refreshed_at >= refresh_due(now):
            conn.rollback()
            return None
        stored = [d for d, traded in read_calendar(conn) if traded]
        since = stored[-1] - OVERLAP if only_if_due and stored else None
        observed = observe(market_data, since, now)
        changed = write_calendar(conn, observed, now)
        conn.commit()
    traded = [d for d, t in zip(observed.days, observed.traded, strict=True) if t]
    rules = set(TradingCalendar().trading_days(observed.days[0], observed.days[-1]))
    return CalendarRefresh(
        source=observed.source,
        first=observed.days[0],
        last=observed.days[-1],
        trading_days=len(traded),
        days_changed=changed,
        disagreements_with_rules=len(rules.symmetric_difference(traded)),
    )
