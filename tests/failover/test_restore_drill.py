"""pgBackRest on the HA harness, proven: WAL archiving follows the leader, and a destroyed cluster comes back.

Real etcd, Patroni, PostgreSQL + TimescaleDB, HAProxy and pgBackRest from scripts/ha.sh.

1. Archiving across a failover: the leader's node dies (SIGKILL), and the new leader's WAL (new
   timeline) arrives in the repository; `pgbackrest check` passes on it; the archive has no hole.
2. The restore drill: a writer ingests through the candles IO manager's write path
   (`CandleStore.write_partitions`) via HAProxy's leader port, keeping a ledger of acknowledged
   partitions; a full and a differential backup are taken while it writes; both nodes die; the
   cluster is destroyed (data and etcd, the repository kept) and restored to the newest archived WAL
   with exactly the commands of HA_TIMESCALE_RUNBOOK.md, "Restore from pgBackRest"
   (RESTORE_SEQUENCE).  Every acknowledged write up to the restore point is there exactly once,
   the lost ones are only the newest (within archive_timeout + slack of the disaster), and RPO/RTO
   go to artifacts/restore-drill.json.

The harness's state is removed at the end, and no process of it may be left.
"""

from __future__ import annotations

import json
import re
import secrets
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import psycopg2
import pytest

from tests.failover.harness import (
    BAR_DAYS,
    HA_DIR,
    REPO,
    RESTORE_SEQUENCE,
    Harness,
    Writer,
    daily_series,
    hactl,
    kill_node,
    load_harness,
    run_ha,
    stored_keys,
)
from vietmarket_pipelines.timescale.candle_store import CandleStore

pytestmark = pytest.mark.restore

REPORT = REPO / "artifacts" / "restore-drill.json"
WRITE_INTERVAL_S = 0.05
# Short retries: a write in flight when the nodes die fails fast instead of outliving the drill.
WRITE_ATTEMPTS = 3
STEADY_S = 2.0
# Writes after the differential backup, longer than archive_timeout: the restore must replay WAL
# beyond the backup (at least one timed segment switch) to bring them back.
AFTER_DIFF_S = 12.0
# RPO bound: archive_timeout, plus the archive-push of the last switched segment and scheduling on a
# shared two-core machine.
RPO_SLACK_S = 5.0
PROBE_EVERY_S = 0.1
RETENTION_FULL = 2  # scripts/ha.sh's HA_RETENTION_FULL default


@dataclass
class Drill:
    ha: Harness
    commands: list[str]

    def run(self, command: str, timeout_s: float, *args: str) -> tuple[str, float]:
        """scripts/ha.sh COMMAND, recorded (the runbook's sequence is checked against it) and timed."""
        self.commands.append(command)
        t0 = time.monotonic()
        out = run_ha(command, timeout_s, *args)
        return out, time.monotonic() - t0


def leftovers() -> list[str]:
    """Processes of the harness still running: anything with its state dir in the command line, its
    PostgreSQL (process titles name the scope) and pgBackRest working on its repository."""
    found = []
    for pattern in (str(HA_DIR) + "/", "postgres: vietmarket-ha", "pgbackrest.*" + re.escape(str(HA_DIR))):
        done = subprocess.run(["pgrep", "-a", "-f", pattern], capture_output=True, text=True)
        found += [line for line in done.stdout.splitlines() if "pgrep" not in line]
    return found


@pytest.fixture(scope="module")
def ha() -> Iterator[Harness]:
    # A fresh cluster and repository: a stanza left by another cluster would not match this one.
    run_ha("clean", timeout_s=150)
    try:
        run_ha("start", timeout_s=300)
        yield load_harness()
    finally:
        run_ha("clean", timeout_s=150)
        assert not HA_DIR.exists(), f"{HA_DIR} is still there after scripts/ha.sh clean"
        left = leftovers()
        assert not left, "processes left behind:\n" + "\n".join(left)


@pytest.fixture(scope="module")
def report() -> dict[str, Any]:
    return {}


def backrest_info(ha: Harness) -> dict[str, Any]:
    (stanza,) = json.loads(run_ha("backup-info", 60, "--output=json", stdout_only=True))
    assert stanza["status"]["code"] == 0, f"stanza not ok: {stanza['status']}"
    return dict(stanza)


def archived_segments() -> dict[int, set[str]]:
    """{timeline: WAL segment names} in the repository (.partial ones included, history files not)."""
    out: dict[int, set[str]] = {}
    for path in (HA_DIR / "nodes" / "pgbackrest" / "repo" / "archive").rglob("*"):
        m = re.match(r"([0-9A-F]{8})([0-9A-F]{16})(\.partial)?-", path.name)
        if m:
            out.setdefault(int(m.group(1), 16), set()).add(m.group(2))
    return out


