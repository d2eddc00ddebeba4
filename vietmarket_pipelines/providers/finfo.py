"""VNDirect finfo daily prices: raw and adjusted stock prices with the day's band, and index prices."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

from vietmarket_core.market import EXCHANGES, INDEX_TICKERS, TICKER_PATTERN, daily_bar_ts
from vietmarket_pipelines.prices import DailyPrice, FactorStep, adjustment_factors, cumulative_factors
from vietmarket_pipelines.providers.base import MAX_STOCK_PRICE_THOUSANDS
from vietmarket_pipelines.providers.http import HttpPolicy, ProviderClient, ProviderPayloadError
from vietmarket_pipelines.providers.pacing import Pacer

__all__ = [
    "INDEX_PRICES_PATH",
    "PAGE_SIZE",
    "STOCK_PRICES_PATH",
    "DailyPrice",
    "FactorStep",
    "FinfoPricesClient",
    "adjustment_factors",
    "cumulative_factors",
]

STOCK_PRICES_PATH = "/v4/stock_prices"
INDEX_PRICES_PATH = "/v4/vnmarket_prices"
# The page size clients of this API use; a ticker's whole history fits in one page.
PAGE_SIZE = 9990

# DailyPrice field -> finfo field.  Every one is required on every row of its kind.
STOCK_FIELDS = {
    "open": "open",
    "high": "high",
    "low": "low",
    "close": "close",
    "average": "average",
    "ad_open": "adOpen",
    "ad_high": "adHigh",
    "ad_low": "adLow",
    "ad_close": "adClose",
    "ad_average": "adAverage",
    "reference": "basicPrice",
    "ceiling": "ceilingPrice",
    "floor": "floorPrice",
    "nm_volume": "nmVolume",
    "nm_value": "nmValue",
    "pt_volume": "ptVolume",
    "pt_value": "ptValue",
}
INDEX_FIELDS = {
    name: wire
    for name, wire in STOCK_FIELDS.items()
    if name in ("open", "high", "low", "close", "nm_volume", "nm_value", "pt_volume", "pt_value")
}
POSITIVE = ("open", "high", "low", "close", "average", "ad_open", "ad_high", "ad_low", "ad_close", "ad_average")
NON_NEGATIVE = ("nm_volume", "nm_value", "pt_volume", "pt_value")
# (lower, upper) pairs every row obeys; a None bound (an index's band) is skipped.
ORDERED = (
    ("low", "open"),
    ("open", "high"),
    ("low", "close"),
    ("close", "high"),
    ("ad_low", "ad_open"),
    ("ad_open", "ad_high"),
    ("ad_low", "ad_close"),
    ("ad_close", "ad_high"),
    ("floor", "reference"),
    ("reference", "ceiling"),
)


def _number(row: dict[str, Any], wire: str, where: str) -> float:
    if wire not in row or row[wire] is None:
        raise ProviderPayloadError(f"finfo {where}: {wire} missing")
    value = row[wire]
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ProviderPayloadError(f"finfo {where}: {wire} is {value!r}, not a number")
    return float(value)


def _row_date(row: Any, ticker: str, what: str) -> date:
    if not isinstance(row, dict):
        raise ProviderPayloadError(f"finfo {what}: expected row objects, got {row!r}")
    if row.get("code") != ticker:
        raise ProviderPayloadError(f"finfo {what}: row for code {row.get('code')!r}, not {ticker}")
    try:
        return date.fromisoformat(str(row.get("date")))
    except ValueError as exc:
        raise ProviderPayloadError(f"finfo {what}: date {row.get('date')!r} is not YYYY-MM-DD") from exc


def _check(price: DailyPrice, where: str) -> None:
    values = {name: getattr(price, name) for name in (*POSITIVE, *NON_NEGATIVE, "reference", "ceiling", "floor")}
    for name in POSITIVE:
        if values[name] is not None and values[name] <= 0:
            raise ProviderPayloadError(f"finfo {where}: {name} {values[name]} is not positive")
    for name in NON_NEGATIVE:
        if values[name] < 0:
            raise ProviderPayloadError(f"finfo {where}: {name} {values[name]} is negative")
    for lower, upper in ORDERED:
        if values[lower] is not None and values[upper] is not None and values[lower] > values[upper]:
            raise ProviderPayloadError(f"finfo {where}: {lower} {values[lower]} > {upper} {values[upper]}")
    if price.exchange is not None and price.high > MAX_STOCK_PRICE_THOUSANDS:
        raise ProviderPayloadError(
            f"finfo {where}: high {price.high} is not in thousands of VND (raw VND sent where thousands were expected?)"
        )


def parse_stock_row(row: dict[str, Any], ticker: str, day: date, source: str) -> DailyPrice:
    where = f"stock_prices {ticker} {day}"
    exchange = row.get("floor")
    if exchange not in EXCHANGES:
        raise ProviderPayloadError(f"finfo {where}: floor {exchange!r} is not one of {', '.join(EXCHANGES)}")
    values = {name: _number(row, wire, where) for name, wire in STOCK_FIELDS.items()}
    price = DailyPrice(ticker=ticker, ts=daily_bar_ts(day), exchange=str(exchange), source=source, **values)
    _check(price, where)
    return price


def parse_index_row(row: dict[str, Any], ticker: str, day: date, source: str) -> DailyPrice:
    where = f"vnmarket_prices {ticker} {day}"
    v = {name: _number(row, wire, where) for name, wire in INDEX_FIELDS.items()}
    # An index is never adjusted: its adjusted columns repeat the raw ones.
    price = DailyPrice(
        ticker=ticker, ts=daily_bar_ts(day), exchange=None, source=source,
        open=v["open"], high=v["high"], low=v["low"], close=v["close"], average=None,
        ad_open=v["open"], ad_high=v["high"], ad_low=v["low"], ad_close=v["close"], ad_average=None,
        reference=None, ceiling=None, floor=None,
        nm_volume=v["nm_volume"], nm_value=v["nm_value"], pt_volume=v["pt_volume"], pt_value=v["pt_value"],
    )  # fmt: skip
    _check(price, where)
    return price


def _envelope(payload: Any, what: str) -> tuple[list[Any], int, int]:
    """(data, totalPages, totalElements) of one page."""
    if not isinstance(payload, dict) or not isinstance(payload.get("data"), list):
        raise ProviderPayloadError(f"finfo {what}: expected an object with a data list")
    pages, total = payload.get("totalPages"), payload.get("totalElements")
    if type(pages) is not int or type(total) is not int:  # not isinstance: True is no page count
        raise ProviderPayloadError(f"finfo {what}: totalPages {pages!r} / totalElements {total!r} are not integers")
    return payload["data"], pages, total


@dataclass(frozen=True)
class Endpoint:
    """One finfo price route: its path, its name in errors, and how one of its rows is read."""

    path: str
    label: str
    parse: Callable[[dict[str, Any], str, date, str], DailyPrice]


STOCKS = Endpoint(STOCK_PRICES_PATH, "stock_prices", parse_stock_row)
INDICES = Endpoint(INDEX_PRICES_PATH, "vnmarket_prices", parse_index_row)


def parse_rows(
    endpoint: Endpoint, rows: list[Any], ticker: str, span: tuple[date, date], source: str
) -> list[DailyPrice]:
    """Every row read and checked, dates ascending once each inside the requested span."""
    what = f"{endpoint.label} {ticker}"
    start, end = span
    prices: list[DailyPrice] = []
    previous: date | None = None
    for row in rows:
        day = _row_date(row, ticker, what)
        if previous is not None and day <= previous:
            raise ProviderPayloadError(f"finfo {what}: date {day} follows {previous}; dates must ascend, once each")
        if not start <= day <= end:
            raise ProviderPayloadError(f"finfo {what}: date {day} is outside the requested {start}..{end}")
        prices.append(endpoint.parse(row, ticker, day, source))
        previous = day
    return prices


class FinfoPricesClient:
    """Daily prices of one ticker over a date range from VNDirect finfo, every page, strictly checked."""

    name = "finfo"

    def __init__(
        self,
        base_url: str,
        *,
        policy: HttpPolicy | None = None,
        pacer: Pacer | None = None,
        page_size: int = PAGE_SIZE,
    ) -> None:
        self.client = ProviderClient(self.name, base_url, policy=policy, pacer=pacer)
        self.page_size = page_size

    def close(self) -> None:
        self.client.close()

    def __enter__(self) -> FinfoPricesClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def stock_prices(self, ticker: str, start: date, end: date) -> list[DailyPrice]:
        """Raw, adjusted and band prices of a stock for trading dates in [start, end], ascending.

        Raises ProviderPayloadError if any row breaks the format (a missing adClose included):
        nothing of a rejected answer is returned.
        """
        if ticker in INDEX_TICKERS:
            raise ValueError(f"{ticker} is an index: use index_prices")
        return parse_rows(STOCKS, self._pages(STOCKS, ticker, start, end), ticker, (start, end), self.name)

    def index_prices(self, ticker: str, start: date, end: date) -> list[DailyPrice]:
        """An index's daily prices for trading dates in [start, end], ascending; adjusted = raw, no band."""
        if ticker not in INDEX_TICKERS:
            raise ValueError(f"{ticker} is not an index ({', '.join(INDEX_TICKERS)}): use stock_prices")
        return parse_rows(INDICES, self._pages(INDICES, ticker, start, end), ticker, (start, end), self.name)

    def _pages(self, endpoint: Endpoint, ticker: str, start: date, end: date) -> list[Any]:
        """Every row of the query, page by page until totalPages; a short page before the last is an error."""
        if not TICKER_PATTERN.match(ticker):
            raise ValueError(f"{ticker!r} is not a ticker")
        what = f"{endpoint.label} {ticker}"
        rows: list[Any] = []
        page, pages, expected = 1, 1, 0
        while page <= pages:
            params = {
                "sort": "date",
                "q": f"code:{ticker}~date:gte:{start.isoformat()}~date:lte:{end.isoformat()}",
                "size": self.page_size,
                "page": page,
            }
            payload = self.client.request_json("GET", endpoint.path, params=params, what=f"{what} page {page}")
            data, pages, total = _envelope(payload, f"{what} page {page}")
            expected = total if page == 1 else expected
            if page < pages and len(data) < self.page_size:
                raise ProviderPayloadError(
                    f"finfo {what}: paging cut short: page {page} of {pages} has {len(data)} rows, "
                    f"expected {self.page_size}"
                )
            rows.extend(data)
            page += 1
        if len(rows) != expected:
            raise ProviderPayloadError(
                f"finfo {what}: paging cut short: {len(rows)} rows over {pages} pages, totalElements {expected}"
            )
        return rows
