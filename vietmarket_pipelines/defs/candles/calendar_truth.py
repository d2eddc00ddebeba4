"""The trading calendar as the market lived it: rule-based, corrected by the dates VNINDEX traded."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from vietmarket_core.market import trading_date_of
from vietmarket_pipelines.calendar import TradingCalendar
from vietmarket_pipelines.timescale.candle_store import CandleStore

MARKET_INDEX = "VNINDEX"


@dataclass(frozen=True)
class CalendarCrossCheck:
    """Where the rule-based calendar and VNINDEX's history disagree, inside VNINDEX's span."""

    first: date | None
    last: date | None
    closed_but_rule_says_open: list[date]
    traded_but_rule_says_closed: list[date]


def vnindex_trading_dates(store: CandleStore) -> list[date]:
    frame = store.read_series(MARKET_INDEX, "1d")
    return [trading_date_of(int(ts), "1d") for ts in frame["ts"].tolist()]


def observed_calendar(store: CandleStore) -> TradingCalendar:
    """The rule-based calendar, overridden by VNINDEX's trading dates where it has them."""
    return TradingCalendar(vnindex_trading_dates(store))


def cross_check(traded: list[date], rules: TradingCalendar | None = None) -> CalendarCrossCheck:
    rules = rules or TradingCalendar()
    if not traded:
        return CalendarCrossCheck(None, None, [], [])
    first, last = min(traded), max(traded)
    traded_set = set(traded)
    expected = set(rules.trading_days(first, last))
    return CalendarCrossCheck(
        first,
        last,
        closed_but_rule_says_open=sorted(expected - traded_set),
        traded_but_rule_says_closed=sorted(traded_set - expected),
    )
