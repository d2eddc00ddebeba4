"""The trading calendar as the market lived it: rule-based, corrected by the days the indices traded."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from vietmarket_pipelines.calendar import TradingCalendar
from vietmarket_pipelines.timescale.candle_store import CandleStore
from vietmarket_pipelines.timescale.trading_calendar import read_calendar_sql


@dataclass(frozen=True)
class CalendarCrossCheck:
    """Where the rule-based calendar and the indices' history disagree, inside that history's span."""

    first: date | None
    last: date | None
    closed_but_rule_says_open: list[date]
    traded_but_rule_says_closed: list[date]


def stored_days(store: CandleStore) -> list[tuple[date, bool]]:
    """Every day of the stored `trading_calendar` with whether the market traded, oldest first."""
    return [(d, bool(t)) for d, t in store.rows("trading calendar", read_calendar_sql())]


def traded_dates(store: CandleStore) -> list[date]:
    return [d for d, traded in stored_days(store) if traded]


def observed_calendar(store: CandleStore) -> TradingCalendar:
    """The calendar every candle check and schedule judges by: the rules, overridden inside the
    stored span by the `trading_calendar` asset's days (the rules alone until it has run)."""
    days = stored_days(store)
    return TradingCalendar([d for d, traded in days if traded], known_through=days[-1][0] if days else None)


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
