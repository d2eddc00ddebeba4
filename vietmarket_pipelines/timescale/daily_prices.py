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
    """What one write did: rows given, rows new, rows whose stored values changed, stored rows removed."""

    given: int
    inserted: int
    updated: int
    deleted: int = 0

    @property
    def unchanged(self) -> int:
        return self.given - self.inserted - self.updated


def _upsert(cur: psycopg2.extensions.cursor, prices: Sequence[DailyPrice]) -> tuple[int, int]:
    """(inserted, updated) of one upsert statement, inside the caller's transaction."""
    params: dict[str, Any] = {name: [getattr(p, name) for p in prices] for name in DAILY_PRICE_COLUMNS}
    cur.execute(load_sql(PACKAGE, "sql/upsert_daily_prices.sql"), params)
    written = [bool(inserted) for (inserted,) in cur.fetchall()]
    return sum(written), len(written) - sum(written)


def upsert_daily_prices(conn: psycopg2.extensions.connection, prices: Sequence[DailyPrice]) -> PriceUpsertStats:
    """Writes `prices` in one transaction, committed on success and rolled back whole on any error.

    A row equal to the stored one is not touched (its ingested_at stays); at most one row per
    (ticker, ts) may be given.  Takes any non-autocommit connection, e.g. CandleStore.connection().
    """
    if not prices:
        return PriceUpsertStats(0, 0, 0)
    try:
        with conn.cursor() as cur:
            inserted, updated = _upsert(cur, prices)
        conn.commit()
    except BaseException:
        if not conn.closed:
            conn.rollback()
        raise
    return PriceUpsertStats(len(prices), inserted, updated)


def replace_daily_prices(
    conn: psycopg2.extensions.connection, ticker: str, prices: Sequence[DailyPrice]
) -> PriceUpsertStats:
    """Makes `prices` (the ticker's whole history, fetched at once) the ticker's only rows, in one transaction.

    Used when the provider moved its adjusted basis: a reader sees the old history or the new one,
    never a mix.  Rows whose values did not change keep their ingested_at; stored dates the new
    history lacks are deleted.
    """
    if any(p.ticker != ticker for p in prices):
        raise ValueError(f"replace_daily_prices({ticker}) was given rows of another ticker")
    try:
        with conn.cursor() as cur:
            cur.execute(load_sql(PACKAGE, "sql/lock_daily_prices_ticker.sql"), {"ticker": ticker})
            inserted, updated = _upsert(cur, prices) if prices else (0, 0)
            cur.execute(
                load_sql(PACKAGE, "sql/delete_daily_prices_not_in.sql"),
                {"ticker": ticker, "ts": [p.ts for p in prices]},
            )
            deleted = cur.rowcount
        conn.commit()
    except BaseException:
        if not conn.closed:
            conn.rollback()
        raise
    return PriceUpsertStats(len(prices), inserted, updated, deleted)


def newest_daily_price_ts(conn: psycopg2.extensions.connection, tickers: Sequence[str]) -> dict[str, int]:
    """Ticker -> ts of its newest stored row, for the tickers that have any; one query."""
    with conn.cursor() as cur:
        cur.execute(load_sql(PACKAGE, "sql/newest_daily_price_ts.sql"), {"tickers": list(tickers)})
        rows = cur.fetchall()
    conn.commit()
    return {str(ticker): int(ts) for ticker, ts in rows}


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
