"""Writing and reading candle series in TimescaleDB: one transaction per (ticker, tf) partition."""

from __future__ import annotations

import io
import logging
import struct
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import psycopg2
import psycopg2.extensions
from psycopg2 import sql
from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_exponential_jitter

from vietmarket_core.market import CANDLE_TABLES, Timeframe
from vietmarket_pipelines.bars import BarSeries

log = logging.getLogger(__name__)
SQL_DIR = Path(__file__).parent / "sql"

# Errors that mean "the database went away", not "the data is wrong": worth a reconnect and a retry.
CONNECTION_ERRORS = (psycopg2.OperationalError, psycopg2.InterfaceError)

_COPY_HEADER = b"PGCOPY\n\xff\r\n\x00" + struct.pack(">ii", 0, 0)
_COPY_TRAILER = struct.pack(">h", -1)
_BAR_FIELDS = ("ts", "o", "h", "l", "c", "v")
_COPY_ROW = np.dtype(
    [("fields", ">i2")]
    + [
        item
        for name in ("ts", "o", "h", "l", "c", "v")
        for item in ((f"len_{name}", ">i4"), (name, ">i8" if name == "ts" else ">f8"))
    ]
)


# Up to this many bars (a latest tick's, a short repair's) a partition is written in one round
# trip with its bars as array parameters; bigger batches go through binary COPY, which is faster
# per bar once the extra round trips no longer dominate.
SMALL_BATCH_BARS = 1_000


class StoreUnavailable(RuntimeError):
    """TimescaleDB could not be reached, or dropped the connection, on every attempt."""


@cache
def load_sql(name: str) -> str:
    return (SQL_DIR / name).read_text(encoding="utf-8")


def table_sql(name: str, tf: Timeframe) -> sql.Composed:
    return sql.SQL(load_sql(name)).format(table=sql.Identifier(CANDLE_TABLES[tf]))


@dataclass(frozen=True)
class UpsertStats:
    ticker: str
    tf: Timeframe
    source: str
    fetched: int
    inserted: int
    updated: int
    first_ts: int | None
    last_ts: int | None

    @property
    def unchanged(self) -> int:
        return self.fetched - self.inserted - self.updated


def binary_copy_rows(series: BarSeries) -> bytes:
    """PostgreSQL binary COPY of whole rows (ticker, tf, ts, o, h, l, c, v, source) of one series."""
    ticker, tf, source = series.ticker.encode(), series.tf.encode(), series.source.encode()
    row = np.dtype(
        [
            ("fields", ">i2"),
            ("len_ticker", ">i4"),
            ("ticker", f"S{len(ticker)}"),
            ("len_tf", ">i4"),
            ("tf", f"S{len(tf)}"),
        ]
        + [item for name in _BAR_FIELDS for item in ((f"len_{name}", ">i4"), (name, ">i8" if name == "ts" else ">f8"))]
        + [("len_source", ">i4"), ("source", f"S{len(source)}")]
    )
    rows = np.empty(len(series.frame), dtype=row)
    rows["fields"] = 9
    rows["len_ticker"], rows["ticker"] = len(ticker), ticker
    rows["len_tf"], rows["tf"] = len(tf), tf
    for name in _BAR_FIELDS:
        rows[f"len_{name}"] = 8
        rows[name] = series.frame[name].to_numpy()
    rows["len_source"], rows["source"] = len(source), source
    return _COPY_HEADER + rows.tobytes() + _COPY_TRAILER


def binary_copy_payload(frame: pd.DataFrame) -> bytes:
    """PostgreSQL binary COPY of (ts, o, h, l, c, v): built in one vectorized pass, no text parsing."""
    rows = np.empty(len(frame), dtype=_COPY_ROW)
    rows["fields"] = 6
    for name in ("ts", "o", "h", "l", "c", "v"):
        rows[f"len_{name}"] = 8
        rows[name] = frame[name].to_numpy()
    return _COPY_HEADER + rows.tobytes() + _COPY_TRAILER


