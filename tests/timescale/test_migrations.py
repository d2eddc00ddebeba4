"""Migrations from the deployed system: adopting the old candles table, intraday ts to true UTC, price tables."""

from __future__ import annotations

import shutil
from datetime import datetime
from pathlib import Path

import psycopg2

from tests.conftest import MigratedDatabase
from tests.timescale.test_schema import fingerprint, fingerprint_of
from vietmarket_core.market import VN_TZ, intraday_bar_ts
from vietmarket_pipelines.timescale.databases import create_database, drop_database, with_database
from vietmarket_pipelines.timescale.migrate import migrate, schema_dir

HOUR = 3_600_000
INTRADAY_MIGRATION = schema_dir() / "migrations" / "0002_intraday_true_utc.sql"


def old_style_ts(bar_open: datetime) -> int:
    """How the old system stored an intraday bar: Vietnam wall-clock time labelled as UTC."""
    return intraday_bar_ts(bar_open) + 7 * HOUR


def true_ts(bar_open: datetime) -> int:
    return intraday_bar_ts(bar_open)


def run_file_by_hand(db: MigratedDatabase) -> None:
    conn = db.connect()
    with conn, conn.cursor() as cur:
        cur.execute(INTRADAY_MIGRATION.read_text())
    conn.close()


def test_intraday_migration_shifts_old_rows_once_and_keeps_correct_ones(clean_db: MigratedDatabase) -> None:
    bar_1445 = datetime(2026, 2, 13, 14, 45, tzinfo=VN_TZ)
    bar_0900 = datetime(2026, 2, 13, 9, 0, tzinfo=VN_TZ)
    bar_1400 = datetime(2026, 2, 13, 14, 0, tzinfo=VN_TZ)
    conn = clean_db.connect()
    with conn, conn.cursor() as cur:
        rows = [
            # old-style rows
            ("VCB", "15m", old_style_ts(bar_1445), 64.4, "old"),
            ("VCB", "15m", old_style_ts(bar_0900), 64.0, "old"),
            ("FPT", "1h", old_style_ts(bar_1400), 100.0, "old"),
            # a bar both systems wrote: the new system's true-UTC row must survive
            ("FPT", "1h", old_style_ts(bar_0900), 1.0, "old"),
            ("FPT", "1h", true_ts(bar_0900), 99.0, "new"),
        ]
        for ticker, tf, ts, price, source in rows:
            cur.execute(
                f"INSERT INTO candles_{tf} (ticker, tf, ts, o, h, l, c, v, source) "
                "VALUES (%s, %s, %s, %s, %s, %s, %s, 1, %s)",
                (ticker, tf, ts, price, price, price, price, source),
            )
        cur.execute(
            "INSERT INTO candles_1d (ticker, tf, ts, o, h, l, c, v, source) "
            "VALUES ('VCB', '1d', 1770940800000, 64.7, 65.1, 64.0, 64.4, 4951400, 'vci')"
        )
    conn.close()

    run_file_by_hand(clean_db)
    run_file_by_hand(clean_db)  # the guard: nothing moves twice

    conn = clean_db.connect()
    with conn, conn.cursor() as cur:
        cur.execute("SELECT ticker, tf, ts, c, source FROM candles ORDER BY tf, ticker, ts")
        stored = cur.fetchall()
        cur.execute("SELECT ticker, tf, ts FROM candles_latest ORDER BY tf, ticker")
        newest = cur.fetchall()
    conn.close()

    assert true_ts(bar_1445) == 1770968700000  # 07:45Z
    assert stored == [
        ("VCB", "15m", true_ts(bar_0900), 64.0, "old"),
        ("VCB", "15m", true_ts(bar_1445), 64.4, "old"),
        ("VCB", "1d", 1770940800000, 64.4, "vci"),
        ("FPT", "1h", true_ts(bar_0900), 99.0, "new"),
        ("FPT", "1h", true_ts(bar_1400), 100.0, "old"),
    ]
    assert newest == [
        ("VCB", "15m", true_ts(bar_1445)),
        ("VCB", "1d", 1770940800000),
        ("FPT", "1h", true_ts(bar_1400)),
    ]


