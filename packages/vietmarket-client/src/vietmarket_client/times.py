"""What the client's times mean: arguments read in Asia/Ho_Chi_Minh, and [start, end) turned into the API's unix ms.

The API's `ts` is unix ms: a 1d bar is 00:00 UTC of its trading date, an intraday bar the UTC
instant of its open.  The client shows a 1d bar at 00:00 Asia/Ho_Chi_Minh of its trading date
(frames.py), so a [start, end) range selects the bars whose *shown* time lies in it, on every
timeframe; for 1d that is the trading dates d with start <= d 00:00 ICT < end.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Final
from zoneinfo import ZoneInfo

VN_TZ: Final = ZoneInfo("Asia/Ho_Chi_Minh")
DAILY: Final = "1d"

TimeLike = date | datetime | str


def to_vn(value: TimeLike, what: str) -> datetime:
    """`value` as an aware datetime in Asia/Ho_Chi_Minh: a date is its 00:00 there, a naive datetime is wall time there.

    Strings are ISO 8601 (`2020-01-01`, `2020-01-01T09:15`, `2020-01-01T02:15:00Z`); one with an
    offset keeps its instant.
    """
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            raise ValueError(f"{what}={value!r} is not an ISO 8601 date or date-time") from None
    # datetime is a subclass of date: test it first.
    if isinstance(value, datetime):
        return value.replace(tzinfo=VN_TZ) if value.tzinfo is None else value.astimezone(VN_TZ)
    if isinstance(value, date):
        return datetime.combine(value, time(), VN_TZ)
    raise TypeError(f"{what} must be a date, a datetime or an ISO 8601 string, not {type(value).__name__}")


def unix_ms(at: datetime) -> int:
    # Integer arithmetic on the UTC offset: float timestamps lose exact milliseconds far from 1970.
    delta = at - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1000 + delta.microseconds // 1000


def daily_ts(trading_date: date) -> int:
    """The API's ts of the 1d bar of `trading_date`: 00:00 UTC of that date."""
    return unix_ms(datetime.combine(trading_date, time(), UTC))


def first_daily_ts_at_or_after(at: datetime) -> int:
    """The API ts of the first trading date d whose 00:00 Asia/Ho_Chi_Minh is at or after `at`."""
    local = at.astimezone(VN_TZ)
    day = local.date()
    if local > datetime.combine(day, time(), VN_TZ):
        day += timedelta(days=1)
    return daily_ts(day)


def bounds_ms(tf: str, start: TimeLike, end: TimeLike) -> tuple[int, int]:
    """The API's [from, to) in unix ms for the bars of `tf` whose shown time is in [start, end)."""
    begin, finish = to_vn(start, "start"), to_vn(end, "end")
    if finish < begin:
        raise ValueError(f"end ({finish.isoformat()}) is before start ({begin.isoformat()})")
    if tf == DAILY:
        return first_daily_ts_at_or_after(begin), first_daily_ts_at_or_after(finish)
    return unix_ms(begin), unix_ms(finish)


def trading_date(value: TimeLike) -> date:
    """The date `value` names in Asia/Ho_Chi_Minh (a date or a date string is taken as it is)."""
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    return to_vn(value, "date").date()
