"""Writing and reading candle series in TimescaleDB: one transaction per (ticker, tf) partition."""

from __future__ import annotations

import dataclasses
import io
import logging
import struct
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import psycopg2
import psycopg2.extensions
from psycopg2 import sql
from psycopg2.extras import Json
from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_exponential_jitter

from vietmarket_core.market import CANDLE_TABLES, Timeframe
from vietmarket_core.sqlfiles import load_sql, timeframe_sql
from vietmarket_pipelines.bars import BAR_COLUMNS, BarSeries
from vietmarket_pipelines.restatement import ReplacementSeries, Restatement, StoredBars

log = logging.getLogger(__name__)
PACKAGE = __package__ or "vietmarket_pipelines.timescale"

# Errors that mean "the database went away", not "the data is wrong": worth a reconnect and a retry.
CONNECTION_ERRORS = (psycopg2.OperationalError, psycopg2.InterfaceError)

# Up to this many bars (a latest tick's, a short repair's) a partition is written in one round
# trip with its bars as array parameters; bigger batches go through binary COPY, which is faster
# per bar once the extra round trips no longer dominate.
SMALL_BATCH_BARS = 1_000


class StoreUnavailable(RuntimeError):
    """TimescaleDB could not be reached, or dropped the connection, on every attempt."""


def table_sql(package: str, name: str, tf: Timeframe) -> str:
    """A per-timeframe statement: the .sql file's `{table}` becomes that timeframe's hypertable."""
    return timeframe_sql(package, name)[tf]


def store_sql(name: str) -> str:
    return load_sql(PACKAGE, f"sql/{name}")


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
    # A replacement (PartitionWriter.replace) also deletes the stored bars the provider no longer
    # has, rescales those older than its whole history, and says which restatement it wrote.
    deleted: int = 0
    rescaled: int = 0
    restatement: Restatement | None = None

    @classmethod
    def of(cls, series: BarSeries, *, inserted: int, updated: int) -> UpsertStats:
        return cls(
            series.ticker, series.tf, series.source, len(series), inserted, updated, series.first_ts, series.last_ts
        )

    @property
    def unchanged(self) -> int:
        return self.fetched - self.inserted - self.updated

    @property
    def bars_replaced(self) -> int:
        """Stored bars a replacement changed: rewritten or rescaled onto the new basis, or deleted."""
        return self.updated + self.rescaled + self.deleted


_COPY_HEADER = b"PGCOPY\n\xff\r\n\x00" + struct.pack(">ii", 0, 0)
_COPY_TRAILER = struct.pack(">h", -1)


def binary_copy(series: BarSeries, *, whole_rows: bool) -> bytes:
    """PostgreSQL binary COPY of one series, built in one vectorized pass with no text parsing.

    `whole_rows` gives the hypertable's rows (ticker, tf, ts, o, h, l, c, v, source); otherwise just
    the bars (ts, o, h, l, c, v), for the staging table.
    """
    before = (series.ticker.encode(), series.tf.encode()) if whole_rows else ()
    after = (series.source.encode(),) if whole_rows else ()

    def text(i: int, value: bytes) -> list[tuple[str, str]]:
        return [(f"len_t{i}", ">i4"), (f"t{i}", f"S{len(value)}")]

    layout = [("fields", ">i2")]
    layout += [item for i, value in enumerate(before) for item in text(i, value)]
    layout += [
        item for name in BAR_COLUMNS for item in ((f"len_{name}", ">i4"), (name, ">i8" if name == "ts" else ">f8"))
    ]
    layout += [item for i, value in enumerate(after, start=len(before)) for item in text(i, value)]
    rows = np.empty(len(series), dtype=np.dtype(layout))
    rows["fields"] = len(before) + len(BAR_COLUMNS) + len(after)
    for i, value in enumerate((*before, *after)):
        rows[f"len_t{i}"], rows[f"t{i}"] = len(value), value
    for name in BAR_COLUMNS:
        rows[f"len_{name}"] = 8
        rows[name] = series.frame[name].to_numpy()
    return _COPY_HEADER + rows.tobytes() + _COPY_TRAILER


def _copy_into_hypertable(cur: psycopg2.extensions.cursor, series: BarSeries) -> tuple[int, int]:
    """(updated, inserted) of a batch that cannot conflict: nothing is stored in its range, and the
    series lock keeps it so, so it goes in at COPY speed."""
    cur.copy_expert(
        table_sql(PACKAGE, "sql/copy_bars.sql", series.tf), io.BytesIO(binary_copy(series, whole_rows=True))
    )
    return 0, len(series)


