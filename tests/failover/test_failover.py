"""Patroni failover, proven: real etcd, Patroni, PostgreSQL + TimescaleDB and HAProxy from scripts/ha.sh.

A writer ingests continuously through the candles IO manager's write path (`CandleStore.write_partitions`)
via HAProxy's leader port, while the real History API reads through the replica port.  The leader's node
is killed abruptly (SIGKILL of its Patroni, then of its postmaster: the machine "dies"), the old node is
rejoined as a replica, and a planned switchover moves the leadership back.  Every acknowledged write
must be there afterwards, exactly once.  The measurements go to artifacts/failover-report.json.
"""

from __future__ import annotations

import itertools
import json
import logging
import os
import re
import secrets
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psycopg2
import pytest

from tests.failover.harness import (
    BAR_DAYS,
    REPO,
    Harness,
    Writer,
    daily_series,
    hactl,
    kill_node,
    load_harness,
    run_ha,
    stored_keys,
)
from tests.history_api.conftest import KEY, LiveApi, start_live_api, stop_live_api
from vietmarket_pipelines.timescale.candle_store import CandleStore

pytestmark = pytest.mark.failover

REPORT = REPO / "artifacts" / "failover-report.json"

NEW_LEADER_WITHIN_S = 30.0
WRITE_INTERVAL_S = 0.05
READ_INTERVAL_S = 0.1
STEADY_S = 4.0
# CandleStore's own retries (exponential back-off, 0.5 s doubling to 10 s) must outlast a failover.
WRITE_ATTEMPTS = 10


@pytest.fixture(scope="module")
def ha() -> Iterator[Harness]:
    try:
        run_ha("start", timeout_s=300)
        yield load_harness()
    finally:
        run_ha("stop", timeout_s=150)


class RetryCounter(logging.Handler):
    """Counts CandleStore's 'reconnecting' warnings: the retries that carried the writer across."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        if "reconnecting" in record.getMessage():
            self.count += 1


# ---------------------------------------------------------------------------------------------
# The reader: the real History API on the replica port
# ---------------------------------------------------------------------------------------------
@dataclass
class Sample:
    at: float
    endpoint: str
    status: int
    error: str | None


class Reader(threading.Thread):
    def __init__(self, api: LiveApi, ticker: str) -> None:
        super().__init__(name="failover-reader", daemon=True)
        self.client = httpx.Client(base_url=api.url, timeout=10, headers={"X-API-Key": KEY})
        self.ticker = ticker
        self.samples: list[Sample] = []
        self.stopping = threading.Event()

    def _get(self, endpoint: str, path: str) -> None:
        try:
            r = self.client.get(path)
            body = r.json() if r.headers.get("content-type", "").startswith("application/json") else {}
            self.samples.append(Sample(time.monotonic(), endpoint, r.status_code, body.get("error")))
        except httpx.HTTPError as exc:
            self.samples.append(Sample(time.monotonic(), endpoint, 0, type(exc).__name__))

    def run(self) -> None:
        while not self.stopping.is_set():
            self._get("healthz", "/healthz")
            self._get("candles", f"/candles?ticker={self.ticker}&tf=1d&limit=1")
            self.stopping.wait(READ_INTERVAL_S)

    def stop(self) -> None:
        self.stopping.set()
        self.join(timeout=30)
        self.client.close()


def windows(samples: list[Sample], endpoint: str, status: int) -> list[tuple[float, float]]:
    """(first, last) times of each run of consecutive `status` answers on `endpoint`."""
    runs: list[tuple[float, float]] = []
    start = last = None
    for s in (s for s in samples if s.endpoint == endpoint):
        if s.status == status:
            start = s.at if start is None else start
            last = s.at
        elif start is not None and last is not None:
            runs.append((start, last))
            start = last = None
    if start is not None and last is not None:
        runs.append((start, last))
    return runs


def healthz(api: LiveApi) -> int:
    try:
        return httpx.get(api.url + "/healthz", timeout=5).status_code
    except httpx.HTTPError:
        return 0


# ---------------------------------------------------------------------------------------------
# The test
# ---------------------------------------------------------------------------------------------


CANDLE_STORE_LOG = "vietmarket_pipelines.timescale.candle_store"


@dataclass
class Run:
    """One failover run: the harness, the writer and the reader under test, and the report they fill."""

    ha: Harness
    run_id: str
    api: LiveApi
    writer: Writer
    reader: Reader
    retries: RetryCounter
    report: dict[str, Any]

    @property
    def layout(self) -> Any:  # hactl.Layout
        return self.ha.layout

    @property
    def writer_url(self) -> str:
        return self.ha.env["VIETMARKET_PG_URL"]

    @property
    def reader_url(self) -> str:
        return self.ha.env["HISTORY_API_PG_URL"]


@dataclass(frozen=True)
class Kill:
    """The failover's two nodes, and when the old leader died."""

    old: Any  # hactl.Node, the killed leader
    new: Any  # hactl.Node, the leader after it
    at: float
    acks_before: int