class CandleStore:
    """Opens connections with retries and writes each partition in its own transaction."""

    def __init__(
        self, dsn: str, *, attempts: int = 5, connect_timeout_s: int = 10, statement_timeout_ms: int = 300_000
    ) -> None:
        self.dsn = dsn
        self.attempts = attempts
        self.connect_timeout_s = connect_timeout_s
        self.statement_timeout_ms = statement_timeout_ms

    def _retrying(self, what: str) -> Retrying:
        def before_sleep(state: object) -> None:
            outcome = getattr(state, "outcome", None)
            log.warning("TimescaleDB %s: %s; reconnecting", what, outcome.exception() if outcome else "?")

        return Retrying(
            stop=stop_after_attempt(self.attempts),
            wait=wait_exponential_jitter(multiplier=0.5, max=10),
            retry=retry_if_exception_type(CONNECTION_ERRORS),
            before_sleep=before_sleep,
            reraise=True,
        )

    @contextmanager
    def connection(self) -> Iterator[psycopg2.extensions.connection]:
        conn = self._connect()
        try:
            yield conn
        finally:
            conn.close()

    def _connect(self, *, for_writing: bool = False) -> psycopg2.extensions.connection:
        """A connection with retries; `for_writing` adds the staging table and prepared upserts."""
        try:
            for attempt in self._retrying("connect"):
                with attempt:
                    conn = psycopg2.connect(
                        self.dsn,
                        connect_timeout=self.connect_timeout_s,
                        application_name="vietmarket-ingest",
                        options=f"-c statement_timeout={self.statement_timeout_ms}",
                        keepalives=1, keepalives_idle=10, keepalives_interval=5, keepalives_count=3,
                    )  # fmt: skip
                    if not for_writing:
                        return conn
                    with conn.cursor() as cur:
                        cur.execute(load_sql("create_staging.sql"))
                        # Planning these over a hypertable costs ~2 ms, more than running them on a
                        # partition's bars; prepared once, every partition skips it.
                        for tf in CANDLE_TABLES:
                            for name in ("insert_new", "upsert_changed"):
                                statement = table_sql(f"{name}_bars.sql", tf).as_string(conn)
                                cur.execute(f"PREPARE {name}_{tf} (text, text, text) AS {statement}")
                            statement = table_sql("write_small_bars.sql", tf).as_string(conn).rstrip().rstrip(";")
                            cur.execute(
                                f"PREPARE write_small_{tf} (text, text, text, bigint[], float8[], float8[], "
                                f"float8[], float8[], float8[]) AS {statement}"
                            )
                    conn.commit()
                    return conn
        except CONNECTION_ERRORS as exc:
            raise StoreUnavailable(
                f"TimescaleDB unreachable after {self.attempts} attempts: {_first_line(exc)}"
            ) from exc
        raise AssertionError("unreachable")

    def write_series(self, conn: psycopg2.extensions.connection, series: BarSeries) -> UpsertStats:
        """Upserts one partition in one transaction; on any error it is rolled back whole."""
        frame = series.frame
        if 0 < len(frame) <= SMALL_BATCH_BARS:
            updated, inserted = self._write_small(conn, series)
            return UpsertStats(
                series.ticker, series.tf, series.source, len(frame), inserted, updated, series.first_ts, series.last_ts
            )
        try:
            with conn.cursor() as cur:
                inserted = updated = 0
                if len(frame):
                    params = {
                        "ticker": series.ticker,
                        "tf": series.tf,
                        "source": series.source,
                        "first": series.first_ts,
                        "last": series.last_ts,
                    }
                    cur.execute(load_sql("lock_series.sql"), params)
                    cur.execute(table_sql("series_has_bars_between.sql", series.tf), params)
                    row = cur.fetchone()
                    if row is not None and not row[0]:
                        # Nothing stored in this range, and the series lock keeps it so: the batch
                        # cannot conflict, so it goes in at COPY speed.
                        cur.copy_expert(
                            sql.SQL(
                                "COPY {table} (ticker, tf, ts, o, h, l, c, v, source) FROM STDIN WITH (FORMAT binary)"
                            ).format(table=sql.Identifier(CANDLE_TABLES[series.tf])),
                            io.BytesIO(binary_copy_rows(series)),
                        )
                        inserted = len(frame)
                    else:
                        cur.copy_expert(
                            "COPY candle_staging FROM STDIN WITH (FORMAT binary)",
                            io.BytesIO(binary_copy_payload(frame)),
                        )
                        args = (series.ticker, series.tf, series.source)
                        # Revisions first: on a first write the join finds nothing, and afterwards
                        # the bars just inserted need no second look.
                        cur.execute(f"EXECUTE upsert_changed_{series.tf} (%s, %s, %s)", args)
                        updated = cur.rowcount
                        cur.execute(f"EXECUTE insert_new_{series.tf} (%s, %s, %s)", args)
                        inserted = cur.rowcount
            conn.commit()
        except BaseException:
            if not conn.closed:
                conn.rollback()
            raise
        return UpsertStats(
            series.ticker,
            series.tf,
            series.source,
            len(frame),
            inserted,
            updated,
            series.first_ts,
            series.last_ts,
        )

    def _write_small(self, conn: psycopg2.extensions.connection, series: BarSeries) -> tuple[int, int]:
        """(updated, inserted) of a small batch, written in one round trip.

        Lock and upsert go as one multi-statement query on an autocommit connection: the server
        runs such a query as one implicit transaction (all or nothing, the lock held to its end),
        and each statement takes its own snapshot, so the upsert sees the series as the lock left it.
        """
        f = series.frame
        params: dict[str, Any] = {"ticker": series.ticker, "tf": series.tf, "source": series.source}
        params.update({name: f[name].to_numpy().tolist() for name in _BAR_FIELDS})
        query = (
            load_sql("lock_series.sql") + f"\nEXECUTE write_small_{series.tf} (%(ticker)s, %(tf)s, %(source)s, "
            "%(ts)s, %(o)s, %(h)s, %(l)s, %(c)s, %(v)s)"
        )
        conn.autocommit = True
        try:
            with conn.cursor() as cur:
                cur.execute(query, params)
                row = cur.fetchone()
        finally:
            if not conn.closed:
                conn.autocommit = False
        if row is None:
            raise AssertionError("the small-batch upsert returned no counts")
        return int(row[0]), int(row[1])

    def write_partitions(self, series: Iterable[BarSeries]) -> Iterator[UpsertStats]:
        """Writes each series in its own transaction, reconnecting when the database drops.

        A partition interrupted by a lost connection was rolled back by the server, so it is
        simply written again on the new connection.
        """
        conn: psycopg2.extensions.connection | None = None
        try:
            for s in series:
                try:
                    for attempt in self._retrying(f"write {s.ticker} {s.tf}"):
                        with attempt:
                            if conn is None or conn.closed:
                                conn = self._connect(for_writing=True)
                            try:
                                stats = self.write_series(conn, s)
                            except CONNECTION_ERRORS:
                                conn.close()
                                conn = None
                                raise
                except CONNECTION_ERRORS as exc:
                    raise StoreUnavailable(
                        f"TimescaleDB lost while writing {s.ticker} {s.tf}; that partition was rolled back, "
                        f"earlier partitions are committed: {_first_line(exc)}"
                    ) from exc
                yield stats
        finally:
            if conn is not None and not conn.closed:
                conn.close()

    def _query(self, what: str, query: str | sql.Composable, params: dict[str, Any] | None = None) -> list[Any]:
        """The rows of one read, on a fresh connection, retried when the database drops."""
        for attempt in self._retrying(what):
            with attempt, self.connection() as conn, conn.cursor() as cur:
                cur.execute(query, params)
                return cur.fetchall()
        raise AssertionError("unreachable")

    def newest_ts(self, tf: Timeframe, tickers: Sequence[str]) -> dict[str, int]:
        rows = self._query("newest_ts", load_sql("newest_ts.sql"), {"tf": tf, "tickers": list(tickers)})
        return {str(t): int(ts) for t, ts in rows}

    def active_tickers(self) -> set[str]:
        return {str(t) for (t,) in self._query("active tickers", load_sql("active_tickers.sql"))}

    def partition_row_counts(self, tf: Timeframe, tickers: Sequence[str]) -> dict[str, int]:
        query = sql.SQL(
            "SELECT t.ticker, (SELECT count(*) FROM {table} c WHERE c.ticker = t.ticker AND c.tf = %(tf)s) "
            "FROM unnest(%(tickers)s::text[]) AS t(ticker)"
        ).format(table=sql.Identifier(CANDLE_TABLES[tf]))
        rows = self._query("row counts", query, {"tf": tf, "tickers": list(tickers)})
        return {str(t): int(n) for t, n in rows}

    def read_series(self, ticker: str, tf: Timeframe, start_ms: int = 0, end_ms: int = 2**62) -> pd.DataFrame:
        params = {"ticker": ticker, "tf": tf, "start": start_ms, "end": end_ms}
        rows = self._query(f"read {ticker} {tf}", table_sql("read_bars.sql", tf), params)
        frame = pd.DataFrame(rows, columns=["ts", "o", "h", "l", "c", "v", "source"])
        return frame.astype({"ts": "int64", **dict.fromkeys(("o", "h", "l", "c", "v"), "float64")})


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]
