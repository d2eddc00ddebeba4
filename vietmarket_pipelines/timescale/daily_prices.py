"""Writing and reading daily_prices (raw and adjusted daily prices): one transaction per write."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import psycopg2.extensions

from vietmarket_core.sqlfiles import load_sql
from vietmarket_pipelines.prices import DAILY_PRICE_COLUMNS, DailyPrice

PACKAGE = __package__ or "vietmarket_pipelines.timescale"


@dataclass(frozen=True)
class PriceUpsertStats:
    """What one upsert did: rows given, rows new, rows whose stored values changed."""

    given: int
    inserted: int
    updated: int

    @property
    def unchanged(self) -> int:
        return self.given - self.inserted - self.updated


def upsert_daily_prices(conn: psycopg2.extensions.connection, prices: Sequence[DailyPrice]) -> PriceUpsertStats:
    """Writes `prices` in one transaction, committed on success and rolled back whole on any error.

    A row equal to the stored one is not touched (its ingested_at stays); at most one row per
    (ticker, ts) may be given.  Takes any non-autocommit connection, e.g. CandleStore.connection().
    """
    if not prices:
        return PriceUpsertStats(0, 0, 0)
    params: dict[str, Any] = {name: [getattr(p, name) for p in prices] for name in DAILY_PRICE_COLUMNS}
    try:
        with conn.cursor() as cur:
            cur.execute(load_sql(PACKAGE, "sql/upsert_daily_prices.sql"), params)
            written = [bool(inserted) for (inserted,) in cur.fetchall()]
        conn.commit()
    except BaseException:
        if not conn.closed:
            conn.rollback()
        raise
    inserted = sum(written)
    return PriceUpsertStats(len(prices), inserted, len(written) - inserted)


def read_daily_prices(
    conn: psycopg2.extensions.connection, ticker: str, start_ts: int = 0, end_ts: int = 2**62
) -> list[DailyPrice]:
    """One ticker's stored rows with start_ts <= ts <= end_ts, ascending."""
    with conn.cursor() as cur:
        cur.execute(
            load_sql(PACKAGE, "sql/read_daily_prices.sql"), {"ticker": ticker, "start": start_ts, "end": end_ts}
        )
        rows = cur.fetchall()
    conn.commit()
    return [DailyPrice(*row) for row in rows]