def segment_holes() -> list[str]:
    """Segment numbers from the first archived to the newest that no timeline holds (16 MB segments)."""
    numbers = {int(s[:8], 16) * 256 + int(s[8:], 16) for names in archived_segments().values() for s in names}
    if not numbers:
        return ["nothing archived"]
    return [f"{n // 256:08X}{n % 256:08X}" for n in range(min(numbers), max(numbers)) if n not in numbers]


def scalar(url: str, query: str) -> Any:
    conn = psycopg2.connect(url, connect_timeout=5)
    try:
        with conn.cursor() as cur:
            cur.execute(query)
            row = cur.fetchone()
            assert row is not None
            return row[0]
    finally:
        conn.close()


def current_timeline(ha: Harness, node: Any) -> int:
    """The timeline a primary writes WAL on now (Patroni's /cluster reports it only later)."""
    name = scalar(ha.admin_url(node.pg_port), "SELECT pg_walfile_name(pg_current_wal_lsn())")
    return int(str(name)[:8], 16)


def test_wal_archiving_follows_the_leader_across_a_failover(ha: Harness, report: dict[str, Any]) -> None:
    layout = ha.layout
    t0 = time.monotonic()
    admin = ha.admin_url(layout.leader_port)
    assert str(scalar(admin, "SHOW archive_mode")) == "on"
    assert str(scalar(admin, "SHOW archive_timeout")) == f"{layout.archive_timeout_s}s"
    run_ha("archive-check", 90)
    old = layout.node(ha.wait("a leader", lambda: hactl.leader_name(layout), 10))
    new = next(n for n in layout.nodes if n.name != old.name)
    ha.wait(f"{new.name} as the synchronous standby", lambda: hactl.replica_ready(layout) == new.name, 30, 0.2)
    before = archived_segments()
    old_timeline = current_timeline(ha, old)

    t_kill = time.monotonic()
    kill_node(old)
    ha.wait(f"{new.name} to lead after {old.name} was killed", lambda: hactl.is_primary(new), 30, every=0.05)
    promoted_s = time.monotonic() - t_kill
    # Patroni answers /primary as soon as it promoted; PostgreSQL leaves recovery a moment later.
    new_timeline = ha.wait(f"{new.name} out of recovery", lambda: current_timeline(ha, new), 30)
    assert new_timeline > old_timeline, f"timeline {new_timeline} after the failover (was {old_timeline})"
    # check, on the new leader, switches WAL and waits until that segment is in the repository.
    out = run_ha("archive-check", 90)
    assert f"leader {new.name} works" in out, out
    ha.wait(
        f"WAL of timeline {new_timeline} in the repository",
        lambda: archived_segments().get(new_timeline),
        30,
        every=0.2,
    )
    failed = int(scalar(ha.admin_url(new.pg_port), "SELECT failed_count FROM pg_stat_archiver"))
    assert failed == 0, f"{new.name} failed {failed} archive-push attempts\n{ha.diagnostics()}"
    holes = segment_holes()
    assert not holes, f"segments missing from the archive across the failover: {holes[:10]}"

    # The old node rejoins (pg_rewind) as the replica the drill's synchronous mode wants.
    run_ha("start", 150)
    report["failover_archiving"] = {
        "killed": old.name,
        "new_leader": new.name,
        "new_leader_s": round(promoted_s, 2),
        "timelines": [old_timeline, new_timeline],
        "segments_archived_before": sum(len(v) for v in before.values()),
        "segments_archived_on_new_timeline": len(archived_segments()[new_timeline]),
        "archive_holes": holes,
        "pg_stat_archiver_failed_count_new_leader": failed,
        "test_s": round(time.monotonic() - t0, 1),
    }


class FirstWrite(threading.Thread):
    """Tries one write through the leader port every PROBE_EVERY_S until one is acknowledged: the RTO's end."""

    def __init__(self, dsn: str, prefix: str) -> None:
        super().__init__(name="rto-probe", daemon=True)
        self.dsn, self.prefix = dsn, prefix
        self.accepted_at: float | None = None
        self.tries = 0
        self.stopping = threading.Event()

    def run(self) -> None:
        while not self.stopping.is_set():
            self.tries += 1
            try:
                store = CandleStore(self.dsn, attempts=1, connect_timeout_s=2)
                list(store.write_partitions([daily_series(f"{self.prefix}{self.tries:05d}", source="restore")]))
                self.accepted_at = time.monotonic()
                return
            except Exception:  # not up yet: the restore is still running
                self.stopping.wait(PROBE_EVERY_S)