def start_steady_state(run: Run) -> None:
    run.ha.wait("the History API healthy on the replica port", lambda: healthz(run.api) == 200, 30)
    run.writer.start()
    run.reader.start()
    time.sleep(STEADY_S)
    assert run.writer.acked, f"no write acknowledged in {STEADY_S}s of steady state\n{run.ha.diagnostics()}"


def fail_over(run: Run) -> Kill:
    """1. failover: the leader's node dies."""
    ha, layout, writer = run.ha, run.layout, run.writer
    old = layout.node(ha.wait("a leader", lambda: hactl.leader_name(layout), 10))
    new = next(n for n in layout.nodes if n.name != old.name)
    acks_before_kill = len(writer.acked)
    t_kill = time.monotonic()
    killed = kill_node(old)
    ha.wait(
        f"{new.name} to answer 200 on /primary after {old.name} was killed",
        lambda: hactl.is_primary(new),
        NEW_LEADER_WITHIN_S,
        every=0.05,
    )
    failover_s = time.monotonic() - t_kill
    ha.wait("the first acknowledged write after the kill", lambda: writer.acks_after(t_kill), 60, every=0.05)
    first_ack = writer.acks_after(t_kill)[0].at
    with writer.lock:
        last_ack_before = max(a.at for a in writer.acked if a.at <= t_kill)
    run.report["failover"] = {
        "killed": {"node": old.name, **killed},
        "new_leader": new.name,
        "new_leader_s": round(failover_s, 2),
        "write_unavailable_s": round(first_ack - t_kill, 2),
        "write_gap_s": round(first_ack - last_ack_before, 2),
        "acked_before_kill": acks_before_kill,
    }
    assert failover_s < NEW_LEADER_WITHIN_S
    return Kill(old, new, t_kill, acks_before_kill)


def rejoin(run: Run, kill: Kill) -> None:
    """2. the old node rejoins as a replica (pg_rewind), through the idempotent start."""
    layout, old = run.layout, kill.old
    t_rejoin = time.monotonic()
    log_offset = Path(old.patroni_log).stat().st_size
    run_ha("start", timeout_s=150)
    assert hactl.leader_name(layout) == kill.new.name, hactl.patronictl_list(layout)
    with open(old.patroni_log, encoding="utf-8", errors="replace") as f:
        f.seek(log_offset)
        rewind = re.findall(r"pg_rewind exit code=(\d+)", f.read())
    run.report["rejoin"] = {
        "node": old.name,
        "streaming_after_s": round(time.monotonic() - t_rejoin, 2),
        "pg_rewind": f"exit code {rewind[-1]}" if rewind else "not needed",
    }
    run.ha.wait("the History API healthy again after the rejoin", lambda: healthz(run.api) == 200, 30)
    t_api_back = time.monotonic()
    run.report["rejoin"]["api_healthy_after_kill_s"] = round(t_api_back - kill.at, 2)


