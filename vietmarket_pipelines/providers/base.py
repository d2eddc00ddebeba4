"""The one interface every candle source implements, and what a fetch returns."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from vietmarket_core.market import INDEX_TICKERS, Timeframe
from vietmarket_pipelines.bars import BarSeries, BarValidationError, series_from_arrays
from vietmarket_pipelines.providers.http import ProviderClient

# Where a UDF-style history has no `from`, this reaches back past every listing (2000-01-01).
FULL_HISTORY_FROM_S = 946_684_800
NO_BARS: dict[str, list[Any]] = {k: [] for k in "tohlcv"}

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


@dataclass(frozen=True)
class PerTickerHistory:
    """A history endpoint that takes a single symbol per GET (SSI, VNDirect), fetched one ticker at a time.

    `params(ticker)` builds the query; `arrays(payload, what)` unwraps the provider's envelope into
    parallel t/o/h/l/c/v arrays (NO_BARS for "no data") or raises ProviderPayloadError.
    """

    client: ProviderClient
    path: str
    params: Callable[[str], dict[str, Any]]
    arrays: Callable[[Any, str], dict[str, Any]]

    def fetch(self, tickers: Sequence[str], tf: Timeframe, start: datetime | None, end: datetime) -> FetchResult:
        """One GET per ticker, as CandleProvider.fetch: bars with start <= bar open <= end."""
        result = FetchResult()
        start_ms = int(start.timestamp() * 1000) if start else None
        for ticker in tickers:
            what = f"history {ticker} {tf}"
            payload = self.client.request_json("GET", self.path, params=self.params(ticker), what=what)
            bars = self.arrays(payload, what)
            try:
                series = series_from_arrays(source=self.client.name, ticker=ticker, tf=tf, arrays=bars)
                check_units(series)
                result.series[ticker] = series.between(start_ms, int(end.timestamp() * 1000))
            except BarValidationError as exc:
                result.errors[ticker] = exc
        return result
