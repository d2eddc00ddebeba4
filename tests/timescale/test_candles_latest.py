"""candles_latest holds the newest bar of each series on every write path and never moves back."""

from __future__ import annotations

import psycopg2.extensions

from tests.conftest import MigratedDatabase

DAY = 86_400_000
FEB_13 = 1770940800000  # VCB's 2026-02-13 daily bar


def bars(ticker: str, first_day: int, count: int, close: float) -> list[tuple[object, ...]]:
    return [
        (ticker, "1d", FEB_13 + (first_day + i) * DAY, close, close + 1, close - 1, close, 100.0, "test")
        for i in range(count)
    ]


def write(cur: psycopg2.extensions.cursor, rows: list[tuple[object, ...]]) -> None:
    cur.executemany(
        "INSERT INTO candles_1d (ticker, tf, ts, o, h, l, c, v, source) "
        "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s) "
        "ON CONFLICT (ticker, tf, ts) DO UPDATE SET c = excluded.c",
        rows,
    )


def latest(cur: psycopg2.extensions.cursor, ticker: str) -> tuple[int, float]:
    cur.execute("SELECT ts, c FROM candles_latest WHERE ticker = %s AND tf = '1d'", (ticker,))
    row = cur.fetchone()
    assert row is not None, f"no latest bar for {ticker}"
    return int(row[0]), float(row[1])


def test_latest_follows_new_bars_and_ignores_an_older_backfill(clean_db: MigratedDatabase) -> None:
    conn = clean_db.connect("writer")
    with conn, conn.cursor() as cur:
        write(cur, bars("VCB", 0, 5, 64.0))
        assert latest(cur, "VCB") == (FEB_13 + 4 * DAY, 64.0)
        # A backfill of much older history, in one statement and out of order, must not win.
        older = bars("VCB", -400, 300, 40.0)
        write(cur, list(reversed(older)))
        assert latest(cur, "VCB") == (FEB_13 + 4 * DAY, 64.0)
        # An older bar re-upserted with new values still does not win.
        write(cur, bars("VCB", 1, 1, 99.0))
        assert latest(cur, "VCB") == (FEB_13 + 4 * DAY, 64.0)
        # A revision of the newest bar itself does.
        write(cur, bars("VCB", 4, 1, 65.5))
        assert latest(cur, "VCB") == (FEB_13 + 4 * DAY, 65.5)
        # A newer bar moves it forward.
        write(cur, bars("VCB", 5, 1, 66.0))
        assert latest(cur, "VCB") == (FEB_13 + 5 * DAY, 66.0)
    conn.close()


def test_latest_is_set_per_series_from_one_bulk_statement(clean_db: MigratedDatabase) -> None:
    conn = clean_db.connect("writer")
    with conn, conn.cursor() as cur:
        cur.execute(
            "INSERT INTO candles_1d (ticker, tf, ts, o, h, l, c, v, source) "
            "SELECT t, '1d', %s::bigint + d * %s::bigint, d, d + 1, d - 1, d, 1, 'test' "
            "FROM unnest(ARRAY['FPT', 'VCB', 'HPG']) t, generate_series(0, 99) d",
            (FEB_13, DAY),
        )
        cur.execute("SELECT ticker, ts, c FROM candles_latest ORDER BY ticker")
        assert cur.fetchall() == [(t, FEB_13 + 99 * DAY, 99.0) for t in ("FPT", "HPG", "VCB")]
    conn.close()


def test_a_direct_write_to_latest_cannot_move_it_backwards(clean_db: MigratedDatabase) -> None:
    conn = clean_db.connect("writer")
    with conn, conn.cursor() as cur:
        write(cur, bars("FPT", 0, 3, 100.0))
        cur.execute("UPDATE candles_latest SET ts = ts - %s, c = 1 WHERE ticker = 'FPT'", (DAY,))
        assert latest(cur, "FPT") == (FEB_13 + 2 * DAY, 100.0)
    conn.close()


def test_deleting_the_newest_bar_moves_latest_to_the_bar_before(clean_db: MigratedDatabase) -> None:
    conn = clean_db.connect("writer")
    with conn, conn.cursor() as cur:
        write(cur, bars("HPG", 0, 3, 27.0))
        cur.execute("DELETE FROM candles_1d WHERE ticker = 'HPG' AND ts = %s", (FEB_13 + 2 * DAY,))
        assert latest(cur, "HPG") == (FEB_13 + DAY, 27.0)
        cur.execute("DELETE FROM candles_1d WHERE ticker = 'HPG'")
        cur.execute("SELECT count(*) FROM candles_latest WHERE ticker = 'HPG'")
        assert cur.fetchone() == (0,)
    conn.close()


def test_a_rolled_back_write_leaves_latest_untouched(clean_db: MigratedDatabase) -> None:
    conn = clean_db.connect("writer")
    with conn, conn.cursor() as cur:
        write(cur, bars("MWG", 0, 2, 50.0))
    with conn.cursor() as cur:
        write(cur, bars("MWG", 2, 5, 51.0))
    conn.rollback()
    with conn, conn.cursor() as cur:
        assert latest(cur, "MWG") == (FEB_13 + DAY, 50.0)
    conn.close()