def _stage_and_upsert(cur: psycopg2.extensions.cursor, series: BarSeries) -> tuple[int, int]:
    """(updated, inserted) of a batch that overlaps stored bars: COPY into staging, then the upsert."""
    cur.copy_expert(
        "COPY candle_staging FROM STDIN WITH (FORMAT binary)", io.BytesIO(binary_copy(series, whole_rows=False))
    )
    args = (series.ticker, series.tf, series.source)
    # Revisions first: on a first write the join finds nothing, and afterwards the bars just
    # inserted need no second look.
    cur.execute(f"EXECUTE upsert_changed_{series.tf} (%s, %s, %s)", args)
    updated = cur.rowcount
    cur.execute(f"EXECUTE insert_new_{series.tf} (%s, %s, %s)", args)
    return updated, cur.rowcount


def _write_large(conn: psycopg2.extensions.connection, series: BarSeries) -> tuple[int, int]:
    """(updated, inserted) of a batch too big for one round trip, in one transaction."""
    params = {"ticker": series.ticker, "tf": series.tf, "first": series.first_ts, "last": series.last_ts}
    try:
        with conn.cursor() as cur:
            cur.execute(store_sql("lock_series.sql"), params)
            cur.execute(table_sql(PACKAGE, "sql/series_has_bars_between.sql", series.tf), params)
            row = cur.fetchone()
            counts = (
                _copy_into_hypertable(cur, series) if row is not None and not row[0] else _stage_and_upsert(cur, series)
            )
        conn.commit()
    except BaseException:
        if not conn.closed:
            conn.rollback()
        raise
    return counts


def _write_small(conn: psycopg2.extensions.connection, series: BarSeries) -> tuple[int, int]:
    """(updated, inserted) of a small batch, written in one round trip.

    Lock and upsert go as one multi-statement query on an autocommit connection: the server
    runs such a query as one implicit transaction (all or nothing, the lock held to its end),
    and each statement takes its own snapshot, so the upsert sees the series as the lock left it.
    """
    f = series.frame
    params: dict[str, Any] = {"ticker": series.ticker, "tf": series.tf, "source": series.source}
    params.update({name: f[name].to_numpy().tolist() for name in BAR_COLUMNS})
    bars = ", ".join(f"%({name})s" for name in BAR_COLUMNS)
    query = store_sql("lock_series.sql") + f"\nEXECUTE write_small_{series.tf} (%(ticker)s, %(tf)s, %(source)s, {bars})"
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


def replace_series(conn: psycopg2.extensions.connection, item: ReplacementSeries) -> UpsertStats:
    """Replaces every stored bar of a restated series with the provider's whole history and
    records the restatement, in one transaction.

    Readers on other connections see the old series until the commit and the new one after it
    (MVCC); nothing in between.  Only bars whose values changed are rewritten (their ingested_at
    moves), new ones are inserted, stored ones within the provider's span that it no longer has
    are deleted, stored ones older than its whole history (intraday history the provider no longer
    serves) are rescaled by the restatement's factor, and the series_restatements row goes last,
    so it exists exactly when the new bars do.
    """
    series, found = item.series, item.restatement
    if not len(series):
        # Whole history empty would mean deleting the series: a provider glitch, never a restatement.
        raise ValueError(f"refusing to replace {series.ticker} {series.tf} with an empty series from {series.source}")
    params: dict[str, Any] = {
        "ticker": series.ticker, "tf": series.tf, "first_ts": series.first_ts, "factor": found.factor,
    }  # fmt: skip
    try:
        with conn.cursor() as cur:
            cur.execute(store_sql("lock_series.sql"), params)
            cur.execute(table_sql(PACKAGE, "sql/rescale_older_bars.sql", series.tf), params)
            rescaled = cur.rowcount
            updated, inserted = _stage_and_upsert(cur, series)
            cur.execute(table_sql(PACKAGE, "sql/delete_missing_bars.sql", series.tf), params)
            deleted = cur.rowcount
            stats = dataclasses.replace(
                UpsertStats.of(series, inserted=inserted, updated=updated),
                deleted=deleted, rescaled=rescaled, restatement=found,
            )  # fmt: skip
            cur.execute(store_sql("record_restatement.sql"), restatement_row(stats, found))
        conn.commit()
    except BaseException:
        if not conn.closed:
            conn.rollback()
        raise
    return stats


