"""daily_prices, corporate_actions and series_restatements: storage, constraints, comments, roles."""

from __future__ import annotations

from typing import Any

import psycopg2
import psycopg2.errors
import pytest

from tests.conftest import MigratedDatabase

FEB_13 = 1770940800000
PRICE_TABLES = ("daily_prices", "corporate_actions", "series_restatements")


def stock_row(**override: Any) -> dict[str, Any]:
    """VCB on 2026-02-13 as a valid daily_prices row (thousands of VND)."""
    row: dict[str, Any] = {
        "ticker": "VCB", "ts": FEB_13, "exchange": "HOSE",
        "open": 64.7, "high": 65.1, "low": 64.0, "close": 64.4, "average": 64.5,
        "ad_open": 64.7, "ad_high": 65.1, "ad_low": 64.0, "ad_close": 64.4, "ad_average": 64.5,
        "reference": 64.6, "ceiling": 69.1, "floor": 60.1,
        "nm_volume": 4_951_400, "nm_value": 319_000_000_000, "pt_volume": 0, "pt_value": 0, "source": "finfo",
    }  # fmt: skip
    row.update(override)
    return row


def index_row(**override: Any) -> dict[str, Any]:
    row = stock_row(
        ticker="VNINDEX", exchange=None, open=1800, high=1810, low=1795, close=1805, average=None,
        ad_open=1800, ad_high=1810, ad_low=1795, ad_close=1805, ad_average=None,
        reference=None, ceiling=None, floor=None,
    )  # fmt: skip
    row.update(override)
    return row


def insert(cur: psycopg2.extensions.cursor, table: str, row: dict[str, Any]) -> None:
    columns = ", ".join(row)
    values = ", ".join(f"%({name})s" for name in row)
    cur.execute(f"INSERT INTO {table} ({columns}) VALUES ({values})", row)


def test_daily_prices_is_chunked_like_candles_1d_and_the_others_are_plain_tables(db: MigratedDatabase) -> None:
    conn = db.connect()
    with conn, conn.cursor() as cur:
        cur.execute(
            "SELECT hypertable_name, integer_interval FROM timescaledb_information.dimensions "
            "WHERE hypertable_name IN ('candles_1d', 'daily_prices', 'corporate_actions', 'series_restatements')"
        )
        intervals = dict(cur.fetchall())
        cur.execute(
            "SELECT relname, relkind FROM pg_class WHERE relname = ANY(%s) AND relnamespace = 'public'::regnamespace",
            (list(PRICE_TABLES),),
        )
        kinds = dict(cur.fetchall())
    conn.close()
    assert intervals == {"candles_1d": 3650 * 86_400_000, "daily_prices": 3650 * 86_400_000}
    assert kinds == dict.fromkeys(PRICE_TABLES, "r")


@pytest.mark.parametrize("table", PRICE_TABLES)
def test_every_column_says_what_it_holds(db: MigratedDatabase, table: str) -> None:
    conn = db.connect()
    with conn, conn.cursor() as cur:
        cur.execute(
            "SELECT attname, col_description(attrelid, attnum) FROM pg_attribute "
            "WHERE attrelid = %s::regclass AND attnum > 0 AND NOT attisdropped",
            (table,),
        )
        comments = dict(cur.fetchall())
        cur.execute("SELECT obj_description(%s::regclass, 'pg_class')", (table,))
        table_comment = cur.fetchone()
    conn.close()
    assert table_comment and table_comment[0]
    assert [name for name, text in comments.items() if not text] == []
    if table == "daily_prices":
        prices = ("open", "high", "low", "close", "average", "reference", "ceiling", "floor")
        for name in prices:
            assert comments[name].startswith("Raw:") and "thousands of vnd" in comments[name].lower(), name
            if f"ad_{name}" in comments:
                assert comments[f"ad_{name}"].startswith("Adjusted:"), name
                assert "as of the fetch" in comments[f"ad_{name}"], name
        assert "as sent by finfo" in comments["nm_value"] and "VND" in comments["nm_value"]


