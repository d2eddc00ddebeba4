"""CandleStore's write path: idempotent upserts, untouched unchanged rows, and surviving a lost connection."""

from __future__ import annotations

import threading
import time
from datetime import datetime

import numpy as np
import pandas as pd
import psycopg2
import pytest

from tests.conftest import MigratedDatabase
from vietmarket_pipelines.bars import BarSeries
from vietmarket_pipelines.timescale.candle_store import SMALL_BATCH_BARS, CandleStore, StoreUnavailable

DAY = 86_400_000
FEB_13 = 1770940800000


def series(ticker: str, days: int, close: float = 10.0, end: int = FEB_13, source: str = "vci") -> BarSeries:
    ts = np.array([end - (days - 1 - i) * DAY for i in range(days)], dtype=np.int64)
    c = np.full(days, close)
    frame = pd.DataFrame({"ts": ts, "o": c, "h": c + 1, "l": c - 1, "c": c, "v": np.full(days, 100.0)})
    return BarSeries(source, ticker, "1d", frame)


def rows(db: MigratedDatabase, ticker: str) -> list[tuple[int, float, str, datetime]]:
    conn = db.connect()
    with conn, conn.cursor() as cur:
        cur.execute("SELECT ts, c, source, ingested_at FROM candles_1d WHERE ticker = %s ORDER BY ts", (ticker,))
        out = cur.fetchall()
    conn.close()
    return out


# Both write paths: array parameters in one round trip, and binary COPY.
SIZES = pytest.mark.parametrize("n", [300, SMALL_BATCH_BARS + 200], ids=["one-round-trip", "copy"])


@SIZES
def test_first_write_then_idempotent_no_op(clean_db: MigratedDatabase, n: int) -> None:
    store = CandleStore(clean_db.writer_dsn)
    (first,) = store.write_partitions([series("VCB", n)])
    assert (first.inserted, first.updated, first.unchanged) == (n, 0, 0)
    before = rows(clean_db, "VCB")
    (again,) = store.write_partitions([series("VCB", n)])
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, n)
    assert rows(clean_db, "VCB") == before, "unchanged rows keep their values and ingested_at"


@SIZES
def test_overlap_inserts_new_bars_and_revises_only_changed_ones(clean_db: MigratedDatabase, n: int) -> None:
    store = CandleStore(clean_db.writer_dsn)
    list(store.write_partitions([series("FPT", n + 5, end=FEB_13 - 2 * DAY)]))
    before = {ts: at for ts, _, _, at in rows(clean_db, "FPT")}
    revised = series("FPT", n)  # the last n - 2 stored days and 2 new ones
    revised.frame.loc[0, ["c", "o"]] = 10.5  # one stored bar revised
    (stats,) = store.write_partitions([revised])
    assert (stats.inserted, stats.updated, stats.unchanged) == (2, 1, n - 3)
    after = {ts: (c, at) for ts, c, _, at in rows(clean_db, "FPT")}
    assert len(after) == n + 7
    conn = clean_db.connect()
    with conn, conn.cursor() as cur:
        cur.execute("SELECT ts FROM candles_latest WHERE ticker = 'FPT' AND tf = '1d'")
        assert cur.fetchone() == (FEB_13,), "candles_latest follows the newest bar"
    conn.close()
    revised_ts = int(revised.frame["ts"].iloc[0])
    assert after[revised_ts][0] == 10.5 and after[revised_ts][1] > before[revised_ts]
    untouched = int(revised.frame["ts"].iloc[1])
    assert after[untouched][1] == before[untouched]


@SIZES
def test_a_source_change_is_a_revision(clean_db: MigratedDatabase, n: int) -> None:
    store = CandleStore(clean_db.writer_dsn)
    list(store.write_partitions([series("HPG", n)]))
    (stats,) = store.write_partitions([series("HPG", n, source="ssi")])
    assert stats.updated == n
    assert {s for _, _, s, _ in rows(clean_db, "HPG")} == {"ssi"}


@SIZES
def test_a_failed_partition_leaves_nothing_behind(clean_db: MigratedDatabase, n: int) -> None:
    store = CandleStore(clean_db.writer_dsn)
    list(store.write_partitions([series("MWG", 3, end=FEB_13 - n * DAY)]))
    bad = series("MWG", n)
    bad.frame.at[2, "ts"] = int(bad.frame["ts"].iloc[2]) + 1  # off the 1d grid: the table's CHECK refuses it
    with pytest.raises(psycopg2.errors.CheckViolation):
        list(store.write_partitions([series("VNM", n), bad]))
    assert len(rows(clean_db, "VNM")) == n, "partitions before the failure stay committed"
    assert len(rows(clean_db, "MWG")) == 3, "nothing of the failed partition is left"


@pytest.mark.parametrize(("partitions", "n"), [(40, 2000), (1500, 20)], ids=["copy", "one-round-trip"])
def test_a_connection_killed_mid_run_is_redone_on_a_new_one(
    clean_db: MigratedDatabase, partitions: int, n: int
) -> None:
    store = CandleStore(clean_db.writer_dsn, attempts=5)
    batch = [series(f"K{i:04d}", n) for i in range(partitions)]
    killed = threading.Event()

    def kill_ingest_backends() -> None:
        admin = psycopg2.connect(clean_db.admin_dsn)
        admin.autocommit = True
        with admin.cursor() as cur:
            for _ in range(200):
                cur.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE application_name = 'vietmarket-ingest' AND datname = current_database()"
                )
                if cur.rowcount and any(r[0] for r in cur.fetchall()):
                    killed.set()
                    break
                time.sleep(0.02)
        admin.close()

    killer = threading.Thread(target=kill_ingest_backends)
    killer.start()
    written = list(store.write_partitions(batch))
    killer.join()
    assert killed.is_set(), "the test must actually have cut a connection"
    assert len(written) == partitions
    conn = clean_db.connect()
    with conn, conn.cursor() as cur:
        cur.execute("SELECT count(*), count(DISTINCT (ticker, ts)) FROM candles_1d WHERE ticker LIKE 'K%'")
        assert cur.fetchone() == (partitions * n, partitions * n)
        cur.execute("SELECT count(*) FROM candles_latest WHERE ticker LIKE 'K%%' AND ts = %s", (FEB_13,))
        assert cur.fetchone() == (partitions,)
    conn.close()


def test_an_unreachable_database_is_a_clear_error() -> None:
    store = CandleStore("postgresql://nobody:secret@127.0.0.1:9/none", attempts=2)
    with pytest.raises(StoreUnavailable, match="TimescaleDB unreachable after 2 attempts") as info:
        list(store.write_partitions([series("VCB", 1)]))
    assert "secret" not in str(info.value)