def test_legacy_candles_table_is_adopted_into_the_timeframe_tables(admin_url: str) -> None:
    name = "vm_test_legacy"
    drop_database(admin_url, name)
    create_database(admin_url, name)
    dsn = with_database(admin_url, name)
    try:
        conn = psycopg2.connect(dsn)
        with conn, conn.cursor() as cur:
            # The deployed table, as the old runbook created it.
            cur.execute(
                """
                CREATE TABLE candles (
                  ticker text NOT NULL, tf text NOT NULL CHECK (tf IN ('1d','1h','15m')),
                  ts bigint NOT NULL, o double precision NOT NULL, h double precision NOT NULL,
                  l double precision NOT NULL, c double precision NOT NULL, v double precision,
                  source text, ingested_at timestamptz NOT NULL DEFAULT now(),
                  PRIMARY KEY (ticker, tf, ts));
                INSERT INTO candles VALUES
                  ('VCB', '1d', 1770940800000, 64.7, 65.1, 64.0, 64.4, 4951400, 'vci', now()),
                  ('VCB', '15m', 1770993900000, 64.4, 64.5, 64.3, 64.4, 1000, 'vci', now());
                """
            )
        conn.close()

        migrate(dsn)

        conn = psycopg2.connect(dsn)
        with conn, conn.cursor() as cur:
            cur.execute("SELECT ticker, tf, ts FROM candles ORDER BY tf")
            # 1770993900000 is 14:45Z, the old label of the 14:45 ICT bar; 0002 moved it to 07:45Z.
            assert cur.fetchall() == [("VCB", "15m", 1770968700000), ("VCB", "1d", 1770940800000)]
            cur.execute("SELECT count(*) FROM candles_legacy")
            assert cur.fetchone() == (2,)
        conn.close()
    finally:
        drop_database(admin_url, name)


PRICES_MIGRATION = schema_dir() / "migrations" / "0003_prices_and_corporate_actions.sql"


def test_migration_0003_brings_a_0002_database_to_the_fresh_catalog(
    admin_url: str, db: MigratedDatabase, tmp_path: Path
) -> None:
    schema = (schema_dir() / "schema.sql").read_text()
    migration = PRICES_MIGRATION.read_text()
    # One text, two places: schema.sql carries 0003 verbatim, so both paths create the same objects.
    assert migration in schema
    # The database as deployed at 0002: the schema without that section, and the first migrations.
    (tmp_path / "migrations").mkdir()
    # 0007's triggers reach the tables 0003 creates, so a schema as of 0002 had neither.
    changed = (schema_dir() / "migrations" / "0007_candles_changed_notify.sql").read_text()
    (tmp_path / "schema.sql").write_text(schema.replace(migration, "").replace(changed, ""))
    for name in ("0001_adopt_legacy_candles.sql", "0002_intraday_true_utc.sql"):
        shutil.copy(schema_dir() / "migrations" / name, tmp_path / "migrations" / name)
    name = "vm_test_from_0002"
    drop_database(admin_url, name)
    create_database(admin_url, name)
    dsn = with_database(admin_url, name)
    try:
        assert migrate(dsn, tmp_path).applied == ["0001_adopt_legacy_candles.sql", "0002_intraday_true_utc.sql"]
        fresh = fingerprint(db)
        assert fingerprint_of(dsn) != fresh
        conn = psycopg2.connect(dsn)
        with conn, conn.cursor() as cur:
            cur.execute("SELECT to_regclass('daily_prices'), to_regclass('corporate_actions')")
            assert cur.fetchone() == (None, None)
        conn.close()

        # By hand (psql -f), twice, with 0007 after it, then through the runner, which records them:
        # the same catalog each time.
        for _ in range(2):
            conn = psycopg2.connect(dsn)
            with conn, conn.cursor() as cur:
                cur.execute(migration)
                cur.execute(changed)
            conn.close()
            assert fingerprint_of(dsn) == fresh
        report = migrate(dsn)
        # The stripped schema already held the later sections; the runner records them all.
        assert report.applied == [
            "0003_prices_and_corporate_actions.sql",
            "0004_trading_calendar.sql",
            "0006_candles_latest_notify.sql",
            "0007_candles_changed_notify.sql",
        ]
        assert fingerprint_of(dsn) == fresh
    finally:
        drop_database(admin_url, name)


CALENDAR_MIGRATION = schema_dir() / "migrations" / "0004_trading_calendar.sql"


def test_migration_0004_brings_a_0003_database_to_the_fresh_catalog(
    admin_url: str, db: MigratedDatabase, tmp_path: Path
) -> None:
    schema = (schema_dir() / "schema.sql").read_text()
    migration = CALENDAR_MIGRATION.read_text()
    assert migration in schema, "schema.sql carries 0004 verbatim"
    (tmp_path / "migrations").mkdir()
    (tmp_path / "schema.sql").write_text(schema.replace(migration, ""))
    earlier = ("0001_adopt_legacy_candles.sql", "0002_intraday_true_utc.sql", "0003_prices_and_corporate_actions.sql")
    for name in earlier:
        shutil.copy(schema_dir() / "migrations" / name, tmp_path / "migrations" / name)
    name = "vm_test_from_0003"
    drop_database(admin_url, name)
    create_database(admin_url, name)
    dsn = with_database(admin_url, name)
    try:
        assert migrate(dsn, tmp_path).applied == list(earlier)
        fresh = fingerprint(db)
        conn = psycopg2.connect(dsn)
        with conn, conn.cursor() as cur:
            cur.execute("SELECT to_regclass('trading_calendar'), to_regclass('trading_calendar_refresh')")
            assert cur.fetchone() == (None, None)
        conn.close()
        for _ in range(2):
            conn = psycopg2.connect(dsn)
            with conn, conn.cursor() as cur:
                cur.execute(migration)
            conn.close()
            assert fingerprint_of(dsn) == fresh
        assert migrate(dsn).applied == [
            "0004_trading_calendar.sql",
            "0006_candles_latest_notify.sql",
            "0007_candles_changed_notify.sql",
        ]
        assert fingerprint_of(dsn) == fresh
    finally:
        drop_database(admin_url, name)