def restatement_row(stats: UpsertStats, found: Restatement) -> dict[str, Any]:
    """The series_restatements row of one replacement (its columns are documented in schema.sql)."""
    detail = {
        **found.evidence,
        "detected_by": found.detected_by,
        "bars_updated": stats.updated,
        "bars_inserted": stats.inserted,
        "bars_deleted": stats.deleted,
        "bars_rescaled": stats.rescaled,
    }
    return {
        "ticker": found.ticker,
        "tf": found.tf,
        "source": found.source,
        "factor": found.factor,
        "estimated_ex_date": found.estimated_ex_date,
        "bars_replaced": stats.bars_replaced,
        "detail": Json(detail),
    }


def write_series(conn: psycopg2.extensions.connection, series: BarSeries) -> UpsertStats:
    """Upserts one partition in one transaction; on any error it is rolled back whole."""
    if not len(series):
        return UpsertStats.of(series, inserted=0, updated=0)
    write = _write_small if len(series) <= SMALL_BATCH_BARS else _write_large
    updated, inserted = write(conn, series)
    return UpsertStats.of(series, inserted=inserted, updated=updated)


def _prepare_for_writing(conn: psycopg2.extensions.connection) -> None:
    """The connection's staging table and prepared upserts, one set per timeframe."""
    with conn.cursor() as cur:
        cur.execute(store_sql("create_staging.sql"))
        # Planning these over a hypertable costs ~2 ms, more than running them on a partition's
        # bars; prepared once, every partition skips it.
        for tf in CANDLE_TABLES:
            for name in ("insert_new", "upsert_changed"):
                statement = table_sql(PACKAGE, f"sql/{name}_bars.sql", tf)
                cur.execute(f"PREPARE {name}_{tf} (text, text, text) AS {statement}")
            statement = table_sql(PACKAGE, "sql/write_small_bars.sql", tf).rstrip().rstrip(";")
            cur.execute(
                f"PREPARE write_small_{tf} (text, text, text, bigint[], float8[], float8[], "
                f"float8[], float8[], float8[]) AS {statement}"
            )
    conn.commit()


