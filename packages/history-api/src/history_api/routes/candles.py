"""Deep candle history, the old contract's /candles, plus /latest from candles_latest."""

from __future__ import annotations

import time
from typing import Annotated, Any, Final

from litestar import Request, Response, get
from litestar.di import NamedDependency
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import QueryParameter

from history_api.adjustment import etag_salt
from history_api.caching import json_page
from history_api.candle_pages import CandlePages
from history_api.db import Database
from history_api.errors import DATA_RESPONSES
from history_api.models import CandlesPage, LatestBar, LatestPage
from history_api.page_cache import PageKey
from history_api.params import MAX_LIMIT, MAX_TS_MS, AdjustmentParam, Limit, Tf, Ticker, limit_param, ticker_of
from vietmarket_core.market import BAR_MS
from vietmarket_core.sqlfiles import load_sql

_LATEST_SQL = load_sql("history_api", "sql/latest.sql")
# A provider can still revise a bar shortly after it closes; only bars this far past their close
# are treated as final for caching.
_SETTLE_MS = 3_600_000
LATEST_DEFAULT_LIMIT: Final = 500


@get(
    "/candles",
    summary="A page of bars, newest first",
    description="Bars with ts < beforeTs (unix ms), newest first. Follow nextBeforeTs for older pages; "
    "it is null once history is exhausted. Pages of settled bars are cacheable (ETag, max-age). "
    "adjustment picks the price basis (adjusted by default, or raw: the traded prices). "
    "X-Cache says whether the server's page cache answered: hit, miss, or bypass (cache off or not listening).",
    responses={200: ResponseSpec(CandlesPage, description="A page of bars."), **DATA_RESPONSES},
    tags=["candles"],
)
# The signature is the old contract's /candles query plus the request (ETag) and the page source.
async def candles(  # noqa: PLR0913
    request: Request[Any, Any, Any],
    pages: NamedDependency[CandlePages],
    ticker: Ticker,
    tf: Tf,
    before_ts: Annotated[
        int | None,
        QueryParameter(
            name="beforeTs",
            description="Exclusive upper bound, unix ms; omit for the newest page.",
            ge=0,
            le=MAX_TS_MS,
            # Litestar leaves a zero bound out of an optional parameter's schema; state it outright.
            schema_extra={"minimum": 0},
        ),
    ] = None,
    limit: Limit = 500,
    adjustment: AdjustmentParam = "adjusted",
) -> Response[bytes]:
    symbol = ticker_of(ticker)
    key: PageKey = (adjustment, symbol, tf, before_ts, min(limit, MAX_LIMIT))
    page, state = await pages.page(key)
    newest = page.newest
    now_ms = time.time_ns() // 1_000_000
    newest_end = newest + BAR_MS[tf] if newest is not None else (before_ts if before_ts is not None else now_ms)
    settled = before_ts is not None and newest_end + _SETTLE_MS <= now_ms
    max_age_s = pages.past_page_max_age_s if settled else 0
    return json_page(
        request, page.body, max_age_s=max_age_s, salt=etag_salt(adjustment), extra_headers={"X-Cache": state}
    )


@get(
    "/latest",
    summary="The newest bar of every ticker in one timeframe",
    description="The old server's /latest: rows ordered by ticker, 500 by default. ingested_at is when the "
    "bar was last written (ISO 8601 UTC).",
    responses={200: ResponseSpec(LatestPage, description="Newest bars, by ticker."), **DATA_RESPONSES},
    tags=["candles"],
)
async def latest(
    db: NamedDependency[Database],
    tf: Tf,
    limit: Annotated[int, limit_param("Rows", LATEST_DEFAULT_LIMIT, MAX_LIMIT)] = LATEST_DEFAULT_LIMIT,
) -> LatestPage:
    records = await db.fetch(_LATEST_SQL, tf, min(limit, MAX_LIMIT))
    rows = [LatestBar(*r) for r in records]
    return LatestPage(ok=True, tf=tf, count=len(rows), rows=rows)
