"""Reading and writing trading_calendar: the days the indices traded, one verdict per calendar day."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

import psycopg2.extensions

from vietmarket_core.sqlfiles import load_sql

PACKAGE = __package__ or "vietmarket_pipelines.timescale"


def _sql(name: str) -> str:
    return load_sql(PACKAGE, f"sql/{name}")


@dataclass(frozen=True)
class CalendarDays:
    """A span of calendar days with, for each, whether the market traded: what a refresh writes."""

    source: str
    days: Sequence[date]
    traded: Sequence[bool]

    def __post_init__(self) -> None:
        if len(self.days) != len(self.traded):
            raise ValueError(f"{len(self.days)} days but {len(self.traded)} verdicts")


def read_calendar_sql() -> str:
    """The query of every stored (day, traded), oldest first (for CandleStore.rows and its retries)."""
    return _sql("read_trading_calendar.sql")


def read_calendar(conn: psycopg2.extensions.connection) -> list[tuple[date, bool]]:
    """Every stored (day, traded), oldest first."""
    with conn.cursor() as cur:
        cur.execute(read_calendar_sql())
        return [(d, bool(t)) for d, t in cur.fetchall()]


def lock_and_read_refreshed_at(conn: psycopg2.extensions.connection) -> datetime | None:
    """Takes the refresh lock for the current transaction, then reads when the calendar was last refreshed."""
    with conn.cursor() as cur:
        cur.execute(_sql("lock_trading_calendar.sql"))
        cur.execute(_sql("trading_calendar_refreshed_at.sql"))
        row = cur.fetchone()
    return row[0] if row else None


def write_calendar(conn: psycopg2.extensions.connection, calendar: CalendarDays, at: datetime) -> int:
    """Upserts the days and records the refresh, in the caller's transaction (committed by the caller).

    Returns how many days were new or changed their verdict.
    """
    with conn.cursor() as cur:
        cur.execute(
            _sql("upsert_trading_calendar.sql"),
            {"source": calendar.source, "dates": list(calendar.days), "traded": list(calendar.traded)},
        )
        changed = len(cur.fetchall())
        cur.execute(_sql("record_trading_calendar_refresh.sql"), {"at": at, "source": calendar.source})
    return changed
