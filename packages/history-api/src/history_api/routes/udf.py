"""A TradingView UDF datafeed over the same tables: config, symbol info, search, history and time.

Times on the wire are unix seconds, as UDF wants; `to` is exclusive, as TradingView's getBars says.
"""

from __future__ import annotations

import time
from typing import Annotated, Final, Literal

from litestar import MediaType, Response, get
from litestar.di import NamedDependency
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import QueryParameter

from history_api.adjustment import basis_sql
from history_api.db import Database
from history_api.errors import BAD_REQUEST, DATA_RESPONSES, PROTECTED
from history_api.models import (
    UdfConfig,
    UdfError,
    UdfHistory,
    UdfMark,
    UdfSearchResult,
    UdfSymbol,
    UdfTimescaleMark,
)
from history_api.params import AdjustmentParam, limit_param, ticker_of
from vietmarket_core.market import EXCHANGES, Timeframe
from vietmarket_core.sqlfiles import load_sql

SESSION: Final = "0900-1130,1300-1500"
MAX_SEARCH_RESULTS: Final = 100
TIMEZONE: Final = "Asia/Ho_Chi_Minh"
# Prices are thousands of VND with a 10-VND tick (0.01), indices are points to two decimals.
PRICESCALE: Final = 100
SUPPORTED_RESOLUTIONS: Final = ["15", "60", "D", "W", "M"]
NATIVE: Final[dict[str, Timeframe]] = {"15": "15m", "60": "1h", "1H": "1h", "D": "1d", "1D": "1d"}
INTRADAY: Final = frozenset(r for r, tf in NATIVE.items() if tf != "1d")
BUCKETED: Final[dict[str, tuple[str, int]]] = {
    "W": ("1 week", 7),
    "1W": ("1 week", 7),
    "M": ("1 month", 31),
    "1M": ("1 month", 31),
}
INDEX_EXCHANGE: Final = {"VNINDEX": "HOSE", "VN30": "HOSE", "HNXINDEX": "HNX", "UPCOMINDEX": "UPCOM"}
Resolution = Literal["15", "60", "1H", "D", "1D", "W", "1W", "M", "1M"]
MAX_BARS: Final = 5000
UdfSymbolName = Annotated[
    str,
    QueryParameter(
        description="TICKER or EXCHANGE:TICKER, as TradingView sends it.",
        min_length=1,
        max_length=20,
        pattern=r"^([A-Za-z]{1,6}:)?[A-Za-z0-9]{1,12}$",
    ),
]
DAY_MS: Final = 86_400_000
MAX_SECONDS: Final = 9_999_999_999
# The query of both marks routes: the range of the visible chart and its resolution.
MarksFrom = Annotated[int, QueryParameter(name="from", description="Inclusive, unix s.", ge=0, le=MAX_SECONDS)]
MarksTo = Annotated[int, QueryParameter(description="Exclusive, unix s.", ge=0, le=MAX_SECONDS)]
MarksResolution = Annotated[Resolution, QueryParameter(description="The chart's resolution, as for /udf/history.")]


_RANGE_SQL = basis_sql("sql/candles_range.sql")
_NEWEST_SQL = basis_sql("sql/candles_newest.sql")
_BEFORE_SQL = basis_sql("sql/candles_before.sql")
_BUCKETED_SQL = basis_sql("sql/candles_bucketed.sql")
_SYMBOL_SQL = load_sql("history_api", "sql/symbol.sql")
_SEARCH_SQL = load_sql("history_api", "sql/symbol_search.sql")
_MARKS_SQL = load_sql("history_api", "sql/timescale_marks.sql")
_NEWS_MARKS_SQL = load_sql("history_api", "sql/news_marks.sql")
# A chart asks for everything from 0; the newest articles are the ones worth a mark.
MAX_NEWS_MARKS: Final = 500
# An intraday chart puts an ex-date's mark on the date's first bar, 09:00 ICT = 02:00 UTC.
SESSION_OPEN_S: Final = 2 * 3600


def _symbol_name(raw: str) -> str:
    # TradingView sends EXCHANGE:TICKER once a symbol has been resolved.
    return ticker_of(raw.rsplit(":", 1)[-1])