@dataclass
class Disaster:
    """Phases 1-3: what was written and backed up before both nodes died, and when."""

    writer: Writer
    t_diff_done: float
    at: float
    backups: dict[str, Any]


@dataclass
class Restored:
    """The runbook's sequence, timed: RTO is from the restore's start to the first accepted write."""

    harness: Harness
    t_restore: float
    first_write_at: float
    probe_tries: int
    seconds: dict[str, float]
    restore_output: str


def ingest_back_up_and_lose_both_nodes(ha: Harness, drill: Drill, prefix: str) -> Disaster:
    """1-2. ingestion, with a full then a differential backup while it goes on; 3. both nodes die at once."""
    layout = ha.layout
    writer = Writer(
        ha.env["VIETMARKET_PG_URL"], prefix, interval=WRITE_INTERVAL_S, attempts=WRITE_ATTEMPTS, source="restore"
    )
    writer.start()
    try:
        time.sleep(STEADY_S)
        assert writer.acked, f"no write acknowledged in {STEADY_S}s\n{ha.diagnostics()}"
        _, full_s = drill.run("backup full", 180)
        acked_at_full = len(writer.acked)
        time.sleep(STEADY_S)
        _, diff_s = drill.run("backup diff", 180)
        t_diff_done = time.monotonic()
        acked_during_backups = len(writer.acked) - acked_at_full
        time.sleep(AFTER_DIFF_S)
        assert writer.is_alive(), "the writer died during ingestion"
        leader = ha.wait("a leader", lambda: hactl.leader_name(layout), 10)
        t_disaster = time.monotonic()
        for name in dict.fromkeys([leader, *(n.name for n in layout.nodes)]):
            kill_node(layout.node(name))
    finally:
        writer.stop(timeout_s=60)
    return Disaster(
        writer,
        t_diff_done,
        t_disaster,
        {
            "full_during_ingestion_s": round(full_s, 2),
            "diff_during_ingestion_s": round(diff_s, 2),
            "writes_acknowledged_during_backups": acked_during_backups,
        },
    )


def restore_by_the_runbook(ha: Harness, drill: Drill, probe_prefix: str) -> Restored:
    """4. HA_TIMESCALE_RUNBOOK.md, "Restore from pgBackRest": every command of it, in order."""
    drill.commands.clear()
    info_out, _ = drill.run("backup-info", 60)
    assert "diff backup" in info_out, info_out
    _, destroy_s = drill.run("destroy", 150)
    assert not any(HA_DIR.glob("nodes/pg*/data")), "data directories survived scripts/ha.sh destroy"
    probe = FirstWrite(ha.env["VIETMARKET_PG_URL"], probe_prefix)
    t_restore = time.monotonic()
    probe.start()
    try:
        restore_out, restore_s = drill.run("restore", 300)
        ha.wait("the first write accepted after the restore", lambda: probe.accepted_at, 60, every=0.05)
    finally:
        probe.stopping.set()
        probe.join(timeout=10)
    assert probe.accepted_at is not None
    assert "restored and leading" in restore_out, restore_out
    restored = load_harness()
    drill.run("archive-check", 90)
    _, post_full_s = drill.run("backup full", 180)
    assert tuple(drill.commands) == RESTORE_SEQUENCE, drill.commands
    seconds = {"destroy_s": destroy_s, "restore_command_s": restore_s, "full_after_restore_s": post_full_s}
    return Restored(restored, t_restore, probe.accepted_at, probe.tries, seconds, restore_out)