def test_a_stock_and_an_index_row_are_accepted(clean_db: MigratedDatabase) -> None:
    conn = clean_db.connect("writer")
    with conn, conn.cursor() as cur:
        insert(cur, "daily_prices", stock_row())
        insert(cur, "daily_prices", index_row())
        cur.execute("SELECT ticker, ts, exchange, ceiling FROM daily_prices ORDER BY ticker")
        assert cur.fetchall() == [("VCB", FEB_13, "HOSE", 69.1), ("VNINDEX", FEB_13, None, None)]
        with pytest.raises(psycopg2.errors.UniqueViolation):
            insert(cur, "daily_prices", stock_row(close=64.5))
    conn.close()


@pytest.mark.parametrize(
    ("row", "problem"),
    [
        (stock_row(ts=FEB_13 + 7 * 3_600_000), "ts not at 00:00 UTC of the trading date"),
        (stock_row(ticker="vcb"), "lower-case ticker"),
        (stock_row(exchange="HSX"), "exchange not HOSE, HNX or UPCOM"),
        (stock_row(low=65.2), "low above high"),
        (stock_row(close=65.2), "close above high"),
        (stock_row(ad_low=65.2), "adjusted low above adjusted high"),
        (stock_row(open=0, low=0), "a zero price"),
        (stock_row(ad_average=-1), "a negative adjusted average"),
        (stock_row(nm_volume=-1), "a negative volume"),
        (stock_row(ceiling=64.0), "reference above the ceiling"),
        (stock_row(floor=None), "half a band"),
        (stock_row(average=None), "an adjusted average without a raw one"),
        (index_row(reference=1800, ceiling=1900, floor=1700), "an index with a band"),
    ],
)
def test_daily_prices_constraints_reject_impossible_rows(
    clean_db: MigratedDatabase, row: dict[str, Any], problem: str
) -> None:
    conn = clean_db.connect("writer")
    with conn.cursor() as cur, pytest.raises(psycopg2.errors.CheckViolation):
        insert(cur, "daily_prices", row)
    conn.rollback()
    conn.close()


def test_corporate_actions_keep_one_row_per_ticker_ex_date_and_source(clean_db: MigratedDatabase) -> None:
    action = {
        "ticker": "FPT", "exchange": "HOSE", "ex_date": "2025-06-10", "record_date": "2025-06-11",
        "event_type": "stock_dividend", "source": "finfo", "factor": 1 / 1.2, "cumulative_factor": 1 / 1.2,
        "evidence": '{"before_ratio": 0.8334, "after_ratio": 1.0}',
    }  # fmt: skip
    conn = clean_db.connect("writer")
    with conn, conn.cursor() as cur:
        insert(cur, "corporate_actions", action)
        insert(cur, "corporate_actions", {**action, "source": "vietstock", "factor": None, "cumulative_factor": None})
        # An announcement with no known dates is kept, its dates NULL.
        insert(cur, "corporate_actions", {"ticker": "FPT", "headline": "FPT chốt quyền cổ tức", "source": "vietstock"})
        cur.execute("SELECT count(*), count(ex_date), count(pay_date) FROM corporate_actions")
        assert cur.fetchone() == (3, 2, 0)
        with pytest.raises(psycopg2.errors.UniqueViolation):
            insert(cur, "corporate_actions", {**action, "factor": 0.5})
    conn.close()


