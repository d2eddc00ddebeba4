"""Corporate actions, newest ex-date first, in the old server's shape and with its cursor (beforeExDate, beforeId)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Final

import msgspec
from litestar import MediaType, Response, get
from litestar.di import NamedDependency
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import QueryParameter

from history_api.db import Database
from history_api.errors import DATA_RESPONSES
from history_api.models import (
    ActionsCursor,
    ActionsPageWire,
    CorporateActionsPage,
    TickerActionsPage,
    TickerActionsPageWire,
)
from history_api.params import Ticker, ticker_of
from vietmarket_core.sqlfiles import load_sql

# The old server's page sizes: 50 by default, and a larger limit is capped, not refused.
DEFAULT_LIMIT: Final = 50
MAX_LIMIT: Final = 500
MAX_ID: Final = 2**63 - 1


def _sql(name: str, limit_param: str) -> str:
    render = load_sql("history_api", "sql/corporate_actions_page.sql").format(limit=limit_param)
    return load_sql("history_api", name).format(render=render)


_LATEST_SQL = _sql("sql/corporate_actions_latest.sql", "$3")
_BY_TICKER_SQL = _sql("sql/corporate_actions_by_ticker.sql", "$4")
_encoder = msgspec.json.Encoder()

ActionsLimit = Annotated[
    int,
    QueryParameter(description=f"Rows per page, default {DEFAULT_LIMIT}; above {MAX_LIMIT} is capped to it.", ge=1),
]
BeforeExDate = Annotated[
    date | None,
    QueryParameter(
        name="beforeExDate",
        description="Cursor, YYYY-MM-DD: only actions with (ex_date, id) < (beforeExDate, beforeId). "
        "Without beforeId every action on beforeExDate itself is still listed, as the old server did.",
    ),
]
BeforeId = Annotated[
    int | None,
    QueryParameter(
        name="beforeId",
        description="Cursor: the id of the last row seen; used together with beforeExDate (ignored alone).",
        ge=1,
        le=MAX_ID,
    ),
]
_DESCRIPTION = (
    "Rows are the old server's columns (id, ticker, exchange, ex_date, record_date, pay_date, headline, "
    "event_type, source, source_url, ingested_at) plus factor and cumulative_factor, ordered by "
    "(ex_date desc, id desc); actions without a known ex_date are not listed. For the next page send "
    "nextCursor's beforeExDate and beforeId as query parameters; nextCursor is null on the last page."
)


def _cursor(more: bool, last_ex_date: date | None, last_id: int | None) -> ActionsCursor | None:
    if not more or last_ex_date is None or last_id is None:
        return None
    return ActionsCursor(beforeExDate=last_ex_date, beforeId=last_id)


def _json(body: msgspec.Struct) -> Response[bytes]:
    return Response(_encoder.encode(body), media_type=MediaType.JSON)


@get(
    "/corporate-actions/latest",
    summary="The newest corporate actions of every ticker",
    description=_DESCRIPTION,
    responses={200: ResponseSpec(CorporateActionsPage, description="Actions, newest first."), **DATA_RESPONSES},
    tags=["corporate actions"],
)
async def corporate_actions_latest(
    db: NamedDependency[Database],
    limit: ActionsLimit = DEFAULT_LIMIT,
    before_ex_date: BeforeExDate = None,
    before_id: BeforeId = None,
) -> Response[bytes]:
    page = await db.fetchrow(_LATEST_SQL, before_ex_date, before_id, min(limit, MAX_LIMIT))
    assert page is not None  # an aggregate always returns its one row
    count, rows_json, more, last_ex_date, last_id = page
    return _json(
        ActionsPageWire(
            ok=True,
            count=count,
            rows=msgspec.Raw(b"[" + rows_json.encode() + b"]"),
            nextCursor=_cursor(more, last_ex_date, last_id),
        )
    )


@get(
    "/corporate-actions/by-ticker",
    summary="One ticker's corporate actions",
    description=_DESCRIPTION,
    responses={200: ResponseSpec(TickerActionsPage, description="Actions, newest first."), **DATA_RESPONSES},
    tags=["corporate actions"],
)
async def corporate_actions_by_ticker(
    db: NamedDependency[Database],
    ticker: Ticker,
    limit: ActionsLimit = DEFAULT_LIMIT,
    before_ex_date: BeforeExDate = None,
    before_id: BeforeId = None,
) -> Response[bytes]:
    symbol = ticker_of(ticker)
    page = await db.fetchrow(_BY_TICKER_SQL, symbol, before_ex_date, before_id, min(limit, MAX_LIMIT))
    assert page is not None
    count, rows_json, more, last_ex_date, last_id = page
    return _json(
        TickerActionsPageWire(
            ok=True,
            ticker=symbol,
            count=count,
            rows=msgspec.Raw(b"[" + rows_json.encode() + b"]"),
            nextCursor=_cursor(more, last_ex_date, last_id),
        )
    )
