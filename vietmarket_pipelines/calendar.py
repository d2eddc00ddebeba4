"""The Vietnamese trading calendar: trading days, sessions, and each timeframe's bar grid."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, time, timedelta
from functools import cache

from vn_market_calendar import HOSE

from vietmarket_core.market import (
    VN_TZ,
    Timeframe,
    daily_bar_ts,
    intraday_bar_ts,
    trading_date_of,
    ts_to_vn,
)

# The market-wide day: HOSE, HNX and UPCOM all open at 09:00, break 11:30-13:00 and end by 15:00.
MORNING = (time(9, 0), time(11, 30))
AFTERNOON = (time(13, 0), time(15, 0))

# Bar opens in ICT.  Hourly bars follow the providers: the 11:00 bar covers 11:00-11:30 and the
# 14:00 bar 14:00-15:00.  Fifteen-minute bins are clock-aligned inside the two sessions.
BAR_OPENS: dict[Timeframe, tuple[time, ...]] = {
    "1d": (time(0, 0),),
    "1h": (time(9), time(10), time(11), time(13), time(14)),
    "15m": tuple(time(9 + m // 60, m % 60) for m in range(0, 150, 15))
    + tuple(time(13 + m // 60, m % 60) for m in range(0, 120, 15)),
}

# The statutory solar holidays.  vn-market-calendar's closure list is dense only from 2018; for
# earlier years these are the closures it misses that never move.  Lunar ones (Tết, Hùng Kings)
# before 2018 come from the dates VNINDEX actually traded (pass them as `observed`).
FIXED_HOLIDAYS = ((1, 1), (4, 30), (5, 1), (9, 2))
DENSE_FROM_YEAR = 2018


@cache
def _library_holidays() -> frozenset[date]:
    return frozenset(HOSE().holidays)


class TradingCalendar:
    """Which dates trade and when their bars open.

    `observed` optionally pins the truth for a span of dates: the dates on which the market
    (VNINDEX) actually traded.  Inside that span it overrides the rule-based calendar both ways.
    """

    def __init__(self, observed: Iterable[date] | None = None) -> None:
        self._observed: frozenset[date] | None = None
        self._observed_span: tuple[date, date] | None = None
        if observed is not None:
            days = frozenset(observed)
            if days:
                self._observed = days
                self._observed_span = (min(days), max(days))

    def rule_says_trading(self, d: date) -> bool:
        if d.weekday() >= 5 or d in _library_holidays():
            return False
        return not (d.year < DENSE_FROM_YEAR and (d.month, d.day) in FIXED_HOLIDAYS)

    def is_trading_day(self, d: date) -> bool:
        if self._observed is not None and self._observed_span is not None:
            first, last = self._observed_span
            if first <= d <= last:
                return d in self._observed
        return self.rule_says_trading(d)

    def trading_days(self, start: date, end: date) -> list[date]:
        days, d = [], start
        while d <= end:
            if self.is_trading_day(d):
                days.append(d)
            d += timedelta(days=1)
        return days

    def previous_trading_day(self, d: date) -> date:
        d -= timedelta(days=1)
        while not self.is_trading_day(d):
            d -= timedelta(days=1)
        return d

    def bar_ts(self, d: date, tf: Timeframe) -> list[int]:
        """The stored ts of every bar of `tf` on trading date `d`, in order."""
        if tf == "1d":
            return [daily_bar_ts(d)]
        return [intraday_bar_ts(datetime.combine(d, t, tzinfo=VN_TZ)) for t in BAR_OPENS[tf]]

    def grid(self, start: date, end: date, tf: Timeframe) -> list[int]:
        return [ts for d in self.trading_days(start, end) for ts in self.bar_ts(d, tf)]

    def is_on_grid(self, ts_ms: int, tf: Timeframe) -> bool:
        """Whether a stored ts is a bar open of `tf` on a trading day."""
        if tf == "1d":
            day = trading_date_of(ts_ms, "1d")
            return ts_ms == daily_bar_ts(day) and self.is_trading_day(day)
        local = ts_to_vn(ts_ms)
        return local.timetz().replace(tzinfo=None) in BAR_OPENS[tf] and self.is_trading_day(local.date())
