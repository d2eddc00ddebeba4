"""The canonical schema: idempotent, hypertables per timeframe, the old table's contract, roles."""

from __future__ import annotations

import re

import psycopg2
import psycopg2.errors
import pytest

from tests.conftest import MigratedDatabase
from vietmarket_pipelines.timescale.databases import create_database, drop_database, with_database
from vietmarket_pipelines.timescale.migrate import MigrationError, migrate, schema_dir

CATALOG_FINGERPRINT = """
SELECT 'column', table_name || '.' || column_name || ':' || data_type || ':' || is_nullable
  FROM information_schema.columns WHERE table_schema = 'public'
UNION ALL
SELECT 'index', indexname || ':' || indexdef FROM pg_indexes WHERE schemaname = 'public'
UNION ALL
SELECT 'trigger', tgrelid::regclass || '.' || tgname || ':' || tgenabled::text
  FROM pg_trigger WHERE NOT tgisinternal AND tgrelid::regclass::text NOT LIKE '\\_timescaledb%'
UNION ALL
SELECT 'constraint', conrelid::regclass || '.' || conname || ':' || pg_get_constraintdef(oid)
  FROM pg_constraint WHERE connamespace = 'public'::regnamespace
UNION ALL
SELECT 'dimension', hypertable_name || ':' || column_name || ':' || integer_interval
  FROM timescaledb_information.dimensions
UNION ALL
SELECT 'grant', table_name || ':' || grantee || ':' || privilege_type
  FROM information_schema.role_table_grants WHERE table_schema = 'public'
UNION ALL
SELECT 'sequence acl', relname || ':' || coalesce(relacl::text, '')
  FROM pg_class WHERE relkind = 'S' AND relnamespace = 'public'::regnamespace
UNION ALL
SELECT 'comment', c.relname || coalesce('.' || a.attname, '') || ':' || d.description
  FROM pg_description d
  JOIN pg_class c ON d.classoid = 'pg_class'::regclass AND d.objoid = c.oid
  LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = d.objsubid AND d.objsubid > 0
 WHERE c.relnamespace = 'public'::regnamespace
ORDER BY 1, 2
"""


def fingerprint_of(dsn: str) -> list[tuple[str, str]]:
    conn = psycopg2.connect(dsn)
    with conn, conn.cursor() as cur:
        cur.execute(CATALOG_FINGERPRINT)
        rows = cur.fetchall()
    conn.close()
    return rows


def fingerprint(db: MigratedDatabase) -> list[tuple[str, str]]:
    return fingerprint_of(db.admin_dsn)


def test_schema_applies_twice_as_a_no_op(db: MigratedDatabase) -> None:
    before = fingerprint(db)
    report = migrate(db.admin_dsn)
    assert report.applied == []
    assert report.already_applied == [
        "0001_adopt_legacy_candles.sql",
        "0002_intraday_true_utc.sql",
        "0003_prices_and_corporate_actions.sql",
        "0004_trading_calendar.sql",
        "0006_candles_latest_notify.sql",
        "0007_candles_changed_notify.sql",
    ]
    assert report.timescaledb_version is not None
    assert fingerprint(db) == before


def test_candle_storage_is_one_hypertable_per_timeframe(db: MigratedDatabase) -> None:
    conn = db.connect()
    with conn, conn.cursor() as cur:
        cur.execute(
            "SELECT hypertable_name, integer_interval FROM timescaledb_information.dimensions "
            "WHERE column_name = 'ts' ORDER BY hypertable_name"
        )
        intervals = dict(cur.fetchall())
    conn.close()
    day = 86_400_000
    assert intervals == {
        "candles_15m": 365 * day,
        "candles_1d": 3650 * day,
        "candles_1h": 730 * day,
        "daily_prices": 3650 * day,
    }


def test_candles_view_keeps_the_deployed_columns_and_types(db: MigratedDatabase) -> None:
    conn = db.connect()
    with conn, conn.cursor() as cur:
        cur.execute(
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_name = 'candles' ORDER BY ordinal_position"
        )
        columns = cur.fetchall()
        cur.execute("SELECT relkind FROM pg_class WHERE oid = 'candles'::regclass")
        relkind = cur.fetchone()
    conn.close()
    assert relkind == ("v",)
    assert columns == [
        ("ticker", "text"),
        ("tf", "text"),
        ("ts", "bigint"),
        ("o", "double precision"),
        ("h", "double precision"),
        ("l", "double precision"),
        ("c", "double precision"),
        ("v", "double precision"),
        ("source", "text"),
        ("ingested_at", "timestamp with time zone"),
    ]


def insert_bar(cur: psycopg2.extensions.cursor, table: str, tf: str, ts: int, c: float) -> None:
    """A VCB bar closing at c: every test here needs one ticker only."""
    cur.execute(
        f"INSERT INTO {table} (ticker, tf, ts, o, h, l, c, v, source) "
        "VALUES ('VCB', %s, %s, %s, %s, %s, %s, 1000, 'test')",
        (tf, ts, c, c + 1, c - 1, c),
    )


