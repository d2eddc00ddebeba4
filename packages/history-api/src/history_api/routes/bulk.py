"""Bulk access: /candles/bulk (several series per call, with a cursor) and /export (the market, streamed as a file)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Sequence
from typing import Annotated, Any, Final, Literal

import asyncpg
import msgspec
from litestar import Request, Response, get
from litestar.di import NamedDependency
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import QueryParameter
from litestar.response import Stream

from history_api.adjustment import basis_sql
from history_api.bulk_limits import BulkLimits
from history_api.db import Database
from history_api.errors import DATA_RESPONSES, invalid
from history_api.export_formats import MEDIA_TYPES, WRITERS, ExportFormat, negotiate
from history_api.models import BulkPage, BulkPageWire, ErrorBody
from history_api.params import MAX_TS_MS, AdjustmentParam, Tf
from vietmarket_core.sqlfiles import load_sql

_BULK_SQL = basis_sql("sql/candles_bulk.sql")
_EXPORT_SQL = basis_sql("sql/export_bars.sql")
_EXPORT_TICKERS_SQL = load_sql("history_api", "sql/export_tickers.sql")
BULK_MAX_LIMIT: Final = 10_000
# Rows per FETCH from the export's cursor: what the process holds at once, whatever the range.
EXPORT_BATCH: Final = 5_000
_CURSOR = re.compile(r"^([A-Z0-9]{1,12}):([0-9]{1,13})$")
_encoder = msgspec.json.Encoder()

UNITS: Final = (
    "Columns: ticker; ts, unix ms (1d: 00:00 UTC of the trading date; 1h/15m: the UTC instant of the "
    "bar's open); o, h, l, c in thousands of VND (indices in points); v, a whole number of shares "
    "(indices: the reported volume), null when unknown; source, the provider the bar came from."
)
_TICKERS_PATTERN: Final = re.compile(r"^[A-Za-z0-9]{1,12}(,[A-Za-z0-9]{1,12})*$")
_TICKERS_RULES: Final[dict[str, Any]] = {"min_length": 1, "max_length": 1300, "pattern": _TICKERS_PATTERN.pattern}
Tickers = Annotated[
    str,
    QueryParameter(
        description="Comma-separated tickers, e.g. VCB,FPT,VNINDEX; upper-cased before lookup.", **_TICKERS_RULES
    ),
]
FromMs = Annotated[int, QueryParameter(name="from", description="Inclusive lower bound, unix ms.", ge=0, le=MAX_TS_MS)]
ToMs = Annotated[int, QueryParameter(name="to", description="Exclusive upper bound, unix ms.", ge=0, le=MAX_TS_MS)]


def _spec(description: str) -> ResponseSpec:
    return ResponseSpec(data_container=ErrorBody, description=description, generate_examples=False)


_LIMITS_400 = "A parameter is invalid: error is invalid_<parameter>, detail says why (and names the limit)."


def _tickers(raw: str) -> list[str]:
    # QueryParameter(pattern=...) documents the rule; this enforces it on every route, optional or not.
    if not _TICKERS_PATTERN.fullmatch(raw):
        raise invalid("tickers", f"{raw[:40]!r} is not a comma-separated list of tickers")
    return list(dict.fromkeys(t.upper() for t in raw.split(",")))


def _after(cursor: str | None) -> tuple[str, int]:
    if cursor is None:
        return "", -1
    found = _CURSOR.fullmatch(cursor)
    if found is None:
        raise invalid("cursor", "not a cursor this API issued (TICKER:ts)")
    return found.group(1), int(found.group(2))


@get(
    "/candles/bulk",
    summary="Bars of several tickers per call, by ticker then ts, with a cursor",
    description="The bars of up to HISTORY_API_BULK_MAX_TICKERS (default 100) tickers in [from, to), "
    "ordered by ticker, then ts ascending; follow nextCursor (null on the last page). limit is capped at "
    f"{BULK_MAX_LIMIT}. Its own per-key rate limit (HISTORY_API_BULK_RATE_LIMIT) applies. " + UNITS,
    responses={
        200: ResponseSpec(BulkPage, description="A page of bars."),
        **DATA_RESPONSES,
        400: _spec(_LIMITS_400),
    },
    tags=["candles"],
)
async def candles_bulk(  # noqa: PLR0913  # the query's parameters, plus request, pool and limits
    request: Request[Any, Any, Any],
    db: NamedDependency[Database],
    bulk_limits: NamedDependency[BulkLimits],
    tickers: Tickers,
    tf: Tf,
    from_ms: FromMs = 0,
    to_ms: ToMs = MAX_TS_MS,
    cursor: Annotated[
        str | None,
        QueryParameter(description="nextCursor of the previous page.", max_length=30, pattern=_CURSOR.pattern),
    ] = None,
    limit: Annotated[int, QueryParameter(description=f"Rows per page, >= 1; capped at {BULK_MAX_LIMIT}.", ge=1)] = 5000,
    adjustment: AdjustmentParam = "adjusted",
) -> Response[bytes]:
    symbols = _tickers(tickers)
    bulk_limits.check_tickers(len(symbols))
    after_ticker, after_ts = _after(cursor)
    await bulk_limits.admit("bulk", str(request.auth))
    page = await db.fetchrow(
        _BULK_SQL[adjustment, tf], symbols, tf, from_ms, to_ms, after_ticker, after_ts, min(limit, BULK_MAX_LIMIT)
    )
    assert page is not None  # an aggregate always returns its one row
    bars, last_ticker, last_ts, rows_json, more = page
    body = _encoder.encode(
        BulkPageWire(
            ok=True,
            tf=tf,
            count=bars,
            rows=msgspec.Raw(b"[" + rows_json.encode() + b"]"),
            nextCursor=f"{last_ticker}:{last_ts}" if more else None,
        )
    )
    return Response(body, media_type="application/json", headers={"Cache-Control": "private, no-cache"})


async def _rows(first: Sequence[asyncpg.Record], rest: AsyncIterator[Sequence[asyncpg.Record]]) -> AsyncIterator[Any]:
    yield first
    async for rows in rest:
        yield rows


@get(
    "/export",
    summary="Every bar of one timeframe over a date range, streamed as JSON lines, CSV or Parquet",
    description="The bars of every ticker (or of tickers, or of an exchange's listed tickers) in [from, to), "
    "ordered by ticker then ts, streamed in constant memory. The format is format= if given, else the "
    "Accept header (application/x-ndjson, text/csv, application/vnd.apache.parquet), else JSON lines. "
    "CSV starts with a header row; Parquet has int64 ts and v, float64 prices, zstd row groups. "
    "An export estimated over HISTORY_API_EXPORT_MAX_BARS bars is refused with 413 export_too_large; "
    "its own per-key rate limit (HISTORY_API_EXPORT_RATE_LIMIT) applies. " + UNITS,
    responses={
        200: ResponseSpec(None, description="The file.", media_type=MEDIA_TYPES["jsonl"]),
        **DATA_RESPONSES,
        400: _spec(_LIMITS_400),
        413: _spec("The export is estimated over the cost cap: error is export_too_large, detail names it."),
    },
    tags=["candles"],
)
async def export(  # noqa: PLR0913  # the query's parameters, plus request, pool and limits
    request: Request[Any, Any, Any],
    db: NamedDependency[Database],
    bulk_limits: NamedDependency[BulkLimits],
    tf: Tf,
    from_ms: FromMs,
    to_ms: ToMs,
    tickers: Annotated[
        str | None, QueryParameter(description="Only these tickers, comma-separated.", **_TICKERS_RULES)
    ] = None,
    exchange: Annotated[
        Literal["HOSE", "HNX", "UPCOM"] | None, QueryParameter(description="Only this exchange's listed tickers.")
    ] = None,
    format_: Annotated[
        ExportFormat | None, QueryParameter(name="format", description="jsonl, csv or parquet; overrides Accept.")
    ] = None,
    adjustment: AdjustmentParam = "adjusted",
) -> Stream:
    symbols = _tickers(tickers) if tickers is not None else None
    chosen = format_ or negotiate(request.headers.get("accept"))
    if symbols is not None:
        series = len(symbols)
    else:
        counted = await db.fetchrow(_EXPORT_TICKERS_SQL, exchange)
        series = int(counted[0]) if counted is not None else 0
    bulk_limits.check_export(tf, series, from_ms, to_ms)
    await bulk_limits.admit("export", str(request.auth))
    batches = db.stream(_EXPORT_SQL[adjustment, tf], tf, from_ms, symbols, exchange, to_ms, batch=EXPORT_BATCH)
    # The first batch is read before the status line goes out, so an unreachable database is still a 503.
    first: Sequence[asyncpg.Record] = await anext(batches, [])
    return Stream(
        WRITERS[chosen](_rows(first, batches)),
        media_type=MEDIA_TYPES[chosen],
        headers={
            "Content-Disposition": f'attachment; filename="vietmarket-{tf}-{from_ms}-{to_ms}.{chosen}"',
            "Cache-Control": "no-store",
        },
    )
