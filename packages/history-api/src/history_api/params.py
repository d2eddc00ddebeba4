"""The query parameters several routes share, declared once so validation and the OpenAPI document agree."""

from __future__ import annotations

from typing import Annotated, Final

from litestar.params import QueryParameter

from history_api.adjustment import DESCRIPTION as ADJUSTMENT_DESCRIPTION
from history_api.adjustment import Adjustment
from history_api.errors import invalid
from vietmarket_core.market import TICKER_PATTERN, Timeframe

# The old server caps a larger page size to these, and so do we.
MAX_LIMIT: Final = 2000
# Unix ms up to year 2286: wide enough for any bar, narrow enough to stay a 64-bit integer.
MAX_TS_MS: Final = 9_999_999_999_999

Ticker = Annotated[
    str,
    QueryParameter(
        description="Ticker, e.g. VCB or VNINDEX; upper-cased before lookup.",
        min_length=1,
        max_length=12,
        pattern=r"^[A-Za-z0-9]+$",
    ),
]
Tf = Annotated[Timeframe, QueryParameter(description="Timeframe: 1d, 1h or 15m.")]


def limit_param(what: str, default: int, maximum: int) -> QueryParameter:
    """A page size as the old server took it: above `maximum` is capped to it; 0, negatives and non-numbers are 400."""
    return QueryParameter(description=f"{what}, default {default}; a larger value is capped to {maximum}.", ge=1)


Limit = Annotated[int, limit_param("Rows per page", 500, MAX_LIMIT)]
AdjustmentParam = Annotated[Adjustment, QueryParameter(description=ADJUSTMENT_DESCRIPTION)]


def ticker_of(raw: str) -> str:
    ticker = raw.upper()
    # QueryParameter(pattern=...) documents the rule; this enforces the one rule the database also checks.
    if not TICKER_PATTERN.fullmatch(ticker):
        raise invalid("ticker", f"{raw[:40]!r} is not a ticker (1-12 letters or digits)")
    return ticker