@pytest.mark.parametrize(
    ("table", "row"),
    [
        ("corporate_actions", {"ticker": "FPT", "source": "finfo", "factor": 0}),
        ("corporate_actions", {"ticker": "FPT", "source": "finfo", "cumulative_factor": -1}),
        ("corporate_actions", {"ticker": "fpt", "source": "finfo"}),
        ("series_restatements", {"ticker": "FPT", "tf": "1w", "source": "vci", "factor": 0.8, "bars_replaced": 1}),
        ("series_restatements", {"ticker": "FPT", "tf": "1d", "source": "vci", "factor": 0, "bars_replaced": 1}),
        ("series_restatements", {"ticker": "FPT", "tf": "1d", "source": "vci", "factor": 0.8, "bars_replaced": -1}),
    ],
)
def test_action_and_restatement_constraints(clean_db: MigratedDatabase, table: str, row: dict[str, Any]) -> None:
    conn = clean_db.connect("writer")
    with conn.cursor() as cur, pytest.raises(psycopg2.errors.CheckViolation):
        insert(cur, table, row)
    conn.rollback()
    conn.close()


def test_a_restatement_is_recorded_by_the_writer(clean_db: MigratedDatabase) -> None:
    conn = clean_db.connect("writer")
    with conn, conn.cursor() as cur:
        restatement = {"ticker": "FPT", "tf": "1d", "source": "vci", "factor": 0.8333, "bars_replaced": 4800}
        insert(cur, "series_restatements", {**restatement, "estimated_ex_date": "2025-06-10", "detail": "{}"})
        cur.execute("SELECT ticker, tf, factor, bars_replaced, detected_at IS NOT NULL FROM series_restatements")
        assert cur.fetchall() == [("FPT", "1d", 0.8333, 4800, True)]
    conn.close()


def test_the_reader_can_read_the_price_tables_and_write_none(clean_db: MigratedDatabase) -> None:
    conn = clean_db.connect("reader")
    conn.autocommit = True
    with conn.cursor() as cur:
        for table in PRICE_TABLES:
            cur.execute(f"SELECT count(*) FROM {table}")
            assert cur.fetchone() == (0,)
        cur.execute("SET default_transaction_read_only = off")  # privileges must hold on their own
        for statement in (
            "INSERT INTO daily_prices (ticker, ts, open, high, low, close, ad_open, ad_high, ad_low, ad_close, "
            "nm_volume, nm_value, pt_volume, pt_value, source) "
            "VALUES ('VCB', 0, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 'x')",
            "UPDATE daily_prices SET close = 1",
            "DELETE FROM daily_prices",
            "INSERT INTO corporate_actions (ticker, source) VALUES ('VCB', 'x')",
            "DELETE FROM corporate_actions",
            "INSERT INTO series_restatements (ticker, tf, source, factor, bars_replaced) "
            "VALUES ('VCB', '1d', 'x', 1, 0)",
            "UPDATE series_restatements SET factor = 1",
            "SELECT nextval('corporate_actions_id_seq')",
        ):
            with pytest.raises(psycopg2.errors.InsufficientPrivilege):
                cur.execute(statement)
    conn.close()


@pytest.mark.parametrize(
    ("where", "index"),
    [
        ("(ex_date, id) < ('2025-06-01', 9e18)", "corporate_actions_ex_date_idx"),
        ("ticker = 'FPT' AND (ex_date, id) < ('2025-06-01', 9e18)", "corporate_actions_ticker_ex_date_idx"),
    ],
    ids=["market", "one-ticker"],
)
def test_corporate_actions_page_newest_first_by_keyset_without_a_sort(
    clean_db: MigratedDatabase, where: str, index: str
) -> None:
    conn = clean_db.connect()
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(
            "INSERT INTO corporate_actions (ticker, ex_date, source) "
            "SELECT t, date '2020-01-01' + d, 'finfo' "
            "FROM unnest(ARRAY['FPT', 'VCB', 'HPG']) t, generate_series(0, 300) d"
        )
        cur.execute("ANALYZE corporate_actions")
        cur.execute("SET enable_seqscan = off")
        cur.execute(f"EXPLAIN SELECT * FROM corporate_actions WHERE {where} ORDER BY ex_date DESC, id DESC LIMIT 50")
        plan = "\n".join(row[0] for row in cur.fetchall())
    conn.close()
    assert f"Index Scan using {index}" in plan, plan
    assert "Sort" not in plan, plan