def switch_back(run: Run, kill: Kill) -> None:
    """3. planned switchover back."""
    ha, layout, writer, old, new = run.ha, run.layout, run.writer, kill.old, kill.new
    # Patroni only switches over to the synchronous standby (ha.sh start waited for that already).
    ha.wait(f"{old.name} as the synchronous standby", lambda: hactl.replica_ready(layout) == old.name, 30, 0.2)
    time.sleep(1.0)
    t_switch = time.monotonic()
    done = subprocess.run(
        ["patronictl", "-c", old.patroni_config, "switchover", "--leader", new.name, "--candidate", old.name,
         "--force"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, f"patronictl switchover failed:\n{done.stdout}\n{done.stderr}"
    ha.wait(f"{old.name} to answer 200 on /primary after the switchover", lambda: hactl.is_primary(old), 30, 0.05)
    switchover_s = time.monotonic() - t_switch
    t_promoted = time.monotonic()
    ha.wait("an acknowledged write after the switchover", lambda: writer.acks_after(t_promoted), 60, every=0.05)
    ha.wait(f"{new.name} streaming from {old.name}", lambda: hactl.replica_ready(layout) == new.name, 60, 0.5)
    ha.wait("the History API healthy after the switchover", lambda: healthz(run.api) == 200, 30)
    with writer.lock:
        times = [a.at for a in writer.acked if a.at >= t_switch - 1.0]
    run.report["switchover"] = {
        "from": new.name,
        "to": old.name,
        "new_leader_s": round(switchover_s, 2),
        "write_gap_s": round(max(b - a for a, b in itertools.pairwise(times)), 2),
    }


def measure_replica_lag(run: Run) -> None:
    """4. replica reads: how soon a write through the leader is visible on the replica port."""
    # Alternating markers: seen through the History API, and by a plain query on the replica port.
    lags: dict[str, list[float]] = {"api": [], "sql": []}
    marker_store = CandleStore(run.writer_url, attempts=WRITE_ATTEMPTS)
    replica_conn = psycopg2.connect(run.reader_url, connect_timeout=5)
    replica_conn.autocommit = True
    with httpx.Client(base_url=run.api.url, headers={"X-API-Key": KEY}, timeout=5) as client:
        for i in range(10):
            marker, via = f"L{run.run_id}{i:02d}", ("api", "sql")[i % 2]

            def via_api(marker: str = marker) -> bool:
                r = client.get(f"/candles?ticker={marker}&tf=1d&limit=1")
                return r.status_code == 200 and r.json()["count"] == 1

            def via_sql(marker: str = marker) -> bool:
                with replica_conn.cursor() as cur:
                    cur.execute("SELECT count(*) FROM candles_1d WHERE ticker = %s", (marker,))
                    row = cur.fetchone()
                    return row is not None and row[0] == 1

            list(marker_store.write_partitions([daily_series(marker, days=(9,))]))
            t_ack = time.monotonic()
            check = via_api if via == "api" else via_sql
            run.ha.wait(f"marker {marker} visible on the replica port ({via})", check, 10, every=0.002)
            lags[via].append(time.monotonic() - t_ack)
            time.sleep(0.2)
    replica_conn.close()
    run.report["replica_lag_ms"] = {
        via: {
            "samples": [round(x * 1000, 1) for x in xs],
            "median": round(sorted(xs)[len(xs) // 2] * 1000, 1),
            "max": round(max(xs) * 1000, 1),
        }
        for via, xs in lags.items()
    }
    run.report["replica_lag_ms"]["note"] = (
        "from the write's acknowledgement (committed on the leader, flushed by the synchronous standby) "
        "until visible on the replica port: 'api' through the History API's /candles, 'sql' by a query"
    )


def check_every_write_stored(run: Run, kill: Kill) -> None:
    """5. every acknowledged write is there, exactly once."""
    ha, layout, writer, prefix = run.ha, run.layout, run.writer, run.writer.prefix
    leader_url = ha.admin_url(layout.leader_port)
    present = stored_keys(leader_url, prefix)
    acked = {(a.ticker, ts) for a in writer.acked for ts in a.ts}
    unacked = {(t, ts) for _, t, tss, _ in writer.not_acked for ts in tss}
    assert len(present) == len(set(present)), "duplicate (ticker, ts) rows"
    missing = acked - set(present)
    assert not missing, f"{len(missing)} acknowledged bars are missing, e.g. {sorted(missing)[:5]}"
    unexplained = set(present) - acked - unacked
    assert not unexplained, f"rows nobody wrote: {sorted(unexplained)[:5]}"
    assert len(present) == len(acked) + len(set(present) & unacked)
    # Through the IO manager's read path too, around the kill (the writes most at risk).
    store = CandleStore(ha.env["VIETMARKET_PG_URL"], attempts=3)
    around_kill = writer.acked[max(0, kill.acks_before - 5) : kill.acks_before + 5]
    for a in around_kill:
        assert tuple(int(x) for x in store.read_series(a.ticker, "1d")["ts"]) == a.ts, a.ticker
    # And the replica holds the same rows.
    replica_url = ha.admin_url(layout.replica_port)
    ha.wait("the replica to hold every row", lambda: len(stored_keys(replica_url, prefix)) == len(present), 10)
    run.report["writes"] = {
        "acknowledged_partitions": len(writer.acked),
        "acknowledged_bars": len(acked),
        "acknowledged_bars_present": len(acked) - len(missing),
        "not_acknowledged_partitions": len(writer.not_acked),
        "not_acknowledged_but_committed_bars": len(set(present) & unacked),
        "not_acknowledged_errors": [e for *_, e in writer.not_acked][:5],
        "rows_stored": len(present),
        "duplicates": 0,
        "candle_store_reconnect_retries": run.retries.count,
        "write_partitions_calls": writer.calls,
    }


def check_the_api_never_failed(run: Run, kill: Kill) -> None:
    """6. the API never failed, and was healthy at the end."""
    samples = run.reader.samples
    bad = [s for s in samples if s.status not in (200, 503) or (s.status == 503 and s.error != "db_unreachable")]
    assert not bad, f"the API answered other than 200 / 503 db_unreachable: {bad[:10]}"
    health = [s for s in samples if s.endpoint == "healthz"]
    assert health and health[-1].status == 200, f"last /healthz was {health[-1] if health else None}"
    outages = windows(samples, "healthz", 503)
    assert all(start >= kill.at for start, _ in outages), "the API was unhealthy before the leader was killed"
    run.report["api"] = {
        "requests": len(samples),
        "status_counts": {
            str(k): sum(1 for s in samples if s.status == k) for k in sorted({s.status for s in samples})
        },
        "healthz_503_windows_s": [
            {"from_kill_s": round(a - kill.at, 2), "duration_s": round(b - a + READ_INTERVAL_S, 2)} for a, b in outages
        ],
        "note": (
            "The History API reads through the replica port, which routes only to streaming replicas. "
            "From the kill until the old node rejoins (and briefly during the switchover) no node is a "
            "replica, so /healthz and /candles answer 503 db_unreachable; never a 500."
        ),
    }


def write_report(report: dict[str, Any], show_printed: Callable[[], str]) -> None:
    REPORT.parent.mkdir(parents=True, exist_ok=True)
    REPORT.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    f, w, lag = report["failover"], report["writes"], report["replica_lag_ms"]
    print(
        f"[failover] {f['killed']['node']} killed -> {f['new_leader']} leader in {f['new_leader_s']} s; "
        f"writes unavailable {f['write_unavailable_s']} s (gap {f['write_gap_s']} s); "
        f"switchover {report['switchover']['new_leader_s']} s (write gap {report['switchover']['write_gap_s']} s)"
        f"\n[failover] acknowledged {w['acknowledged_partitions']} partitions / {w['acknowledged_bars']} bars, "
        f"all present, no duplicates; not acknowledged {w['not_acknowledged_partitions']}; "
        f"{w['candle_store_reconnect_retries']} CandleStore retries"
        f"\n[failover] API 503 windows {report['api']['healthz_503_windows_s']}; "
        f"replica lag median {lag['api']['median']} ms via the API, {lag['sql']['median']} ms via SQL "
        f"(max {lag['api']['max']} / {lag['sql']['max']} ms) -> {REPORT.relative_to(REPO)}"
    )
    show_printed()


def test_failover_switchover_and_replica_reads(ha: Harness, tmp_path: Path, show_printed: Callable[[], str]) -> None:
    writer_url, reader_url = ha.env["VIETMARKET_PG_URL"], ha.env["HISTORY_API_PG_URL"]
    run_id = secrets.token_hex(2).upper()
    retries = RetryCounter()
    logging.getLogger(CANDLE_STORE_LOG).addHandler(retries)

    # A series the API reads all along, written before the API starts.
    probe = f"P{run_id}"
    list(CandleStore(writer_url, attempts=WRITE_ATTEMPTS).write_partitions([daily_series(probe)]))
    api = start_live_api(reader_url, str(tmp_path))
    run = Run(
        ha,
        run_id,
        api,
        Writer(writer_url, f"F{run_id}", interval=WRITE_INTERVAL_S, attempts=WRITE_ATTEMPTS),
        Reader(api, probe),
        retries,
        report={
            "run_id": run_id,
            "patroni": {k: int(os.environ.get(f"HA_{k.upper()}", d)) for k, d in (("ttl", 10), ("loop_wait", 2))},
            "writer": {"interval_s": WRITE_INTERVAL_S, "bars_per_partition": len(BAR_DAYS), "attempts": WRITE_ATTEMPTS},
        },
    )
    try:
        start_steady_state(run)
        kill = fail_over(run)
        rejoin(run, kill)
        switch_back(run, kill)
        measure_replica_lag(run)
        time.sleep(1.0)
    finally:
        if run.writer.is_alive():
            run.writer.stop()
        if run.reader.is_alive():
            run.reader.stop()
        stop_live_api(api)
        logging.getLogger(CANDLE_STORE_LOG).removeHandler(retries)

    check_every_write_stored(run, kill)
    check_the_api_never_failed(run, kill)
    write_report(run.report, show_printed)
