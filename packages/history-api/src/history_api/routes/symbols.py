"""The listed universe: tickers, names, exchanges, and whether each still trades."""

from __future__ import annotations

from typing import Annotated, Literal

from litestar import get
from litestar.di import NamedDependency
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import QueryParameter

from history_api.db import Database
from history_api.errors import DATA_RESPONSES
from history_api.models import Symbol, SymbolList
from vietmarket_core.sqlfiles import load_sql

_SYMBOLS_SQL = load_sql("history_api", "sql/symbols.sql")


@get(
    "/symbols",
    summary="Listed tickers, filterable by exchange and active",
    responses={200: ResponseSpec(SymbolList, description="Tickers in alphabetical order."), **DATA_RESPONSES},
    tags=["symbols"],
)
async def symbols(
    db: NamedDependency[Database],
    exchange: Annotated[
        Literal["HOSE", "HNX", "UPCOM"] | None, QueryParameter(description="Only this exchange.")
    ] = None,
    active: Annotated[bool | None, QueryParameter(description="true: still listed; false: vanished.")] = None,
) -> SymbolList:
    rows = [Symbol(*r) for r in await db.fetch(_SYMBOLS_SQL, exchange, active)]
    return SymbolList(ok=True, count=len(rows), rows=rows)