def check_the_ledger(disaster: Disaster, restored: Restored, prefix: str, archive_timeout_s: int) -> dict[str, Any]:
    """5. every acknowledged write up to the restore point is there, exactly once; the lost ones are the newest."""
    writer = disaster.writer
    h = restored.harness
    present = stored_keys(h.admin_url(h.layout.leader_port), prefix)
    assert len(present) == len(set(present)), "duplicate (ticker, ts) rows after the restore"
    present_set = set(present)
    acks = sorted(writer.acked, key=lambda a: a.at)
    counts = [sum((a.ticker, ts) in present_set for ts in a.ts) for a in acks]
    torn = [a.ticker for a, c in zip(acks, counts, strict=True) if c not in (0, len(BAR_DAYS))]
    assert not torn, f"partitions restored in part (a transaction split): {torn[:5]}"
    recovered = next((i for i, c in enumerate(counts) if c == 0), len(acks))
    holes = [a.ticker for a, c in zip(acks[recovered:], counts[recovered:], strict=True) if c]
    assert not holes, (
        f"acknowledged writes missing before the restore point: {acks[recovered].ticker} is missing but "
        f"{len(holes)} later ones are present, e.g. {holes[:3]}"
    )
    assert recovered > 0, "no acknowledged write was restored"
    lost, last = acks[recovered:], acks[recovered - 1]
    assert last.at > disaster.t_diff_done, (
        "nothing written after the differential backup came back: the restore did not replay archived WAL"
    )
    unacked = {(t, ts) for _, t, tss, _ in writer.not_acked for ts in tss}
    unexplained = present_set - {(a.ticker, ts) for a in acks for ts in a.ts} - unacked
    assert not unexplained, f"rows nobody wrote: {sorted(unexplained)[:5]}"
    # RPO: the acknowledged writes not in the restore are the newest ones only, within archive_timeout.
    lost_window_s = disaster.at - lost[0].at if lost else 0.0
    bound_s = archive_timeout_s + RPO_SLACK_S
    assert lost_window_s <= bound_s, (
        f"{len(lost)} acknowledged partitions lost, the oldest {lost_window_s:.1f}s before the disaster "
        f"(archive_timeout {archive_timeout_s}s + {RPO_SLACK_S}s slack)"
    )
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(last.wall)) + f".{int(last.wall % 1 * 1000):03d}Z"
    return {
        "acknowledged_partitions": len(acks),
        "acknowledged_partitions_restored": recovered,
        "acknowledged_partitions_lost": len(lost),
        "acknowledged_bars_lost": len(lost) * len(BAR_DAYS),
        "lost_window_s": round(lost_window_s, 2),
        "last_restored_write_before_disaster_s": round(disaster.at - last.at, 2),
        "bound_s": bound_s,
        "restore_point_utc": stamp,
        "not_acknowledged_partitions": len(writer.not_acked),
        "not_acknowledged_but_restored_bars": len(present_set & unacked),
        "duplicates": 0,
    }


def check_retention(ha: Harness) -> dict[str, Any]:
    """Retention: a third full backup expires the oldest full and the differential that depends on it."""
    before = [b["label"] for b in backrest_info(ha)["backup"]]
    t0 = time.monotonic()
    run_ha("backup full", 180)
    after = backrest_info(ha)["backup"]
    fulls = [b["label"] for b in after if b["type"] == "full"]
    assert len(fulls) == RETENTION_FULL, f"{len(fulls)} full backups kept, retention is {RETENTION_FULL}: {fulls}"
    expired = [label for label in before if label not in {b["label"] for b in after}]
    assert expired and expired[0] == before[0], f"the oldest full backup {before[0]} did not expire: {after}"
    assert all(b["type"] == "full" for b in after), f"a differential of an expired full survived: {after}"
    return {"kept_full": fulls, "expired": expired, "third_full_s": round(time.monotonic() - t0, 2)}


def test_restore_drill(ha: Harness, report: dict[str, Any], show_printed: Callable[[], str]) -> None:
    run_id, t_start = secrets.token_hex(2).upper(), time.monotonic()
    timeout_s = ha.layout.archive_timeout_s
    drill = Drill(ha, [])
    disaster = ingest_back_up_and_lose_both_nodes(ha, drill, f"R{run_id}")
    restored = restore_by_the_runbook(ha, drill, f"Q{run_id}")
    rpo = check_the_ledger(disaster, restored, f"R{run_id}", timeout_s)
    retention = check_retention(restored.harness)
    rto = {
        "restore_to_first_accepted_write_s": round(restored.first_write_at - restored.t_restore, 2),
        "disaster_to_first_accepted_write_s": round(restored.first_write_at - disaster.at, 2),
        "restore_command_s": round(restored.seconds["restore_command_s"], 2),
        "probe_tries": restored.probe_tries,
    }
    report["restore_drill"] = {
        "run_id": run_id,
        "archive_timeout_s": timeout_s,
        "rpo": rpo,
        "rto": rto,
        "backups": disaster.backups | {"full_after_restore_s": round(restored.seconds["full_after_restore_s"], 2)},
        "retention": retention,
        "destroy_s": round(restored.seconds["destroy_s"], 2),
        "sequence": [f"scripts/ha.sh {c}" for c in RESTORE_SEQUENCE],
        "test_s": round(time.monotonic() - t_start, 1),
    }
    REPORT.parent.mkdir(parents=True, exist_ok=True)
    REPORT.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(
        f"[restore] RPO: {rpo['acknowledged_partitions_lost']} of {rpo['acknowledged_partitions']} acknowledged "
        f"partitions lost, all within {rpo['lost_window_s']} s of the disaster (bound {rpo['bound_s']} s = "
        f"archive_timeout {timeout_s} s + {RPO_SLACK_S} s); RTO: first write "
        f"{rto['restore_to_first_accepted_write_s']} s after the restore began "
        f"({rto['disaster_to_first_accepted_write_s']} s after the disaster) -> {REPORT.relative_to(REPO)}"
    )
    show_printed()
