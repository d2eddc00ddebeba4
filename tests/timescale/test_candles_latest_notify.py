"""candles_latest's changes reach LISTEN `candles_latest` as [ticker, tf, ts] items, chunked under NOTIFY's limit."""

from __future__ import annotations

import json
import select

import psycopg2.extensions
import psycopg2.extras

from tests.conftest import MigratedDatabase

DAY = 86_400_000
FEB_13 = 1770940800000  # 2026-02-13's daily bar


def listener(db: MigratedDatabase) -> psycopg2.extensions.connection:
    conn = db.connect("reader")
    conn.set_isolation_level(psycopg2.extensions.ISOLATION_LEVEL_AUTOCOMMIT)
    with conn.cursor() as cur:
        cur.execute("LISTEN candles_latest")
    return conn


def received(conn: psycopg2.extensions.connection, wait_s: float = 1.0) -> list[str]:
    """Every notification until the channel has been quiet for wait_s."""
    while select.select([conn], [], [], wait_s)[0]:
        conn.poll()
    payloads = [n.payload for n in conn.notifies if n.channel == "candles_latest"]
    conn.notifies.clear()
    return payloads


def write(db: MigratedDatabase, rows: list[tuple[object, ...]]) -> None:
    conn = db.connect("writer")
    with conn, conn.cursor() as cur:
        psycopg2.extras.execute_values(
            cur,
            "INSERT INTO candles_1d (ticker, tf, ts, o, h, l, c, v, source) VALUES %s "
            "ON CONFLICT (ticker, tf, ts) DO UPDATE SET c = excluded.c",
            rows,
            page_size=1000,  # one statement, as the write path sends a partition
        )
    conn.close()


def bar(ticker: str, ts: int, close: float) -> tuple[object, ...]:
    return (ticker, "1d", ts, close, close + 1, close - 1, close, 100.0, "test")


def test_a_new_bar_and_a_revised_bar_notify_and_a_rewrite_does_not(clean_db: MigratedDatabase) -> None:
    conn = listener(clean_db)
    write(clean_db, [bar("VCB", FEB_13 - DAY, 60.0), bar("VCB", FEB_13, 61.0), bar("FPT", FEB_13, 90.0)])
    items = [item for p in received(conn) for item in json.loads(p)]
    assert sorted(items) == [["FPT", "1d", FEB_13], ["VCB", "1d", FEB_13]], "one item per series, its newest bar"

    write(clean_db, [bar("VCB", FEB_13, 61.5)])  # the live bar revised in place
    assert [json.loads(p) for p in received(conn)] == [[["VCB", "1d", FEB_13]]]

    write(clean_db, [bar("VCB", FEB_13, 61.5)])  # identical: candles_latest does not change
    write(clean_db, [bar("VCB", FEB_13 - 2 * DAY, 59.0)])  # an older backfill: the latest stays
    assert received(conn, 0.5) == []
    conn.close()


def test_a_whole_market_write_is_chunked_under_the_payload_limit(clean_db: MigratedDatabase) -> None:
    conn = listener(clean_db)
    tickers = [f"T{i:011d}" for i in range(400)]  # 12 characters, the longest ticker
    write(clean_db, [bar(t, FEB_13, 10.0) for t in tickers])
    payloads = received(conn)
    assert len(payloads) == 3, [len(p) for p in payloads]
    assert all(len(p.encode()) < 8000 for p in payloads)
    assert sorted(item[0] for p in payloads for item in json.loads(p)) == tickers
    conn.close()
