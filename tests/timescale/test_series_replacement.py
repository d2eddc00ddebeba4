"""PartitionWriter.replace: a restated series replaced whole in one transaction, seen by readers only at its commit."""

from __future__ import annotations

import threading
import time
from datetime import date
from typing import Any

import numpy as np
import psycopg2
import pytest

from tests.conftest import MigratedDatabase
from tests.timescale.test_candle_store import DAY, FEB_13, series
from vietmarket_pipelines.bars import BarSeries
from vietmarket_pipelines.restatement import ReplacementSeries, Restatement
from vietmarket_pipelines.timescale.candle_store import CandleStore, UpsertStats


def restatement(factor: float, ex_date: date | None = date(2026, 2, 13)) -> Restatement:
    return Restatement("VCB", "1d", "vci", factor, ex_date, "overlap", {"compared_bars": 5, "restated_bars": 5})


def rescaled(s: BarSeries, factor: float, upto_ts: int) -> BarSeries:
    """The series with the prices of bars before `upto_ts` times `factor`, rounded to the tick."""
    f = s.frame.copy()
    before = f["ts"] < upto_ts
    for k in "ohlc":
        f.loc[before, k] = np.round(f.loc[before, k] * factor, 2)
    return BarSeries(s.source, s.ticker, s.tf, f)


def stored(db: MigratedDatabase, role: str = "admin") -> dict[int, tuple[float, Any]]:
    conn = db.connect(role)
    with conn, conn.cursor() as cur:
        cur.execute("SELECT ts, c, ingested_at FROM candles_1d WHERE ticker = 'VCB' ORDER BY ts")
        out = {int(ts): (c, at) for ts, c, at in cur.fetchall()}
    conn.close()
    return out


def one(db: MigratedDatabase, query: str) -> tuple[Any, ...] | None:
    conn = db.connect()
    with conn, conn.cursor() as cur:
        cur.execute(query)
        row = cur.fetchone()
    conn.close()
    return row


def replace(db: MigratedDatabase, item: ReplacementSeries) -> UpsertStats:
    with CandleStore(db.writer_dsn, attempts=1).writer() as writer:
        return writer.replace(item)


def test_a_replacement_rewrites_changed_bars_only_inserts_new_deletes_missing_and_records_it(
    clean_db: MigratedDatabase,
) -> None:
    old = series("VCB", 300, end=FEB_13 - DAY)
    list(CandleStore(clean_db.writer_dsn).write_partitions([old]))
    before = stored(clean_db)
    ex_ts = int(old.frame["ts"].iloc[250])
    # The provider's whole history now: the oldest stored bar is gone, bars before the ex-date are
    # on the new basis, the ones from it on are as stored, and today's bar is new.
    full = rescaled(series("VCB", 300, end=FEB_13), 0.8, ex_ts)
    stats = replace(clean_db, ReplacementSeries(full, restatement(0.8)))

    assert (stats.inserted, stats.updated, stats.deleted, stats.unchanged) == (1, 249, 1, 50)
    assert stats.bars_replaced == 250 and stats.restatement is not None
    after = stored(clean_db)
    assert sorted(after) == full.frame["ts"].tolist()
    for ts, (c, at) in after.items():
        if ts < ex_ts:
            assert c == 8.0 and at > before[ts][1], "rewritten on the new basis"
        elif ts in before:
            assert (c, at) == before[ts], "unchanged: value and ingested_at untouched"
    assert one(clean_db, "SELECT ts FROM candles_latest WHERE ticker = 'VCB' AND tf = '1d'") == (FEB_13,)
    row = one(
        clean_db,
        "SELECT tf, source, factor, estimated_ex_date, bars_replaced, detail->>'bars_deleted', "
        "detail->>'detected_by', detected_at = (SELECT max(ingested_at) FROM candles_1d) "
        "FROM series_restatements WHERE ticker = 'VCB'",
    )
    assert row == ("1d", "vci", 0.8, date(2026, 2, 13), 250, "1", "overlap", True)


def test_when_the_provider_lost_the_newest_bar_latest_moves_back(clean_db: MigratedDatabase) -> None:
    list(CandleStore(clean_db.writer_dsn).write_partitions([series("VCB", 40)]))
    full = rescaled(series("VCB", 39, end=FEB_13 - DAY), 0.5, FEB_13)
    stats = replace(clean_db, ReplacementSeries(full, restatement(0.5)))
    assert (stats.updated, stats.deleted) == (39, 1)
    assert one(clean_db, "SELECT ts, c FROM candles_latest WHERE ticker = 'VCB' AND tf = '1d'") == (FEB_13 - DAY, 5.0)


def test_a_replacement_that_fails_leaves_the_stored_series_whole(clean_db: MigratedDatabase) -> None:
    list(CandleStore(clean_db.writer_dsn).write_partitions([series("VCB", 60)]))
    before = stored(clean_db)
    full = rescaled(series("VCB", 61, end=FEB_13 + DAY), 0.5, FEB_13)
    # series_restatements refuses a factor <= 0: the last statement fails, after every bar was written.
    with pytest.raises(psycopg2.errors.CheckViolation):
        replace(clean_db, ReplacementSeries(full, restatement(-1.0)))
    assert stored(clean_db) == before
    assert one(clean_db, "SELECT count(*) FROM series_restatements") == (0,)
    assert one(clean_db, "SELECT ts FROM candles_latest WHERE ticker = 'VCB' AND tf = '1d'") == (FEB_13,)
    with pytest.raises(ValueError, match="refusing to replace VCB 1d with an empty series from vci"):
        replace(clean_db, ReplacementSeries(full.between(0, 0), restatement(0.5)))
    assert stored(clean_db) == before


def test_a_reader_sees_the_old_series_until_the_commit_and_the_new_one_after(clean_db: MigratedDatabase) -> None:
    list(CandleStore(clean_db.writer_dsn).write_partitions([series("VCB", 2_000, end=FEB_13 - DAY)]))
    full = rescaled(series("VCB", 2_000, end=FEB_13), 0.5, FEB_13)
    # Hold the replacement just before its last statement: the restatement row waits for this
    # lock, after every bar of the series was rewritten, inserted or deleted.
    blocker = clean_db.connect()
    blocker.cursor().execute("LOCK TABLE series_restatements IN EXCLUSIVE MODE")
    done: list[UpsertStats] = []
    worker = threading.Thread(target=lambda: done.append(replace(clean_db, ReplacementSeries(full, restatement(0.5)))))
    worker.start()
    try:
        deadline = time.monotonic() + 20
        while one(
            clean_db,
            "SELECT 1 FROM pg_stat_activity WHERE application_name = 'vietmarket-ingest' "
            "AND wait_event_type = 'Lock' AND query LIKE '%series_restatements%'",
        ) is None:  # fmt: skip
            assert time.monotonic() < deadline, "the replacement never reached its last statement"
            time.sleep(0.05)
        mid = stored(clean_db, "reader")
        assert len(mid) == 2_000 and {c for c, _ in mid.values()} == {10.0}, "all old, none new"
        assert FEB_13 not in mid
    finally:
        blocker.rollback()
        blocker.close()
        worker.join(30)
    assert done and done[0].updated == 1_999 and done[0].deleted == 1 and done[0].inserted == 1
    after = stored(clean_db, "reader")
    assert {c for ts, (c, _) in after.items() if ts < FEB_13} == {5.0} and after[FEB_13][0] == 10.0