class CandleStore:
    """Opens connections with retries and writes each partition in its own transaction."""

    def __init__(
        self, dsn: str, *, attempts: int = 5, connect_timeout_s: int = 10, statement_timeout_ms: int = 300_000
    ) -> None:
        self.dsn = dsn
        self.attempts = attempts
        self.connect_timeout_s = connect_timeout_s
        self.statement_timeout_ms = statement_timeout_ms

    def retrying(self, what: str) -> Retrying:
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

    def connect_for_writing(self) -> psycopg2.extensions.connection:
        """A connection with the staging table and the prepared upserts."""
        return self._connect(for_writing=True)

    def connect_for_reading(self) -> psycopg2.extensions.connection:
        """An autocommit connection: every read its own snapshot, no transaction left open."""
        conn = self._connect()
        conn.autocommit = True
        return conn

    def _connect(self, *, for_writing: bool = False) -> psycopg2.extensions.connection:
        """A connection with retries; `for_writing` adds the staging table and prepared upserts."""
        try:
            for attempt in self.retrying("connect"):
                with attempt:
                    conn = psycopg2.connect(
                        self.dsn,
                        connect_timeout=self.connect_timeout_s,
                        application_name="vietmarket-ingest",
                        options=f"-c statement_timeout={self.statement_timeout_ms}",
                        keepalives=1, keepalives_idle=10, keepalives_interval=5, keepalives_count=3,
                    )  # fmt: skip
                    if for_writing:
                        _prepare_for_writing(conn)
                    return conn
        except CONNECTION_ERRORS as exc:
            raise StoreUnavailable(
                f"TimescaleDB unreachable after {self.attempts} attempts: {_first_line(exc)}"
            ) from exc
        raise AssertionError("unreachable")

    @contextmanager
    def writer(self) -> Iterator[PartitionWriter]:
        """A writer for a run's partitions, on one connection kept open between them."""
        writer = PartitionWriter(self)
        try:
            yield writer
        finally:
            writer.close()

    def write_partitions(self, series: Iterable[BarSeries]) -> Iterator[UpsertStats]:
        """Writes each series in its own transaction, in order, yielding what each write did."""
        with self.writer() as writer:
            for s in series:
                yield writer.write(s)

    def _query(self, what: str, query: str | sql.Composable, params: dict[str, Any] | None = None) -> list[Any]:
        """The rows of one read, on a fresh connection, retried when the database drops."""
        for attempt in self.retrying(what):
            with attempt, self.connection() as conn, conn.cursor() as cur:
                cur.execute(query, params)
                return cur.fetchall()
        raise AssertionError("unreachable")

    def newest_ts(self, tf: Timeframe, tickers: Sequence[str]) -> dict[str, int]:
        rows = self._query("newest_ts", store_sql("newest_ts.sql"), {"tf": tf, "tickers": list(tickers)})
        return {str(t): int(ts) for t, ts in rows}

    @contextmanager
    def reader(self) -> Iterator[StoreReader]:
        """Reads on one connection kept open between them: a fetch's overlap reads, one per chunk."""
        reader = StoreReader(self)
        try:
            yield reader
        finally:
            reader.close()

    def overlap_bars(self, tf: Timeframe, tickers: Sequence[str], since_ms: int) -> dict[str, StoredBars]:
        """StoreReader.overlap_bars on a connection of its own."""
        with self.reader() as reader:
            return reader.overlap_bars(tf, tickers, since_ms)

    def active_tickers(self) -> set[str]:
        return {str(t) for (t,) in self._query("active tickers", store_sql("active_tickers.sql"))}

    def exchanges(self, tickers: Sequence[str]) -> dict[str, str]:
        """The exchange of each requested ticker that `symbols` knows; the others are absent."""
        rows = self._query("symbol exchanges", store_sql("symbol_exchanges.sql"), {"tickers": list(tickers)})
        return {str(t): str(x) for t, x in rows}

    def partition_row_counts(self, tf: Timeframe, tickers: Sequence[str]) -> dict[str, int]:
        query = table_sql(PACKAGE, "sql/partition_row_counts.sql", tf)
        rows = self._query("row counts", query, {"tf": tf, "tickers": list(tickers)})
        return {str(t): int(n) for t, n in rows}

    def series_extents(self, tf: Timeframe) -> list[tuple[str, int, int, int]]:
        """(ticker, first ts, last ts, bar count) of every stored series at `tf`."""
        rows = self._query(f"series extents {tf}", table_sql(PACKAGE, "sql/series_extents.sql", tf), {"tf": tf})
        return [(str(t), int(first), int(last), int(n)) for t, first, last, n in rows]

    def read_series(self, ticker: str, tf: Timeframe, start_ms: int = 0, end_ms: int = 2**62) -> pd.DataFrame:
        params = {"ticker": ticker, "tf": tf, "start": start_ms, "end": end_ms}
        rows = self._query(f"read {ticker} {tf}", table_sql(PACKAGE, "sql/read_bars.sql", tf), params)
        frame = pd.DataFrame(rows, columns=[*BAR_COLUMNS, "source"])
        return frame.astype({"ts": "int64", **dict.fromkeys(BAR_COLUMNS[1:], "float64")})

    # Reads for the asset checks and the schedules: each is one query per timeframe over every
    # requested series, however many partitions a run covers.

    def rows(
        self, what: str, query: str | sql.Composable, params: Mapping[str, Any] | None = None
    ) -> list[tuple[Any, ...]]:
        """The rows of any other read (the news and mirror-state checks), with the store's retries."""
        return self._query(what, query, dict(params) if params is not None else None)

    def bar_timestamps(
        self, tf: Timeframe, tickers: Sequence[str], since_ms: int = 0
    ) -> dict[str, npt.NDArray[np.int64]]:
        """Every stored bar open at or after `since_ms` of each requested series, ascending.

        Series with no such bar are absent.
        """
        params = {"tickers": list(tickers), "tf": tf, "since": since_ms}
        rows = self._query(f"bar timestamps {tf}", table_sql(PACKAGE, "sql/series_ts.sql", tf), params)
        return {str(t): np.array(ts, dtype=np.int64) for t, ts in rows}

    def ohlc_violations(self, tf: Timeframe, tickers: Sequence[str], since_ms: int = 0) -> dict[str, tuple[int, int]]:
        """(bad bars, first bad ts) of each series whose bars since `since_ms` break
        l <= min(o, c) <= max(o, c) <= h or v >= 0; clean series are absent."""
        params = {"tickers": list(tickers), "tf": tf, "since": since_ms}
        rows = self._query(f"ohlc violations {tf}", table_sql(PACKAGE, "sql/ohlc_violations.sql", tf), params)
        return {str(t): (int(n), int(first)) for t, n, first in rows}


