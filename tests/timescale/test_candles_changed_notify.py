"""Every write to a relation /candles pages read reaches LISTEN `candles_changed`: [ticker, relation, min, max ts]."""

from __future__ import annotations

import json
import select
from typing import Any

import psycopg2.extensions

from tests.conftest import MigratedDatabase
from tests.timescale.test_candles_latest_notify import DAY, FEB_13, bar, write

CHANNEL = "candles_changed"


def listener(db: MigratedDatabase) -> psycopg2.extensions.connection:
    conn = db.connect("reader")
    conn.set_isolation_level(psycopg2.extensions.ISOLATION_LEVEL_AUTOCOMMIT)
    with conn.cursor() as cur:
        cur.execute(f"LISTEN {CHANNEL}")
    return conn


def received(conn: psycopg2.extensions.connection, wait_s: float = 1.0) -> list[str]:
    """Every notification on the channel until it has been quiet for wait_s."""
    while select.select([conn], [], [], wait_s)[0]:
        conn.poll()
    payloads = [n.payload for n in conn.notifies if n.channel == CHANNEL]
    conn.notifies.clear()
    return payloads


def items(conn: psycopg2.extensions.connection) -> list[list[Any]]:
    return sorted((item for p in received(conn) for item in json.loads(p)), key=str)


def execute(db: MigratedDatabase, *statements: str) -> None:
    """The statements in one transaction on the writer's role, as the write path runs."""
    conn = db.connect("writer")
    with conn, conn.cursor() as cur:
        for sql in statements:
            cur.execute(sql)
    conn.close()


def test_inserts_updates_and_deletes_name_each_ticker_and_the_span_they_changed(clean_db: MigratedDatabase) -> None:
    conn = listener(clean_db)
    write(clean_db, [bar("VCB", FEB_13 - 5 * DAY, 60.0), bar("VCB", FEB_13, 61.0), bar("FPT", FEB_13, 90.0)])
    assert items(conn) == [["FPT", "1d", FEB_13, FEB_13], ["VCB", "1d", FEB_13 - 5 * DAY, FEB_13]]

    # A revision of an old bar names that bar's ts, though candles_latest does not change.
    execute(clean_db, f"UPDATE candles_1d SET c = 60.5 WHERE ticker = 'VCB' AND ts = {FEB_13 - 5 * DAY}")
    assert items(conn) == [["VCB", "1d", FEB_13 - 5 * DAY, FEB_13 - 5 * DAY]]

    # An UPDATE that moves a bar names both the old and the new ts.
    execute(clean_db, f"UPDATE candles_1d SET ts = {FEB_13 - 9 * DAY} WHERE ticker = 'FPT' AND ts = {FEB_13}")
    assert items(conn) == [["FPT", "1d", FEB_13 - 9 * DAY, FEB_13]]

    # A replacement: delete and insert in one transaction, delivered at commit.
    execute(
        clean_db,
        "DELETE FROM candles_1d WHERE ticker = 'VCB'",
        f"INSERT INTO candles_1d (ticker, tf, ts, o, h, l, c, v, source) VALUES "
        f"('VCB', '1d', {FEB_13 - 2 * DAY}, 30, 31, 29, 30, 100, 'test')",
    )
    assert items(conn) == [["VCB", "1d", FEB_13 - 5 * DAY, FEB_13], ["VCB", "1d", FEB_13 - 2 * DAY, FEB_13 - 2 * DAY]]

    # A statement that matches no row changes nothing and says nothing; a rolled-back one neither.
    execute(clean_db, "DELETE FROM candles_1d WHERE ticker = 'NONE'")
    writer = clean_db.connect("writer")
    with writer.cursor() as cur:
        cur.execute("DELETE FROM candles_1d")
    writer.rollback()
    writer.close()
    assert received(conn, 0.5) == []
    conn.close()


def test_the_intraday_tables_daily_prices_and_corporate_actions_notify(clean_db: MigratedDatabase) -> None:
    conn = listener(clean_db)
    hour = FEB_13 + 2 * 3_600_000
    execute(
        clean_db,
        *(
            f"INSERT INTO candles_{tf} (ticker, tf, ts, o, h, l, c, v, source) "
            f"VALUES ('VCB', '{tf}', {hour}, 1, 1, 1, 1, 1, 't')"
            for tf in ("1h", "15m")
        ),
        "INSERT INTO daily_prices (ticker, ts, exchange, open, high, low, close, ad_open, ad_high, ad_low, ad_close, "
        f"nm_volume, nm_value, pt_volume, pt_value, source) "
        f"VALUES ('VCB', {FEB_13}, 'HOSE', 60, 61, 59, 60, 60, 61, 59, 60, 100, 6000, 0, 0, 'finfo')",
        "INSERT INTO corporate_actions (ticker, ex_date, event_type, source, factor) "
        "VALUES ('SHB', '2026-01-05', 'bonus', 'finfo', 0.8)",
    )
    assert items(conn) == [
        ["SHB", "corporate_actions", None, None],
        ["VCB", "15m", hour, hour],
        ["VCB", "1h", hour, hour],
        ["VCB", "daily_prices", FEB_13, FEB_13],
    ]
    execute(clean_db, "UPDATE corporate_actions SET ticker = 'VCB' WHERE ticker = 'SHB'")
    assert items(conn) == [["SHB", "corporate_actions", None, None], ["VCB", "corporate_actions", None, None]]
    execute(clean_db, "DELETE FROM daily_prices")
    assert items(conn) == [["VCB", "daily_prices", FEB_13, FEB_13]]
    conn.close()


def test_a_whole_market_write_is_chunked_under_the_payload_limit(clean_db: MigratedDatabase) -> None:
    conn = listener(clean_db)
    tickers = [f"T{i:011d}" for i in range(600)]  # 12 characters, the longest ticker
    write(clean_db, [bar(t, FEB_13, 10.0) for t in tickers])  # one statement
    payloads = received(conn)
    assert len(payloads) > 1, "600 items cannot fit one payload"
    assert all(len(p.encode()) < 8000 for p in payloads), [len(p) for p in payloads]
    got = [item for p in payloads for item in json.loads(p)]
    assert sorted(got) == [[t, "1d", FEB_13, FEB_13] for t in tickers]
    conn.close()