@get("/udf/config", summary="UDF datafeed configuration", responses=PROTECTED, tags=["udf"])
async def udf_config() -> UdfConfig:
    return UdfConfig(
        supported_resolutions=SUPPORTED_RESOLUTIONS,
        supports_search=True,
        supports_group_request=False,
        supports_marks=True,
        supports_timescale_marks=True,
        supports_time=True,
        exchanges=[{"value": "", "name": "All", "desc": ""}] + [{"value": e, "name": e, "desc": e} for e in EXCHANGES],
        symbols_types=[
            {"name": "All", "value": ""},
            {"name": "Stock", "value": "stock"},
            {"name": "Index", "value": "index"},
        ],
    )


@get(
    "/udf/symbols",
    summary="UDF symbol info",
    responses={404: ResponseSpec(UdfError, description="Unknown symbol."), **DATA_RESPONSES},
    tags=["udf"],
)
async def udf_symbols(db: NamedDependency[Database], symbol: UdfSymbolName) -> UdfSymbol | Response[UdfError]:
    ticker = _symbol_name(symbol)
    record = await db.fetchrow(_SYMBOL_SQL, ticker)
    if record is None:
        return Response(UdfError(s="error", errmsg="unknown_symbol"), status_code=404)
    kind = record["kind"]
    exchange = record["exchange"] or INDEX_EXCHANGE.get(ticker, "")
    return UdfSymbol(
        name=ticker,
        ticker=ticker,
        description=record["name"] or ticker,
        type=kind,
        session=SESSION,
        timezone=TIMEZONE,
        exchange=exchange,
        listed_exchange=exchange,
        minmov=1,
        pricescale=PRICESCALE,
        has_intraday=True,
        has_daily=True,
        has_weekly_and_monthly=True,
        supported_resolutions=SUPPORTED_RESOLUTIONS,
        intraday_multipliers=["15", "60"],
        volume_precision=0,
        data_status="delayed_streaming",
    )


@get("/udf/search", summary="UDF symbol search", responses=DATA_RESPONSES, tags=["udf"])
async def udf_search(
    db: NamedDependency[Database],
    text: Annotated[
        str,
        QueryParameter(
            name="query",
            description="Ticker prefix or part of a name.",
            max_length=40,
            # Postgres text cannot hold NUL, and no name has control characters.
            pattern=r"^[^\x00-\x1f\x7f]*$",
        ),
    ] = "",
    limit: Annotated[int, limit_param("Results", 30, MAX_SEARCH_RESULTS)] = 30,
    type: Annotated[Literal["", "stock", "index"], QueryParameter(description="stock or index; empty for all.")] = "",
    exchange: Annotated[Literal["", "HOSE", "HNX", "UPCOM"], QueryParameter(description="Empty for all.")] = "",
) -> list[UdfSearchResult]:
    records = await db.fetch(_SEARCH_SQL, text.strip(), exchange or None, type or None, min(limit, MAX_SEARCH_RESULTS))
    results = []
    for r in records:
        exch = r["exchange"] or INDEX_EXCHANGE.get(r["ticker"], "")
        results.append(
            UdfSearchResult(
                symbol=r["ticker"],
                full_name=f"{exch}:{r['ticker']}" if exch else r["ticker"],
                description=r["name"] or r["ticker"],
                exchange=exch,
                ticker=r["ticker"],
                type=r["kind"],
            )
        )
    return results


