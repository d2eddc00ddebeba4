"""Liveness with a real database read; the runbook's db_unreachable path starts here."""

from __future__ import annotations

from litestar import get
from litestar.di import NamedDependency
from litestar.openapi.datastructures import ResponseSpec

from history_api.db import Database
from history_api.errors import DB_ERRORS
from history_api.models import Health
from vietmarket_core.sqlfiles import load_sql

_HEALTH_SQL = load_sql("history_api", "sql/health.sql")


@get(
    "/healthz",
    summary="Service and database health (no key needed)",
    responses={200: ResponseSpec(Health, description="Healthy."), **DB_ERRORS},
    tags=["ops"],
    security=[],
    cache_control=None,
)
async def healthz(db: NamedDependency[Database]) -> Health:
    record = await db.fetchrow(_HEALTH_SQL)
    return Health(ok=True, db=1, latestDailyTs=record[0] if record else None)
