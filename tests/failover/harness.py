"""What the failover test and the restore drill share: scripts/ha.sh, hactl.py, and a paced writer with a ledger.

The writer ingests through the candles IO manager's write path (`CandleStore.write_partitions`, one
transaction per partition), one fresh ticker's daily series every `interval` seconds, and records a
partition as acknowledged only once `write_partitions` yielded it, i.e. after its commit returned.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

import psycopg2
import pytest

from tests.modules import load_by_path
from vietmarket_pipelines.bars import BarSeries, series_from_arrays
from vietmarket_pipelines.timescale.candle_store import CandleStore

REPO = Path(__file__).resolve().parents[2]
HA_SH = REPO / "scripts" / "ha.sh"
HA_DIR = Path(os.environ.get("HA_DIR", str(REPO / ".data" / "ha")))
# HA_TIMESCALE_RUNBOOK.md, "Restore from pgBackRest": the scripts/ha.sh commands, in order, that the restore
# drill runs after the disaster (tests/deploy/test_restore_runbook.py reads them from the runbook).
RESTORE_SEQUENCE = ("backup-info", "destroy", "restore", "archive-check", "backup full")
BAR_DAYS = (2, 3, 4, 5, 8)  # weekdays of January 2024: each partition is one fresh ticker's 5 daily bars


def load_hactl() -> ModuleType:
    return load_by_path("vietmarket_hactl", REPO / "deploy" / "ha-local" / "hactl.py")


hactl = sys.modules.get("vietmarket_hactl") or load_hactl()


@dataclass
class Harness:
    layout: Any  # hactl.Layout
    env: dict[str, str] = field(repr=False)

    def diagnostics(self) -> str:
        return str(hactl.diagnostics(self.layout))

    def admin_url(self, port: int) -> str:
        return str(hactl.admin_url(self.layout, port, dbname="vietmarket"))

    def wait(self, what: str, check: Any, timeout_s: float, every: float = 0.1) -> Any:
        try:
            return hactl.wait_for(what, check, timeout_s, self.layout, every=every)
        except hactl.HarnessError as exc:
            pytest.fail(str(exc), pytrace=False)


def run_ha(command: str, timeout_s: float, *args: str, stdout_only: bool = False) -> str:
    """scripts/ha.sh COMMAND ARGS...; a failure or a timeout raises with the script's output (it names the step).

    Returns stdout and stderr (the step log), or only stdout (e.g. pgBackRest's JSON)."""
    argv = ["bash", str(HA_SH), *command.split(), *args]
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout_s, cwd=REPO)
    except subprocess.TimeoutExpired as exc:
        err = exc.stderr.decode(errors="replace") if isinstance(exc.stderr, bytes) else str(exc.stderr or "")
        raise AssertionError(f"scripts/ha.sh {command} took over {timeout_s:.0f}s:\n{err}") from exc
    if done.returncode != 0:
        raise AssertionError(f"scripts/ha.sh {command} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return done.stdout if stdout_only else done.stdout + done.stderr


def load_harness() -> Harness:
    """The running harness's layout and URLs (after `scripts/ha.sh start`), its secrets in os.environ for hactl."""
    secrets_env = hactl.read_env_file(HA_DIR / "secrets.env")
    os.environ.update({k: v for k, v in secrets_env.items() if k.startswith("HA_")})
    layout = hactl.Layout.from_json(HA_DIR / "cluster.json")
    return Harness(layout, hactl.read_env_file(HA_DIR / "stack.env"))


def daily_series(
    ticker: str, days: Sequence[int] = BAR_DAYS, price: float = 10.0, source: str = "failover"
) -> BarSeries:
    t = [int(datetime(2024, 1, d, 3, tzinfo=UTC).timestamp()) for d in days]
    n = len(t)
    return series_from_arrays(
        source=source,
        ticker=ticker,
        tf="1d",
        arrays={"t": t, "o": [price] * n, "h": [price + 1] * n, "l": [price - 1] * n, "c": [price + 0.5] * n,
                "v": [100.0] * n},
    )  # fmt: skip


class PacedPartitions(Sequence[BarSeries]):
    """What `write_partitions` iterates over: a fresh ticker's series every interval, until stopped."""

    def __init__(self, writer: Writer) -> None:
        self.writer = writer
        self.in_flight: BarSeries | None = None

    def __len__(self) -> int:
        return 1 << 40

    def __getitem__(self, index: int) -> BarSeries:  # type: ignore[override]
        w = self.writer
        delay = w.next_due - time.monotonic()
        if delay > 0:
            w.stopping.wait(delay)
        if w.stopping.is_set():
            raise IndexError(index)  # ends the iteration: write_partitions returns
        w.next_due = max(w.next_due + w.interval, time.monotonic())
        w.counter += 1
        self.in_flight = daily_series(f"{w.prefix}{w.counter:06d}", source=w.source)
        return self.in_flight


@dataclass
class Ack:
    """One acknowledged partition: when its commit returned (monotonic and wall clock), and its bars."""

    at: float
    ticker: str
    ts: tuple[int, ...]
    wall: float = 0.0


class Writer(threading.Thread):
    def __init__(self, dsn: str, prefix: str, *, interval: float, attempts: int, source: str = "failover") -> None:
        super().__init__(name=f"writer-{prefix}", daemon=True)
        self.store = CandleStore(dsn, attempts=attempts)
        self.prefix = prefix
        self.interval = interval
        self.source = source
        self.counter = 0
        self.next_due = time.monotonic()
        self.stopping = threading.Event()
        self.acked: list[Ack] = []
        self.not_acked: list[tuple[float, str, tuple[int, ...], str]] = []
        self.calls = 0  # write_partitions calls: 1 plus one per partition given up after every retry
        self.lock = threading.Lock()

    def run(self) -> None:
        while not self.stopping.is_set():
            feed = PacedPartitions(self)
            self.calls += 1
            try:
                for stats in self.store.write_partitions(feed):
                    # write_partitions yields a partition's stats after its transaction committed.
                    assert feed.in_flight is not None and stats.ticker == feed.in_flight.ticker
                    ts = tuple(int(x) for x in feed.in_flight.frame["ts"])
                    with self.lock:
                        self.acked.append(Ack(time.monotonic(), stats.ticker, ts, time.time()))
                    feed.in_flight = None
            except Exception as exc:  # retries exhausted, or a non-retryable error: not acknowledged
                lost = feed.in_flight
                if lost is not None:
                    ts = tuple(int(x) for x in lost.frame["ts"])
                    with self.lock:
                        self.not_acked.append((time.monotonic(), lost.ticker, ts, f"{type(exc).__name__}: {exc}"))
                self.stopping.wait(self.interval)

    def acks_after(self, t: float) -> list[Ack]:
        with self.lock:
            return [a for a in self.acked if a.at > t]

    def stop(self, timeout_s: float = 60) -> None:
        self.stopping.set()
        self.join(timeout=timeout_s)
        assert not self.is_alive(), f"the writer did not stop within {timeout_s:.0f} s"


def kill_node(node: Any) -> dict[str, int]:
    """SIGKILL the node's Patroni (so nothing restarts or hands over anything), then its postmaster."""
    patroni_pid = int(Path(node.patroni_pidfile).read_text().strip())
    postmaster_pid = int(Path(node.data_dir, "postmaster.pid").read_text().splitlines()[0])
    os.kill(patroni_pid, signal.SIGKILL)
    os.kill(postmaster_pid, signal.SIGKILL)
    return {"patroni": patroni_pid, "postmaster": postmaster_pid}


def stored_keys(url: str, prefix: str) -> list[tuple[str, int]]:
    conn = psycopg2.connect(url, connect_timeout=5)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT ticker, ts FROM candles_1d WHERE ticker LIKE %s", (prefix + "%",))
            return [(str(t), int(ts)) for t, ts in cur.fetchall()]
    finally:
        conn.close()