NOTIFY_MIGRATION = schema_dir() / "migrations" / "0006_candles_latest_notify.sql"


def test_migration_0006_adds_the_notify_trigger_to_a_0004_database(
    admin_url: str, db: MigratedDatabase, tmp_path: Path
) -> None:
    schema = (schema_dir() / "schema.sql").read_text()
    migration = NOTIFY_MIGRATION.read_text()
    assert migration in schema, "schema.sql carries 0006 verbatim"
    (tmp_path / "migrations").mkdir()
    (tmp_path / "schema.sql").write_text(schema.replace(migration, ""))
    # The runner takes versions in order and needs no contiguous numbers: 0006 follows 0004 here.
    earlier = sorted(p.name for p in (schema_dir() / "migrations").glob("*.sql") if p.name < "0006")
    for name in earlier:
        shutil.copy(schema_dir() / "migrations" / name, tmp_path / "migrations" / name)
    name = "vm_test_from_0004"
    drop_database(admin_url, name)
    create_database(admin_url, name)
    dsn = with_database(admin_url, name)
    try:
        assert migrate(dsn, tmp_path).applied == earlier
        fresh = fingerprint(db)
        conn = psycopg2.connect(dsn)
        with conn, conn.cursor() as cur:
            cur.execute("SELECT count(*) FROM pg_trigger WHERE tgname LIKE 'candles_latest_notify%'")
            assert cur.fetchone() == (0,)
        conn.close()
        for _ in range(2):
            conn = psycopg2.connect(dsn)
            with conn, conn.cursor() as cur:
                cur.execute(migration)
            conn.close()
            assert fingerprint_of(dsn) == fresh
        assert migrate(dsn).applied == ["0006_candles_latest_notify.sql", "0007_candles_changed_notify.sql"]
        assert fingerprint_of(dsn) == fresh
    finally:
        drop_database(admin_url, name)


CHANGED_MIGRATION = schema_dir() / "migrations" / "0007_candles_changed_notify.sql"


def test_migration_0007_adds_the_page_cache_triggers_to_a_0006_database(
    admin_url: str, db: MigratedDatabase, tmp_path: Path
) -> None:
    schema = (schema_dir() / "schema.sql").read_text()
    migration = CHANGED_MIGRATION.read_text()
    assert migration in schema, "schema.sql carries 0007 verbatim"
    (tmp_path / "migrations").mkdir()
    (tmp_path / "schema.sql").write_text(schema.replace(migration, ""))
    earlier = sorted(p.name for p in (schema_dir() / "migrations").glob("*.sql") if p.name < "0007")
    for name in earlier:
        shutil.copy(schema_dir() / "migrations" / name, tmp_path / "migrations" / name)
    name = "vm_test_from_0006"
    drop_database(admin_url, name)
    create_database(admin_url, name)
    dsn = with_database(admin_url, name)
    try:
        assert migrate(dsn, tmp_path).applied == earlier
        fresh = fingerprint(db)
        conn = psycopg2.connect(dsn)
        with conn, conn.cursor() as cur:
            cur.execute("SELECT count(*) FROM pg_trigger WHERE tgname LIKE '%_changed_on_%'")
            assert cur.fetchone() == (0,)
        conn.close()
        for _ in range(2):
            conn = psycopg2.connect(dsn)
            with conn, conn.cursor() as cur:
                cur.execute(migration)
            conn.close()
            assert fingerprint_of(dsn) == fresh
        assert migrate(dsn).applied == ["0007_candles_changed_notify.sql"]
        assert fingerprint_of(dsn) == fresh
        conn = psycopg2.connect(dsn)
        with conn, conn.cursor() as cur:
            # Four relations the pages read, plus corporate_actions: insert, update, delete, truncate each.
            cur.execute("SELECT count(*) FROM pg_trigger WHERE tgname LIKE '%_changed_on_%'")
            assert cur.fetchone() == (20,)
        conn.close()
    finally:
        drop_database(admin_url, name)