def test_primary_key_rejects_duplicate_bars(clean_db: MigratedDatabase) -> None:
    conn = clean_db.connect("writer")
    with conn.cursor() as cur:
        insert_bar(cur, "candles_1d", "1d", 1770940800000, 64.4)
        with pytest.raises(psycopg2.errors.UniqueViolation):
            insert_bar(cur, "candles_1d", "1d", 1770940800000, 64.5)
    conn.rollback()
    conn.close()


@pytest.mark.parametrize(
    ("table", "tf", "ts", "problem"),
    [
        ("candles_1d", "1d", 1770940800000 + 3_600_000, "1d bar not at 00:00 UTC"),
        ("candles_1d", "1h", 1770940800000, "tf of another table"),
        ("candles_15m", "15m", 1770940800000 + 60_000, "15m bar off the 15-minute grid"),
    ],
)
def test_constraints_reject_bars_that_break_the_timestamp_meaning(
    clean_db: MigratedDatabase, table: str, tf: str, ts: int, problem: str
) -> None:
    conn = clean_db.connect("writer")
    with conn.cursor() as cur, pytest.raises(psycopg2.errors.CheckViolation):
        insert_bar(cur, table, tf, ts, 64.4)
    conn.rollback()
    conn.close()


def test_read_only_role_can_select_and_nothing_else(clean_db: MigratedDatabase) -> None:
    conn = clean_db.connect("reader")
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM candles")
        assert cur.fetchone() == (0,)
        cur.execute("SET default_transaction_read_only = off")  # privileges must hold on their own
        for statement in (
            "INSERT INTO candles_1d (ticker, tf, ts, o, h, l, c) VALUES ('VCB', '1d', 0, 1, 1, 1, 1)",
            "UPDATE symbols SET active = false",
            "DELETE FROM articles",
            "INSERT INTO candles_latest (ticker, tf, ts, o, h, l, c) VALUES ('VCB', '1d', 0, 1, 1, 1, 1)",
            "CREATE TEMP TABLE scratch (x int)",
            "CREATE TABLE public.scratch (x int)",
        ):
            with pytest.raises(psycopg2.errors.InsufficientPrivilege):
                cur.execute(statement)
    conn.close()


def test_reader_login_is_read_only_by_default(clean_db: MigratedDatabase) -> None:
    conn = clean_db.connect("reader")
    with conn.cursor() as cur:
        cur.execute("SHOW default_transaction_read_only")
        assert cur.fetchone() == ("on",)
    conn.close()


def test_paging_query_is_an_index_only_backward_scan_of_the_primary_key(clean_db: MigratedDatabase) -> None:
    conn = clean_db.connect()
    conn.autocommit = True
    with conn.cursor() as cur:
        for day in range(40):
            insert_bar(cur, "candles_1d", "1d", 1770940800000 - day * 86_400_000, 60 + day)
        cur.execute("VACUUM ANALYZE candles_1d")
        cur.execute("SET enable_seqscan = off")
        cur.execute(
            "EXPLAIN SELECT ts, o, h, l, c, v, source FROM candles_1d WHERE ticker = 'VCB' AND tf = '1d' "
            "AND ts < 9000000000000 ORDER BY ts DESC LIMIT 500"
        )
        plan = "\n".join(row[0] for row in cur.fetchall())
    conn.close()
    # The primary key INCLUDEs the values: the page never visits the heap, and needs no sort.
    assert re.search(r'Index Only Scan Backward using "\d+_\d+_candles_1d_pkey"', plan), plan
    assert re.search(r"Index Cond: .*ts < '9000000000000'", plan), plan
    assert "Sort" not in plan


def test_changed_applied_migration_is_refused(admin_url: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    name = "vm_test_checksum"
    drop_database(admin_url, name)
    create_database(admin_url, name)
    try:
        source = schema_dir()
        (tmp_path / "migrations").mkdir()
        (tmp_path / "schema.sql").write_text((source / "schema.sql").read_text())
        migration = tmp_path / "migrations" / "0001_example.sql"
        migration.write_text("SELECT 1;")
        dsn = with_database(admin_url, name)
        assert migrate(dsn, tmp_path).applied == ["0001_example.sql"]
        migration.write_text("SELECT 2;")
        with pytest.raises(MigrationError, match="changed after it was applied"):
            migrate(dsn, tmp_path)
    finally:
        drop_database(admin_url, name)


def test_failed_migration_rolls_back_and_names_the_file(admin_url: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    name = "vm_test_failing"
    drop_database(admin_url, name)
    create_database(admin_url, name)
    try:
        (tmp_path / "migrations").mkdir()
        (tmp_path / "schema.sql").write_text((schema_dir() / "schema.sql").read_text())
        (tmp_path / "migrations" / "0001_half_done.sql").write_text(
            "CREATE TABLE half_done (x int); SELECT no_such_function();"
        )
        dsn = with_database(admin_url, name)
        with pytest.raises(MigrationError, match=r"0001_half_done\.sql failed and was rolled back"):
            migrate(dsn, tmp_path)
        conn = psycopg2.connect(dsn)
        with conn.cursor() as cur:
            cur.execute("SELECT to_regclass('half_done'), (SELECT count(*) FROM schema_migrations)")
            assert cur.fetchone() == (None, 0)
        conn.close()
    finally:
        drop_database(admin_url, name)
