"""The ticker universe: VCI's full listing first, VNDirect finfo as the fallback, plus the indices."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Literal

from vietmarket_core.market import TICKER_PATTERN
from vietmarket_pipelines.providers.http import ProviderClient, ProviderError, ProviderPayloadError, ProviderUnavailable

log = logging.getLogger(__name__)

VCI_LISTING_PATH = "/api/price/symbols/getAll"
VNDIRECT_LISTING_PATH = "/v4/stocks"
BOARD_TO_EXCHANGE = {"HSX": "HOSE", "HOSE": "HOSE", "HNX": "HNX", "UPCOM": "UPCOM"}
INDICES = (
    ("VNINDEX", "VN-Index", "HOSE"),
    ("VN30", "VN30 Index", "HOSE"),
    ("HNXINDEX", "HNX-Index", "HNX"),
    ("UPCOMINDEX", "UPCoM-Index", "UPCOM"),
)
# The market has ~1,600 listed stocks.  A listing far short of that is partial (the old system's
# VNDirect fallback timed out and returned ~430), and must not mark the rest inactive.
DEFAULT_MIN_STOCKS = 1_200


@dataclass(frozen=True)
class Listing:
    ticker: str
    name: str | None
    exchange: str
    kind: Literal["stock", "index"]


@dataclass(frozen=True)
class Universe:
    listings: tuple[Listing, ...]
    source: str
    problems: tuple[str, ...]

    @property
    def stock_count(self) -> int:
        return sum(1 for x in self.listings if x.kind == "stock")


def index_listings() -> list[Listing]:
    return [Listing(t, name, exchange, "index") for t, name, exchange in INDICES]


def vci_listing(client: ProviderClient) -> list[Listing]:
    payload = client.request_json("GET", VCI_LISTING_PATH, what="listing getAll")
    if not isinstance(payload, list):
        raise ProviderPayloadError(f"vci listing: expected a JSON list, got {type(payload).__name__}")
    listings = []
    for row in payload:
        if not isinstance(row, dict):
            raise ProviderPayloadError(f"vci listing: expected objects, got {row!r}")
        if row.get("type") != "STOCK" or row.get("board") not in BOARD_TO_EXCHANGE:
            continue
        ticker = str(row.get("symbol", "")).upper()
        if not TICKER_PATTERN.match(ticker):
            raise ProviderPayloadError(f"vci listing: symbol {row.get('symbol')!r} is not a ticker")
        listings.append(
            Listing(
                ticker,
                row.get("organName") or row.get("enOrganName"),
                BOARD_TO_EXCHANGE[row["board"]],
                "stock",
            )
        )
    return listings


def vndirect_listing(client: ProviderClient, page_size: int = 3000) -> list[Listing]:
    listings: list[Listing] = []
    page, total_pages = 1, 1
    while page <= total_pages:
        params: dict[str, Any] = {
            "q": "type:STOCK~status:LISTED~floor:HOSE,HNX,UPCOM",
            "fields": "code,companyName,floor",
            "size": page_size,
            "page": page,
        }
        payload = client.request_json("GET", VNDIRECT_LISTING_PATH, params=params, what=f"listing page {page}")
        if not isinstance(payload, dict) or not isinstance(payload.get("data"), list):
            raise ProviderPayloadError(f"vndirect listing page {page}: expected an object with a data list")
        total_pages = int(payload.get("totalPages") or 1)
        for row in payload["data"]:
            ticker = str(row.get("code", "")).upper()
            exchange = BOARD_TO_EXCHANGE.get(str(row.get("floor", "")).upper())
            if not TICKER_PATTERN.match(ticker) or exchange is None:
                raise ProviderPayloadError(f"vndirect listing page {page}: bad row {row!r}")
            listings.append(Listing(ticker, row.get("companyName"), exchange, "stock"))
        page += 1
    return listings


def fetch_universe(vci: ProviderClient, vndirect: ProviderClient, *, min_stocks: int = DEFAULT_MIN_STOCKS) -> Universe:
    """The listed stocks and the indices, from the first source whose listing looks complete.

    Raises ProviderError when no source gives a complete listing: better no update than a
    partial one that would mark most of the market inactive.
    """
    problems: list[str] = []
    outages = 0
    for name, client, read in (("vci", vci, vci_listing), ("vndirect", vndirect, vndirect_listing)):
        try:
            stocks = read(client)
        except ProviderError as exc:
            outages += isinstance(exc, ProviderUnavailable)
            problems.append(str(exc))
            log.warning("universe: %s failed: %s", name, exc)
            continue
        unique = {listing.ticker: listing for listing in stocks}
        if len(unique) < min_stocks:
            problems.append(f"{name} listing has only {len(unique)} stocks (< {min_stocks}); treated as partial")
            log.warning("universe: %s", problems[-1])
            continue
        return Universe(
            tuple(sorted(unique.values(), key=lambda x: x.ticker)) + tuple(index_listings()),
            name,
            tuple(problems),
        )
    message = "no complete ticker listing from any source: " + "; ".join(problems)
    raise ProviderUnavailable(message) if outages == len(problems) else ProviderError(message)
