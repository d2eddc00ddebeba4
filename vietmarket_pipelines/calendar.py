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


def _quarters(start: time, end: time) -> tuple[time, ...]:
    first, last = start.hour * 60 + start.minute, end.hour * 60 + end.minute
    return tuple(time(m // 60, m % 60) for m in range(first, last, 15))


# Bar opens in ICT.  Hourly bars follow the providers: the 11:00 bar covers 11:00-11:30 and the
# 14:00 bar 14:00-15:00.  Fifteen-minute bins are clock-aligned inside the two sessions.  This is
# the market-wide grid: every bar any exchange can print (UPCOM's, the widest).
BAR_OPENS: dict[Timeframe, tuple[time, ...]] = {
    "1d": (time(0, 0),),
    "1h": (time(9), time(10), time(11), time(13), time(14)),
    "15m": _quarters(*MORNING) + _quarters(*AFTERNOON),
}

# Each exchange's own grid: the bins its minute feed has prints in.  Auctions match once, at their
# end, and print that one minute: HOSE's opening auction (09:00-09:15) at 09:15 and the closing
# auctions (14:30-14:45, HOSE and HNX) at 14:45.  So on HOSE the 09:00 and 14:30 bins never trade,
# and on HNX the 14:30 bin; HNX's 14:45 bin holds the ATC match and the post-close trades to 15:00,
# HOSE's only the ATC match (14:45-15:00 is put-through only).  UPCOM trades continuously 09:00-11:30
# and 13:00-15:00: every bin.  Every hourly bin has prints on every exchange (HOSE's 09:00 bar from
# 09:15, its 14:00 bar 14:00-14:30 plus the ATC), so 1h and 1d are market-wide.  An index follows
# its exchange: it moves only when its constituents match (VNINDEX and VN30 HOSE, HNXINDEX HNX,
# UPCOMINDEX UPCOM; `symbols` says so).
EXCHANGE_BAR_OPENS: dict[str, dict[Timeframe, tuple[time, ...]]] = {
    "HOSE": {
        **BAR_OPENS,
        "15m": _quarters(time(9, 15), MORNING[1]) + _quarters(AFTERNOON[0], time(14, 30)) + (time(14, 45),),
    },
    "HNX": {**BAR_OPENS, "15m": _quarters(*MORNING) + _quarters(AFTERNOON[0], time(14, 30)) + (time(14, 45),)},
    "UPCOM": BAR_OPENS,
}


def bar_opens(tf: Timeframe, exchange: str | None = None) -> tuple[time, ...]:
    """The bar opens of `tf` on `exchange`'s grid; the market-wide grid for an unknown exchange."""
    return EXCHANGE_BAR_OPENS.get(exchange or "", BAR_OPENS)[tf]


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
    (its indices) actually traded.  Inside that span it overrides the rule-based calendar both
    ways.  The span runs from the first observed date to the last one, or to `known_through` when
    that is later (the observer looked, and the days after its last traded date were closed).
    """

    def __init__(self, observed: Iterable[date] | None = None, known_through: date | None = None) -> None:
        self._observed: frozenset[date] | None = None
        self._observed_span: tuple[date, date] | None = None
        if observed is not None:
            days = frozenset(observed)
            if days:
                self._observed = days
                self._observed_span = (min(days), max(max(days), known_through or min(days)))

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

    def bar_ts(self, d: date, tf: Timeframe, exchange: str | None = None) -> list[int]:
        """The stored ts of every bar of `tf` on trading date `d` on `exchange`'s grid, in order."""
        if tf == "1d":
            return [daily_bar_ts(d)]
        return [intraday_bar_ts(datetime.combine(d, t, tzinfo=VN_TZ)) for t in bar_opens(tf, exchange)]

    def grid(self, start: date, end: date, tf: Timeframe, exchange: str | None = None) -> list[int]:
        return [ts for d in self.trading_days(start, end) for ts in self.bar_ts(d, tf, exchange)]

    def is_on_grid(self, ts_ms: int, tf: Timeframe, exchange: str | None = None) -> bool:
        """Whether a stored ts is a bar open of `tf` on a trading day (on `exchange`'s grid)."""
        if tf == "1d":
            day = trading_date_of(ts_ms, "1d")
            return ts_ms == daily_bar_ts(day) and self.is_trading_day(day)
        local = ts_to_vn(ts_ms)
        return local.timetz().replace(tzinfo=None) in bar_opens(tf, exchange) and self.is_trading_day(local.date())
