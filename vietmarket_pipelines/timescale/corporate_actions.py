"""Writing and reading corporate_actions, and reading the series_restatements they are checked against."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Protocol

import psycopg2.extensions

from vietmarket_core.sqlfiles import load_sql

PACKAGE = __package__ or "vietmarket_pipelines.timescale"


class ActionRow(Protocol):
    """What a derived action must carry to be stored."""

    @property
    def ticker(self) -> str: ...
    @property
    def exchange(self) -> str | None: ...
    @property
    def ex_date(self) -> date: ...
    @property
    def factor(self) -> float: ...
    @property
    def cumulative_factor(self) -> float: ...
    @property
    def event_type(self) -> str | None: ...
    @property
    def evidence(self) -> dict[str, Any]: ...


@dataclass(frozen=True)
class ActionSyncStats:
    """What one sync did: actions derived, new, changed, and stored ones no longer seen (removed)."""

    derived: int
    inserted: int
    updated: int
    removed: int


def sync_corporate_actions(
    conn: psycopg2.extensions.connection, ticker: str, source: str, actions: Sequence[ActionRow]
) -> ActionSyncStats:
    """Makes `actions` the ticker's only rows from `source`, in one transaction; idempotent.

    Upserted on (ticker, ex_date, source): an unchanged row keeps its id and ingested_at, a changed
    cumulative factor is updated in place, and an action the prices no longer show is deleted.
    """
    if any(a.ticker != ticker for a in actions):
        raise ValueError(f"sync_corporate_actions({ticker}) was given actions of another ticker")
    params: dict[str, Any] = {
        "ticker": [a.ticker for a in actions],
        "exchange": [a.exchange for a in actions],
        "ex_date": [a.ex_date for a in actions],
        "event_type": [a.event_type for a in actions],
        "source": [source] * len(actions),
        "factor": [a.factor for a in actions],
        "cumulative_factor": [a.cumulative_factor for a in actions],
        "evidence": [json.dumps(a.evidence, sort_keys=True) for a in actions],
    }
    try:
        with conn.cursor() as cur:
            written: list[bool] = []
            if actions:
                cur.execute(load_sql(PACKAGE, "sql/upsert_corporate_actions.sql"), params)
                written = [bool(inserted) for (inserted,) in cur.fetchall()]
            cur.execute(
                load_sql(PACKAGE, "sql/delete_corporate_actions_not_in.sql"),
                {"ticker": ticker, "source": source, "ex_dates": [a.ex_date for a in actions]},
            )
            removed = cur.rowcount
        conn.commit()
    except BaseException:
        if not conn.closed:
            conn.rollback()
        raise
    return ActionSyncStats(len(actions), sum(written), len(written) - sum(written), removed)


@dataclass(frozen=True)
class StoredAction:
    ticker: str
    ex_date: date
    factor: float
    cumulative_factor: float
    event_type: str | None


def read_corporate_actions(
    conn: psycopg2.extensions.connection, tickers: Sequence[str], source: str
) -> dict[str, list[StoredAction]]:
    """Ticker -> its actions from `source`, ascending by ex-date; one query."""
    with conn.cursor() as cur:
        cur.execute(load_sql(PACKAGE, "sql/read_corporate_actions.sql"), {"tickers": list(tickers), "source": source})
        rows = cur.fetchall()
    conn.commit()
    out: dict[str, list[StoredAction]] = {}
    for row in rows:
        out.setdefault(row[0], []).append(StoredAction(*row))
    return out


@dataclass(frozen=True)
class Restatement:
    """One series_restatements row: a candle provider rescaled a stored series by `factor`."""

    id: int
    ticker: str
    tf: str
    source: str
    detected_at: datetime
    factor: float
    estimated_ex_date: date | None


def read_restatements(
    conn: psycopg2.extensions.connection, tickers: Sequence[str], other_than: str
) -> list[Restatement]:
    """The tickers' restatements recorded by every source but `other_than`; one query."""
    with conn.cursor() as cur:
        cur.execute(load_sql(PACKAGE, "sql/read_restatements.sql"), {"tickers": list(tickers), "source": other_than})
        rows = cur.fetchall()
    conn.commit()
    return [Restatement(*row) for row in rows]


def daily_price_dates(conn: psycopg2.extensions.connection, tickers: Sequence[str]) -> dict[str, list[int]]:
    """Ticker -> its stored daily_prices ts (unix ms), ascending; one query."""
    with conn.cursor() as cur:
        cur.execute(load_sql(PACKAGE, "sql/daily_price_dates.sql"), {"tickers": list(tickers)})
        rows = cur.fetchall()
    conn.commit()
    return {str(ticker): [int(t) for t in ts] for ticker, ts in rows}
