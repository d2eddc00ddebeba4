"""Market vocabulary shared by the pipelines and the History API: timeframes, tickers, the clock."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time
from typing import Final, Literal, get_args
from zoneinfo import ZoneInfo

VN_TZ: Final = ZoneInfo("Asia/Ho_Chi_Minh")

Timeframe = Literal["1d", "1h", "15m"]
TIMEFRAMES: Final[tuple[Timeframe, ...]] = get_args(Timeframe)

# The hypertable that holds each timeframe; a fixed mapping, so tf never reaches SQL as text.
CANDLE_TABLES: Final[dict[Timeframe, str]] = {tf: f"candles_{tf}" for tf in TIMEFRAMES}

# The spacing of a timeframe's bars in ms; every stored ts is a multiple of it.
BAR_MS: Final[dict[Timeframe, int]] = {"1d": 86_400_000, "1h": 3_600_000, "15m": 900_000}

# Tickers are upper-case letters and digits: VCB, E1VFVN30, VNINDEX.  The same rule is a CHECK
# constraint in schema.sql.
TICKER_PATTERN: Final = re.compile(r"^[A-Z0-9]{1,12}$")

INDEX_TICKERS: Final = ("VNINDEX", "HNXINDEX", "UPCOMINDEX", "VN30")
EXCHANGES: Final = ("HOSE", "HNX", "UPCOM")


def is_timeframe(value: str) -> bool:
    return value in TIMEFRAMES


def daily_bar_ts(trading_date: date) -> int:
    """The stored ts of a 1d bar: 00:00 UTC of its trading date, in unix ms."""
    midnight = datetime.combine(trading_date, time(0), tzinfo=UTC)
    return int(midnight.timestamp()) * 1000


def intraday_bar_ts(bar_open: datetime) -> int:
    """The stored ts of an intraday bar: the true UTC instant of its open, in unix ms.

    A naive datetime is ambiguous, so it is refused rather than guessed.
    """
    if bar_open.tzinfo is None:
        raise ValueError(f"intraday bar open {bar_open!r} has no time zone; pass an aware datetime")
    return int(bar_open.timestamp() * 1000)


def ts_to_vn(ts_ms: int) -> datetime:
    """The wall-clock time in Asia/Ho_Chi_Minh of a stored ts."""
    return datetime.fromtimestamp(ts_ms / 1000, tz=UTC).astimezone(VN_TZ)


def trading_date_of(ts_ms: int, tf: Timeframe) -> date:
    """The trading date a stored bar belongs to."""
    if tf == "1d":
        return datetime.fromtimestamp(ts_ms / 1000, tz=UTC).date()
    return ts_to_vn(ts_ms).date()


def bar_label(ts_ms: int, tf: Timeframe) -> str:
    """A bar in the market's own words: its trading date (1d), or its open on the Vietnam wall clock."""
    if tf == "1d":
        return trading_date_of(ts_ms, tf).isoformat()
    return ts_to_vn(ts_ms).strftime("%Y-%m-%d %H:%M ICT")
