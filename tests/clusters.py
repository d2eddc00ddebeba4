"""Throwaway PostgreSQL clusters the tests may stop and start at will, unlike the shared project cluster."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psycopg2

from vietmarket_pipelines.timescale.migrate import migrate

PG_BIN = Path("/usr/lib/postgresql/15/bin")
VCB_BAR_TS = 1770940800000  # 2026-02-13 00:00 ICT, a Friday's daily bar


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _as_cluster_owner(args: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *args] if os.geteuid() == 0 else args


class ThrowawayCluster:
    """initdb into a temp dir on a free loopback port; trust auth, so URLs carry no password."""

    def __init__(self, *, timescaledb: bool) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="vm-pg-"))
        self.data = self.root / "data"
        self.port = free_port()
        self.timescaledb = timescaledb
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres", "postgres")
        self._run([str(PG_BIN / "initdb"), "-D", str(self.data), "-U", "postgres", "-A", "trust"])

    def url(self, database: str = "postgres", user: str = "postgres") -> str:
        return f"postgresql://{user}@127.0.0.1:{self.port}/{database}"

    def start(self) -> None:
        opts = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1"
        if self.timescaledb:
            opts += " -c shared_preload_libraries=timescaledb -c timescaledb.telemetry_level=off"
        log = str(self.root / "log")
        self._run([str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-w", "-o", opts, "-l", log, "start"])

    def stop(self, mode: str = "fast") -> None:
        self._run([str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop"])

    def reload(self) -> None:
        self._run([str(PG_BIN / "pg_ctl"), "-D", str(self.data), "reload"])

    def destroy(self) -> None:
        subprocess.run(
            _as_cluster_owner([str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "stop"]),
            capture_output=True,
        )
        shutil.rmtree(self.root, ignore_errors=True)

    def _run(self, args: list[str]) -> None:
        done = subprocess.run(_as_cluster_owner(args), capture_output=True, text=True)
        if done.returncode != 0:
            log = (self.root / "log").read_text() if (self.root / "log").exists() else ""
            raise RuntimeError(f"{' '.join(args[:2])} failed: {done.stderr.strip()}\n{log[-2000:]}")


@contextlib.contextmanager
def cluster_with_one_bar() -> Iterator[ThrowawayCluster]:
    """A throwaway TimescaleDB cluster, migrated, holding one VCB daily bar (at VCB_BAR_TS): what an API needs to
    answer 200 before its database goes away; destroyed on exit."""
    cluster = ThrowawayCluster(timescaledb=True)
    try:
        cluster.start()
        migrate(cluster.url())
        conn = psycopg2.connect(cluster.url())
        with conn, conn.cursor() as cur:
            cur.execute(
                "INSERT INTO candles_1d (ticker, tf, ts, o, h, l, c, v, source) "
                "VALUES ('VCB', '1d', %s, 64.7, 65.1, 64.0, 64.4, 4951400, 'vci')",
                (VCB_BAR_TS,),
            )
        conn.close()
        yield cluster
    finally:
        cluster.destroy()
