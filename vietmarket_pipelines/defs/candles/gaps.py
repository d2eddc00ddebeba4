"""Gaps in a stored series: bars the trading calendar expects between a series' first and newest bar."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from vietmarket_core.market import Timeframe, trading_date_of
from vietmarket_pipelines.calendar import TradingCalendar


@dataclass(frozen=True)
class SeriesGaps:
    ticker: str
    tf: Timeframe
    expected: int
    stored: int
    missing_ts: list[int]

    @property
    def first_missing(self) -> int | None:
        return self.missing_ts[0] if self.missing_ts else None


def find_gaps(  # noqa: PLR0913 - the series, its calendar, and the window's end and grid
    ticker: str,
    tf: Timeframe,
    stored_ts: npt.NDArray[np.int64],
    calendar: TradingCalendar,
    until_ts: int | None = None,
    *,
    exchange: str | None = None,
) -> SeriesGaps:
    """Missing bars over the series' listed life: from its first stored bar to its newest one
    (or `until_ts`), on `exchange`'s grid (the market-wide one when unknown).  Weekends and
    holidays are never gaps; the calendar decides, and bins the exchange never trades are none."""
    if not len(stored_ts):
        return SeriesGaps(ticker, tf, 0, 0, [])
    first = trading_date_of(int(stored_ts[0]), tf)
    last = trading_date_of(int(until_ts if until_ts is not None else stored_ts[-1]), tf)
    grid = np.array(calendar.grid(first, last, tf, exchange), dtype=np.int64)
    grid = grid[(grid >= stored_ts[0]) & (grid <= (until_ts if until_ts is not None else stored_ts[-1]))]
    missing = np.setdiff1d(grid, stored_ts, assume_unique=True)
    return SeriesGaps(ticker, tf, len(grid), len(stored_ts), missing.tolist())
