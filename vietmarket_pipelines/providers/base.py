"""The one interface every candle source implements, and what a fetch returns."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from vietmarket_pipelines.bars import BarSeries, BarValidationError
from vietmarket_pipelines.market import INDEX_TICKERS, Timeframe

# No Vietnamese stock trades anywhere near 10,000,000 VND; a "thousands of VND" price above this
# means a provider sent raw VND.
MAX_STOCK_PRICE_THOUSANDS = 10_000.0


@dataclass
class FetchResult:
    """Per-ticker outcome of one fetch: a validated series, or the error that rejected it."""

    series: dict[str, BarSeries] = field(default_factory=dict)
    errors: dict[str, Exception] = field(default_factory=dict)


class CandleProvider(Protocol):
    """Fetches normalized bars (see bars.BarSeries) for tickers at a timeframe over a time range."""

    name: str
    # How many tickers one request may carry.
    batch_size: int

    def fetch(self, tickers: Sequence[str], tf: Timeframe, start: datetime | None, end: datetime) -> FetchResult:
        """Bars with start <= bar open <= end; start None asks for the full history."""
        ...

    def close(self) -> None: ...


def is_index(ticker: str) -> bool:
    return ticker in INDEX_TICKERS


def check_units(series: BarSeries) -> None:
    if is_index(series.ticker) or not len(series):
        return
    top = float(series.frame["h"].max())
    if top > MAX_STOCK_PRICE_THOUSANDS:
        raise BarValidationError(
            series.source,
            series.ticker,
            series.tf,
            f"price {top} is not in thousands of VND (raw VND sent where thousands were expected?)",
        )
