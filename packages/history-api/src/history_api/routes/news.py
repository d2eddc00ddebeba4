"""News articles, newest first, keyset-paged on (published_at desc, url desc) with an opaque cursor."""

from __future__ import annotations

import base64
import binascii
from datetime import UTC, datetime, timedelta
from typing import Annotated

import msgspec
from litestar import get
from litestar.di import NamedDependency
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import QueryParameter

from history_api.db import Database
from history_api.errors import DATA_RESPONSES, invalid
from history_api.models import Article, NewsPage
from history_api.params import Ticker, ticker_of
from vietmarket_core.sqlfiles import load_sql

_LATEST_SQL = load_sql("history_api", "sql/news_latest.sql")
_BY_TICKER_SQL = load_sql("history_api", "sql/news_by_ticker.sql")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)

NewsLimit = Annotated[int, QueryParameter(description="Articles per page, 1..200.", ge=1, le=200)]
Cursor = Annotated[
    str | None,
    QueryParameter(
        description="nextCursor from the previous page; omit for the newest.",
        max_length=2048,
        pattern=r"^[A-Za-z0-9_-]+$",
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
        return _EPOCH + micros * _MICROSECOND, url
    except (binascii.Error, ValueError, msgspec.DecodeError, OverflowError):
        raise invalid("cursor", "not a cursor this API issued") from None


def _page(records: list[tuple[str, str | None, datetime, str, str | None, list[str]]], limit: int) -> NewsPage:
    more = len(records) > limit
    shown = records[:limit]
    rows = [
        Article(
            url=r[0],
            title=r[1],
            published_at=r[2].astimezone(UTC).isoformat().replace("+00:00", "Z"),
            source=r[3],
            description=r[4],
            tickers=list(r[5]),
        )
        for r in shown
    ]
    next_cursor = encode_cursor(shown[-1][2], shown[-1][0]) if more else None
    return NewsPage(ok=True, count=len(rows), rows=rows, nextCursor=next_cursor)


@get(
    "/news/latest",
    summary="The newest articles",
    responses={200: ResponseSpec(NewsPage, description="Articles, newest first."), **DATA_RESPONSES},
    tags=["news"],
)
async def news_latest(db: NamedDependency[Database], limit: NewsLimit = 50, cursor: Cursor = None) -> NewsPage:
    before, url = decode_cursor(cursor)
    records = await db.fetch(_LATEST_SQL, before, url, limit + 1)
    return _page([tuple(r) for r in records], limit)


@get(
    "/news/by-ticker",
    summary="Articles linked to one ticker",
    responses={200: ResponseSpec(NewsPage, description="Articles, newest first."), **DATA_RESPONSES},
    tags=["news"],
)
async def news_by_ticker(
    db: NamedDependency[Database], ticker: Ticker, limit: NewsLimit = 50, cursor: Cursor = None
) -> NewsPage:
    before, url = decode_cursor(cursor)
    records = await db.fetch(_BY_TICKER_SQL, ticker_of(ticker), before, url, limit + 1)
    return _page([tuple(r) for r in records], limit)