class StoreReader:
    """Reads on one autocommit connection (each statement its own snapshot, none held between
    reads), reconnecting when the database drops.  A fresh connection per read cost ~10-35 ms,
    several times the read itself."""

    def __init__(self, store: CandleStore) -> None:
        self._store = store
        self._conn: psycopg2.extensions.connection | None = None

    def overlap_bars(self, tf: Timeframe, tickers: Sequence[str], since_ms: int) -> dict[str, StoredBars]:
        """The stored bars at or after `since_ms` of each requested series, in one read; series
        with none are absent."""
        params = {"tf": tf, "tickers": list(tickers), "since": since_ms}
        rows = self._rows(f"overlap bars {tf}", table_sql(PACKAGE, "sql/overlap_bars.sql", tf), params)
        return _stored_bars(rows)

    def anchor_bars(
        self, tf: Timeframe, tickers: Sequence[str], since_ms: int, until_ms: int, bars: int
    ) -> dict[str, StoredBars]:
        """The first `bars` stored bars in [since_ms, until_ms) of each requested series, in one
        read: what the anchor probe compares; series with none are absent."""
        params = {"tf": tf, "tickers": list(tickers), "since": since_ms, "until": until_ms, "bars": bars}
        return _stored_bars(self._rows(f"anchor bars {tf}", table_sql(PACKAGE, "sql/anchor_bars.sql", tf), params))

    def _rows(self, what: str, query: str, params: dict[str, Any]) -> list[Any]:
        for attempt in self._store.retrying(what):
            with attempt:
                if self._conn is None or self._conn.closed:
                    self._conn = self._store.connect_for_reading()
                try:
                    with self._conn.cursor() as cur:
                        cur.execute(query, params)
                        return cur.fetchall()
                except CONNECTION_ERRORS:
                    self.close()
                    raise
        raise AssertionError("unreachable")

    def close(self) -> None:
        if self._conn is not None and not self._conn.closed:
            self._conn.close()
        self._conn = None


def _stored_bars(rows: Iterable[tuple[Any, ...]]) -> dict[str, StoredBars]:
    """Rows of (ticker, ts[], o[], h[], l[], c[]) as each series' StoredBars."""
    return {
        str(t): StoredBars(
            ts=np.array(ts, dtype=np.int64),
            o=np.array(o, dtype=np.float64),
            h=np.array(h, dtype=np.float64),
            l=np.array(low, dtype=np.float64),
            c=np.array(c, dtype=np.float64),
        )
        for t, ts, o, h, low, c in rows
    }


class PartitionWriter:
    """Writes one partition per transaction, reconnecting when the database drops.

    A partition interrupted by a lost connection was rolled back by the server, so it is simply
    written again on the new connection; one that still fails leaves the earlier ones committed.
    """

    def __init__(self, store: CandleStore) -> None:
        self._store = store
        self._conn: psycopg2.extensions.connection | None = None

    def write(self, series: BarSeries) -> UpsertStats:
        return self._retried(series, lambda conn: write_series(conn, series))

    def replace(self, item: ReplacementSeries) -> UpsertStats:
        """Replaces a restated series whole (replace_series); `deleted` and `restatement` say how."""
        return self._retried(item.series, lambda conn: replace_series(conn, item))

    def _retried(
        self, series: BarSeries, write: Callable[[psycopg2.extensions.connection], UpsertStats]
    ) -> UpsertStats:
        try:
            for attempt in self._store.retrying(f"write {series.ticker} {series.tf}"):
                with attempt:
                    return self._write_once(write)
        except CONNECTION_ERRORS as exc:
            raise StoreUnavailable(
                f"TimescaleDB lost while writing {series.ticker} {series.tf}; that partition was rolled back, "
                f"earlier partitions are committed: {_first_line(exc)}"
            ) from exc
        raise AssertionError("unreachable")

    def _write_once(self, write: Callable[[psycopg2.extensions.connection], UpsertStats]) -> UpsertStats:
        if self._conn is None or self._conn.closed:
            self._conn = self._store.connect_for_writing()
        try:
            return write(self._conn)
        except CONNECTION_ERRORS:
            self.close()
            raise

    def close(self) -> None:
        if self._conn is not None and not self._conn.closed:
            self._conn.close()
        self._conn = None


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]