@get(
    "/udf/history",
    summary="UDF bars: ascending, t in unix seconds",
    description="Bars with from <= t < to, or the countback newest bars before to. "
    "W and M are aggregated from 1d, each stamped with its first trading date. "
    "adjustment picks the price basis (adjusted by default, or raw: the traded prices).",
    responses={200: ResponseSpec(UdfHistory, description="s is ok, or no_data with nextTime."), **DATA_RESPONSES},
    tags=["udf"],
)
# The signature is UDF's /history query: TradingView sends these five parameters, by these names.
async def udf_history(  # noqa: PLR0913
    db: NamedDependency[Database],
    symbol: UdfSymbolName,
    resolution: Annotated[Resolution, QueryParameter(description="15, 60, D, W or M (1H, 1D, 1W, 1M also).")],
    from_: Annotated[
        int, QueryParameter(name="from", description="Leftmost bar time, inclusive, unix s.", ge=0, le=MAX_SECONDS)
    ],
    to: Annotated[int, QueryParameter(description="Rightmost bound, exclusive, unix s.", ge=0, le=MAX_SECONDS)],
    countback: Annotated[
        int | None, QueryParameter(description="Newest N bars before to; overrides from.", ge=1, le=MAX_BARS)
    ] = None,
    adjustment: AdjustmentParam = "adjusted",
) -> UdfHistory:
    ticker = _symbol_name(symbol)
    from_ms, to_ms = from_ * 1000, to * 1000
    if resolution in BUCKETED:
        interval, span_days = BUCKETED[resolution]
        span_ms = span_days * DAY_MS
        count = countback or MAX_BARS
        lo = max(0, to_ms - (count + 2) * span_ms) if countback else max(0, from_ms - span_ms)
        # Only buckets that start at least one span after the lower bound are whole.
        first_t = lo + span_ms if countback else from_ms
        bucketed = _BUCKETED_SQL[adjustment, "1d"]
        records = await db.fetch(bucketed, ticker, lo, to_ms + span_ms, interval, first_t, to_ms, count)
        tf: Timeframe = "1d"
    else:
        tf = NATIVE[resolution]
        if countback:
            records = await db.fetch(_NEWEST_SQL[adjustment, tf], ticker, tf, to_ms, countback)
        else:
            records = await db.fetch(_RANGE_SQL[adjustment, tf], ticker, tf, from_ms, to_ms, MAX_BARS)

    if not records:
        if countback:
            return UdfHistory(s="no_data")
        # Where the chart should look next: the newest bar before the empty range.
        before = await db.fetchrow(_BEFORE_SQL[adjustment, tf], ticker, tf, from_ms)
        next_ms = before[0] if before else None
        return UdfHistory(s="no_data", nextTime=next_ms // 1000 if next_ms is not None else None)
    bars = list(reversed(records))
    return UdfHistory(
        s="ok",
        t=[r["ts"] // 1000 for r in bars],
        o=[r["o"] for r in bars],
        h=[r["h"] for r in bars],
        l=[r["l"] for r in bars],
        c=[r["c"] for r in bars],
        v=[round(r["v"] or 0) for r in bars],  # share counts: whole numbers, as /candles prints them
    )


@get(
    "/udf/timescale_marks",
    summary="UDF timescale marks: the ticker's corporate-action ex-dates on the time axis",
    description="One mark per ex-date with from <= time < to (unix s). time is the ex-date's daily bar "
    "time (00:00 UTC of the date, as /udf/history's D bars) for D, W and M, and the date's 09:00 ICT "
    "open for 15 and 60. label: S split, D stock dividend, B bonus shares, C cash dividend, A other; "
    "tooltip: the ex-date, then one line per action of that date (headline or kind, factor, source).",
    responses={
        200: ResponseSpec(list[UdfTimescaleMark], description="Marks, ascending by time."),
        **DATA_RESPONSES,
    },
    tags=["udf"],
)
async def udf_timescale_marks(
    db: NamedDependency[Database],
    symbol: UdfSymbolName,
    from_: MarksFrom,
    to: MarksTo,
    resolution: MarksResolution,
) -> Response[bytes]:
    offset = SESSION_OPEN_S if resolution in INTRADAY else 0
    marks = await db.fetchrow(_MARKS_SQL, _symbol_name(symbol), from_, to, offset)
    assert marks is not None  # an aggregate always returns its one row
    return Response(marks[0].encode(), media_type=MediaType.JSON)


@get(
    "/udf/marks",
    summary="UDF marks: the news articles linked to the ticker, on its bars",
    description="One mark per linked article (of the newest 500 in range) with from <= time < to (unix s), "
    "ascending. time is the publication instant for 15 and 60, and for D, W and M the daily bar time "
    "(00:00 UTC) of the Vietnam date it was published on. color by the link's confidence: purple >= 0.8, "
    "teal >= 0.5, silver below. text is the title, the ICT publication time and the URL; title, url, "
    "published_at (ISO 8601 UTC) and confidence are also given on their own.",
    responses={
        200: ResponseSpec(list[UdfMark], description="Marks, ascending by time."),
        **DATA_RESPONSES,
    },
    tags=["udf"],
)
async def udf_marks(
    db: NamedDependency[Database],
    symbol: UdfSymbolName,
    from_: MarksFrom,
    to: MarksTo,
    resolution: MarksResolution,
) -> Response[bytes]:
    daily = resolution not in INTRADAY
    marks = await db.fetchrow(_NEWS_MARKS_SQL, _symbol_name(symbol), from_, to, daily, MAX_NEWS_MARKS)
    assert marks is not None  # an aggregate always returns its one row
    return Response(marks[0].encode(), media_type=MediaType.JSON)


@get(
    "/udf/time",
    summary="Server time, unix seconds, as plain text",
    media_type=MediaType.TEXT,
    responses={**PROTECTED, **BAD_REQUEST},
    tags=["udf"],
)
async def udf_time() -> str:
    return str(int(time.time()))
