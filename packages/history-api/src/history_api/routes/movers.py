"""The old server's /top-movers: the market's biggest moves of the newest bar, from candles_latest."""

from __future__ import annotations

from typing import Annotated, Final

from litestar import get
from litestar.di import NamedDependency
from litestar.openapi.datastructures import ResponseSpec

from history_api.db import Database
from history_api.errors import DATA_RESPONSES
from history_api.models import TopMover, TopMoversPage
from history_api.params import Tf, limit_param
from vietmarket_core.sqlfiles import timeframe_sql

# The old server's page sizes.
DEFAULT_LIMIT: Final = 100
MAX_LIMIT: Final = 500
_SQL = timeframe_sql("history_api", "sql/top_movers.sql")


@get(
    "/top-movers",
    summary="Tickers ranked by the change of their newest bar's close",
    description="Each ticker's newest bar of tf against the bar before it: pct_change = "
    "(close_latest - close_prev) / close_prev, a fraction (0.05 is +5 %), biggest first; a ticker "
    "with one bar is not listed. Closes on the adjusted basis, ts_latest in unix ms as /candles.",
    responses={200: ResponseSpec(TopMoversPage, description="Movers, biggest rise first."), **DATA_RESPONSES},
    tags=["candles"],
)
async def top_movers(
    db: NamedDependency[Database],
    tf: Tf,
    limit: Annotated[int, limit_param("Rows", DEFAULT_LIMIT, MAX_LIMIT)] = DEFAULT_LIMIT,
) -> TopMoversPage:
    records = await db.fetch(_SQL[tf], tf, min(limit, MAX_LIMIT))
    rows = [TopMover(*r) for r in records]
    return TopMoversPage(ok=True, tf=tf, count=len(rows), rows=rows)
