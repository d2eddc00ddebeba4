"""Applies the canonical schema and the numbered migrations, recording each in schema_migrations."""

from __future__ import annotations

import argparse
import hashlib
import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import psycopg2
import psycopg2.extensions

MIGRATION_FILE = re.compile(r"^(?P<version>\d{4})_(?P<name>[a-z0-9_]+)\.sql$")
# One applier at a time per database, whoever runs it (make, CI, a Nomad job).
ADVISORY_LOCK_KEY = 0x564D_4D49  # "VMMI"


class MigrationError(RuntimeError):
    """A migration could not be applied, or the recorded history disagrees with the files."""


@dataclass(frozen=True)
class Migration:
    version: str
    name: str
    path: Path

    @property
    def sql(self) -> str:
        return self.path.read_text(encoding="utf-8")

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.path.read_bytes()).hexdigest()


@dataclass
class MigrationReport:
    applied: list[str]
    already_applied: list[str]
    notices: list[str]
    timescaledb_version: str | None


def schema_dir() -> Path:
    configured = os.environ.get("VIETMARKET_SCHEMA_DIR")
    if configured:
        return Path(configured)
    return Path(__file__).resolve().parents[2] / "deploy" / "timescaledb"


def discover(directory: Path) -> list[Migration]:
    migrations_dir = directory / "migrations"
    found: dict[str, Migration] = {}
    for path in sorted(migrations_dir.glob("*.sql")):
        match = MIGRATION_FILE.match(path.name)
        if not match:
            raise MigrationError(f"{path}: migration files are named NNNN_lower_snake.sql")
        version = match["version"]
        if version in found:
            raise MigrationError(f"{path}: version {version} also used by {found[version].path.name}")
        found[version] = Migration(version, match["name"], path)
    return [found[v] for v in sorted(found)]


def migrate(dsn: str, directory: Path | None = None) -> MigrationReport:
    directory = directory or schema_dir()
    schema_file = directory / "schema.sql"
    if not schema_file.is_file():
        raise MigrationError(f"schema file not found: {schema_file} (set VIETMARKET_SCHEMA_DIR)")
    migrations = discover(directory)

    conn = psycopg2.connect(dsn)
    try:
        conn.set_isolation_level(psycopg2.extensions.ISOLATION_LEVEL_AUTOCOMMIT)
        with conn.cursor() as cur:
            cur.execute("SELECT pg_advisory_lock(%s)", (ADVISORY_LOCK_KEY,))
        try:
            return _apply(conn, schema_file, migrations)
        finally:
            with conn.cursor() as cur:
                cur.execute("SELECT pg_advisory_unlock(%s)", (ADVISORY_LOCK_KEY,))
    finally:
        conn.close()


def _apply(conn: psycopg2.extensions.connection, schema_file: Path, migrations: list[Migration]) -> MigrationReport:
    conn.set_isolation_level(psycopg2.extensions.ISOLATION_LEVEL_READ_COMMITTED)
    _run_in_transaction(conn, schema_file.name, schema_file.read_text(encoding="utf-8"))

    with conn.cursor() as cur:
        cur.execute("SELECT version, name, checksum FROM schema_migrations")
        recorded = {version: (name, checksum) for version, name, checksum in cur.fetchall()}
    conn.commit()

    applied, already = [], []
    for migration in migrations:
        if migration.version in recorded:
            name, checksum = recorded[migration.version]
            if checksum != migration.checksum:
                raise MigrationError(
                    f"migration {migration.version}_{name} was changed after it was applied "
                    f"(recorded sha256 {checksum[:12]}, file {migration.checksum[:12]}); "
                    "add a new migration instead of editing an applied one"
                )
            already.append(migration.path.name)
            continue
        _run_in_transaction(
            conn,
            migration.path.name,
            migration.sql,
            record=(migration.version, migration.name, migration.checksum),
        )
        applied.append(migration.path.name)

    with conn.cursor() as cur:
        cur.execute("SELECT extversion FROM pg_extension WHERE extname = 'timescaledb'")
        row = cur.fetchone()
    conn.commit()
    # "already exists, skipping" is the expected sound of an idempotent re-run, not news.
    notices = [n.strip() for n in conn.notices if not n.rstrip().endswith(", skipping")]
    return MigrationReport(applied, already, notices, row[0] if row else None)


def _run_in_transaction(
    conn: psycopg2.extensions.connection,
    label: str,
    sql: str,
    record: tuple[str, str, str] | None = None,
) -> None:
    try:
        with conn.cursor() as cur:
            cur.execute(sql)
            if record:
                cur.execute(
                    "INSERT INTO schema_migrations (version, name, checksum) VALUES (%s, %s, %s)",
                    record,
                )
        conn.commit()
    except psycopg2.Error as exc:
        conn.rollback()
        detail = (exc.pgerror or str(exc)).strip()
        raise MigrationError(f"{label} failed and was rolled back: {detail}") from exc


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="vietmarket-db", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    for name, text in (("migrate", "apply schema.sql and pending migrations"), ("status", "list migrations")):
        cmd = sub.add_parser(name, help=text)
        cmd.add_argument(
            "--dsn",
            default=os.environ.get("VIETMARKET_ADMIN_PG_URL"),
            help="admin connection URL (default: $VIETMARKET_ADMIN_PG_URL)",
        )
        cmd.add_argument("--schema-dir", type=Path, default=None)
    args = parser.parse_args(argv)
    if not args.dsn:
        parser.error("no database: pass --dsn or set VIETMARKET_ADMIN_PG_URL")

    directory = args.schema_dir or schema_dir()
    if args.command == "status":
        return _status(args.dsn, directory)
    try:
        report = migrate(args.dsn, directory)
    except (MigrationError, psycopg2.OperationalError) as exc:
        print(f"vietmarket-db: {exc}", file=sys.stderr)
        return 1
    for notice in report.notices:
        print(notice, file=sys.stderr)
    ts = report.timescaledb_version or "ABSENT (plain tables)"
    print(
        f"schema applied; timescaledb {ts}; migrations applied now: {report.applied or 'none'}; "
        f"already applied: {len(report.already_applied)}"
    )
    return 0


def _status(dsn: str, directory: Path) -> int:
    with psycopg2.connect(dsn) as conn, conn.cursor() as cur:
        cur.execute("SELECT to_regclass('public.schema_migrations') IS NOT NULL")
        row = cur.fetchone()
        recorded: dict[str, str] = {}
        if row and row[0]:
            cur.execute("SELECT version, applied_at::text FROM schema_migrations")
            recorded = dict(cur.fetchall())
    conn.close()
    for migration in discover(directory):
        state = f"applied {recorded[migration.version]}" if migration.version in recorded else "PENDING"
        print(f"{migration.path.name}: {state}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
