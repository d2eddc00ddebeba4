"""News articles, newest first, keyset-paged on (published_at desc, url desc): the old server's cursor
(beforePublishedAt, beforeUrl) and an opaque one beside it."""

from __future__ import annotations

import base64
import binascii
from datetime import UTC, datetime, timedelta
from typing import Annotated, Final

import msgspec
from litestar import get
from litestar.di import NamedDependency
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import QueryParameter

from history_api.db import Database
from history_api.errors import DATA_RESPONSES, invalid
from history_api.models import Article, NewsCursor, NewsPage, TickerNewsPage
from history_api.params import Ticker, limit_param, ticker_of
from vietmarket_core.sqlfiles import load_sql

_LATEST_SQL = load_sql("history_api", "sql/news_latest.sql")
_BY_TICKER_SQL = load_sql("history_api", "sql/news_by_ticker.sql")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
_DESCRIPTION = (
    "Only fetched articles with a publication time are listed, newest first. For the next page send "
    "nextCursor's beforePublishedAt and beforeUrl as query parameters (the old server's way), or nextToken "
    "as cursor; both are null on the last page. published_at is ISO 8601 UTC; snippet is the text's first "
    "220 characters."
)

# The old server's page sizes.
DEFAULT_LIMIT: Final = 50
MAX_LIMIT: Final = 200

NewsLimit = Annotated[int, limit_param("Articles per page", DEFAULT_LIMIT, MAX_LIMIT)]
Cursor = Annotated[
    str | None,
    QueryParameter(
        description="nextToken from the previous page; omit for the newest. Not together with beforePublishedAt.",
        max_length=2048,
        pattern=r"^[A-Za-z0-9_-]+$",
    ),
]
BeforePublishedAt = Annotated[
    datetime | None,
    QueryParameter(
        name="beforePublishedAt",
        description="The old cursor: nextCursor.beforePublishedAt, ISO 8601 with an offset. Alone it lists "
        "articles published before it; with beforeUrl, those before (beforePublishedAt, beforeUrl).",
    ),
]
BeforeUrl = Annotated[
    str | None,
    QueryParameter(
        name="beforeUrl",
        description="The old cursor: nextCursor.beforeUrl; used together with beforePublishedAt (ignored alone).",
        max_length=2048,
        pattern=r"^[!-~]+$",
    ),
]


def encode_cursor(published_at: datetime, url: str) -> str:
    # Microseconds keep the keyset exact: timestamptz has microsecond precision.
    raw = msgspec.json.encode([(published_at - _EPOCH) // _MICROSECOND, url])
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def decode_cursor(cursor: str | None) -> tuple[datetime | None, str | None]:
    if cursor is None:
        return None, None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        micros, url = msgspec.json.decode(raw, type=tuple[int, str])
        # JSON can spell a NUL (\u0000) that no Postgres text holds: refuse it here, not in the driver.
        if "\x00" in url:
            raise ValueError(url)
        return _EPOCH + micros * _MICROSECOND, url
    except (binascii.Error, ValueError, msgspec.DecodeError, OverflowError):
        raise invalid("cursor", "not a cursor this API issued") from None


def keyset(
    cursor: str | None, before_published_at: datetime | None, before_url: str | None
) -> tuple[datetime | None, str | None]:
    """The page's upper bound from either cursor; beforeUrl without beforePublishedAt is ignored, as before."""
    if cursor is not None and before_published_at is not None:
        raise invalid("cursor", "send either cursor or beforePublishedAt/beforeUrl, not both")
    if cursor is not None:
        return decode_cursor(cursor)
    if before_published_at is None:
        return None, None
    if before_published_at.tzinfo is None:
        raise invalid("beforePublishedAt", "needs a UTC offset, e.g. 2026-02-13T08:30:00Z")
    try:
        # Years 1 and 9999 with an offset fall outside what a datetime (and the driver) can hold in UTC.
        return before_published_at.astimezone(UTC), before_url
    except OverflowError:
        raise invalid("beforePublishedAt", "outside years 1..9999 in UTC") from None


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


Record = tuple[str, str | None, str, datetime, str | None, list[str], str | None]


def _rows(records: list[Record], limit: int) -> tuple[list[Article], NewsCursor | None, str | None]:
    shown = records[:limit]
    rows = [Article(r[0], r[1], r[2], _iso(r[3]), r[4], list(r[5]), r[6]) for r in shown]
    if len(records) <= limit:
        return rows, None, None
    last = shown[-1]
    return rows, NewsCursor(_iso(last[3]), last[0]), encode_cursor(last[3], last[0])


@get(
    "/news/latest",
    summary="The newest articles",
    description=_DESCRIPTION,
    responses={200: ResponseSpec(NewsPage, description="Articles, newest first."), **DATA_RESPONSES},
    tags=["news"],
)
async def news_latest(
    db: NamedDependency[Database],
    limit: NewsLimit = DEFAULT_LIMIT,
    cursor: Cursor = None,
    before_published_at: BeforePublishedAt = None,
    before_url: BeforeUrl = None,
) -> NewsPage:
    before, url = keyset(cursor, before_published_at, before_url)
    page = min(limit, MAX_LIMIT)
    records = await db.fetch(_LATEST_SQL, before, url, page + 1)
    rows, next_cursor, next_token = _rows([tuple(r) for r in records], page)
    return NewsPage(ok=True, count=len(rows), rows=rows, nextCursor=next_cursor, nextToken=next_token)


@get(
    "/news/by-ticker",
    summary="Articles linked to one ticker",
    description=_DESCRIPTION,
    responses={
        200: ResponseSpec(TickerNewsPage, description="Articles, newest first."),
        **DATA_RESPONSES,
    },
    tags=["news"],
)
async def news_by_ticker(  # noqa: PLR0913  # the old contract's query plus the pool
    db: NamedDependency[Database],
    ticker: Ticker,
    limit: NewsLimit = DEFAULT_LIMIT,
    cursor: Cursor = None,
    before_published_at: BeforePublishedAt = None,
    before_url: BeforeUrl = None,
) -> TickerNewsPage:
    symbol = ticker_of(ticker)
    before, url = keyset(cursor, before_published_at, before_url)
    page = min(limit, MAX_LIMIT)
    records = await db.fetch(_BY_TICKER_SQL, symbol, before, url, page + 1)
    rows, next_cursor, next_token = _rows([tuple(r) for r in records], page)
    return TickerNewsPage(
        ok=True, ticker=symbol, count=len(rows), rows=rows, nextCursor=next_cursor, nextToken=next_token
    )
