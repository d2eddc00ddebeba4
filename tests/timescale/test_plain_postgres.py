"""On a PostgreSQL without TimescaleDB loaded, the schema still applies, as plain tables, and says so."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psycopg2
import pytest

from vietmarket_pipelines.timescale.migrate import migrate

PG_BIN = Path("/usr/lib/postgresql/15/bin")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def as_cluster_owner(args: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *args] if os.geteuid() == 0 else args


@pytest.fixture
def cluster_without_timescaledb() -> Iterator[str]:
    """A throwaway cluster whose shared_preload_libraries lacks timescaledb."""
    root = Path(tempfile.mkdtemp(prefix="vm-plain-pg-"))
    data = root / "data"
    port = free_port()
    if os.geteuid() == 0:
        shutil.chown(root, "postgres", "postgres")
    try:
        subprocess.run(
            as_cluster_owner([str(PG_BIN / "initdb"), "-D", str(data), "-U", "postgres", "-A", "trust"]),
            check=True,
            capture_output=True,
        )
        subprocess.run(
            as_cluster_owner(
                [
                    str(PG_BIN / "pg_ctl"),
                    "-D",
                    str(data),
                    "-w",
                    "-o",
                    f"-p {port} -k {root} -c listen_addresses=127.0.0.1",
                    "-l",
                    str(root / "log"),
                    "start",
                ]
            ),
            check=True,
            capture_output=True,
        )
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(
            as_cluster_owner([str(PG_BIN / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"]),
            capture_output=True,
        )
        shutil.rmtree(root, ignore_errors=True)


def test_schema_applies_as_plain_tables_with_a_notice(cluster_without_timescaledb: str) -> None:
    report = migrate(cluster_without_timescaledb)
    assert report.timescaledb_version is None
    assert any("created as plain tables" in notice for notice in report.notices), report.notices

    conn = psycopg2.connect(cluster_without_timescaledb)
    with conn, conn.cursor() as cur:
        cur.execute(
            "INSERT INTO candles_1d (ticker, tf, ts, o, h, l, c) VALUES ('VCB', '1d', 1770940800000, 1, 2, 0.5, 1.5)"
        )
        cur.execute("SELECT ticker, ts FROM candles")
        assert cur.fetchall() == [("VCB", 1770940800000)]
        cur.execute("SELECT ticker, ts FROM candles_latest")
        assert cur.fetchall() == [("VCB", 1770940800000)]
    conn.close()
    # Twice is still a no-op without the extension.
    assert migrate(cluster_without_timescaledb).applied == []
