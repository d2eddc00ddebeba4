"""The Python half of scripts/ha.sh: renders configs, waits for each piece, bootstraps the database.

scripts/ha.sh owns processes (start, stop, pidfiles) and passes the layout in HA_* environment
variables; this module turns them into configs, health checks and the bootstrap.  The failover test
imports it (by path) for the same health checks and diagnostics.

    python deploy/ha-local/hactl.py render-patroni 1|2 | render-pgbackrest 1|2 | render-haproxy | wait-etcd
        | wait-leader | wait-haproxy | bootstrap | wait-replica | write-cluster-json | status | roles
"""

from __future__ import annotations

import importlib.util
import json
import os
import shlex
import string
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, TypeVar

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parents[1]
# deploy/'s one renderer, and the templates the harness shares with Nomad (both) and the database image (pgBackRest).
SHARED_RENDER = REPO_ROOT / "deploy" / "common" / "render.py"
HAPROXY_TEMPLATE = REPO_ROOT / "deploy" / "haproxy" / "haproxy.cfg.tmpl"
PGBACKREST_TEMPLATE = REPO_ROOT / "deploy" / "pgbackrest" / "pgbackrest.conf.tmpl"
PATRONI_TEMPLATE = HERE / "patroni.yml.tmpl"
NODE_COUNT = 2
ETCD_COUNT = 3
# The `listen` sections of deploy/haproxy/haproxy.cfg.tmpl: the leader port's and the replica port's.
LEADER_PROXY = "primary"
REPLICA_PROXY = "replicas"

T = TypeVar("T")


class HarnessError(RuntimeError):
    """A step of the harness failed; the message names the step and carries diagnostics."""


@dataclass(frozen=True)
class Node:
    index: int
    name: str
    pg_port: int
    rest_port: int
    node_dir: str
    data_dir: str
    run_dir: str
    log_dir: str
    patroni_config: str
    patroni_pidfile: str
    patroni_log: str
    pgbackrest_config: str

    @property
    def pg_log(self) -> str:
        return os.path.join(self.log_dir, "postgresql.log")

    @property
    def rest_url(self) -> str:
        return f"http://127.0.0.1:{self.rest_port}"


@dataclass(frozen=True)
class EtcdMember:
    name: str
    client_port: int
    peer_port: int
    data_dir: str
    pidfile: str
    log: str


@dataclass(frozen=True)
class Layout:
    """Where everything lives and listens; scripts/ha.sh is the source of these values."""

    ha_dir: str
    scope: str
    leader_port: int
    replica_port: int
    stats_port: int
    nodes: tuple[Node, ...]
    etcd: tuple[EtcdMember, ...]
    haproxy_config: str
    haproxy_pidfile: str
    haproxy_log: str
    stack_env: str
    secrets_env: str
    # pgBackRest: the stanza, and its repository plus log/lock/spool directories (kept by `ha.sh destroy`).
    stanza: str
    backrest_dir: str
    archive_timeout_s: int

    @property
    def repo_path(self) -> str:
        return os.path.join(self.backrest_dir, "repo")

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Layout:
        e = dict(os.environ if env is None else env)

        def need(name: str) -> str:
            value = e.get(name)
            if not value:
                raise HarnessError(f"{name} is not set: run this through scripts/ha.sh")
            return value

        ha_dir = need("HA_DIR")
        node_root = need("HA_NODE_ROOT")
        logs = os.path.join(ha_dir, "logs")
        run = os.path.join(ha_dir, "run")
        base = int(need("HA_ETCD_PORT_BASE"))
        nodes = []
        for i in range(1, NODE_COUNT + 1):
            node_dir = os.path.join(node_root, f"pg{i}")
            nodes.append(
                Node(
                    index=i,
                    name=f"pg{i}",
                    pg_port=int(need(f"HA_PG_PORT_{i}")),
                    rest_port=int(need(f"HA_REST_PORT_{i}")),
                    node_dir=node_dir,
                    data_dir=os.path.join(node_dir, "data"),
                    run_dir=os.path.join(node_dir, "run"),
                    log_dir=os.path.join(node_dir, "log"),
                    patroni_config=os.path.join(node_dir, "patroni.yml"),
                    patroni_pidfile=os.path.join(run, f"patroni-pg{i}.pid"),
                    patroni_log=os.path.join(logs, f"patroni-pg{i}.log"),
                    pgbackrest_config=os.path.join(node_dir, "pgbackrest.conf"),
                )
            )
        etcd = tuple(
            EtcdMember(
                name=f"e{i}",
                client_port=base + 2 * (i - 1),
                peer_port=base + 2 * (i - 1) + 1,
                data_dir=os.path.join(ha_dir, "etcd", f"e{i}"),
                pidfile=os.path.join(run, f"etcd-e{i}.pid"),
                log=os.path.join(logs, f"etcd-e{i}.log"),
            )
            for i in range(1, ETCD_COUNT + 1)
        )
        return cls(
            ha_dir=ha_dir,
            scope=need("HA_SCOPE"),
            leader_port=int(need("HA_LEADER_PORT")),
            replica_port=int(need("HA_REPLICA_PORT")),
            stats_port=int(need("HA_STATS_PORT")),
            nodes=tuple(nodes),
            etcd=etcd,
            haproxy_config=os.path.join(ha_dir, "haproxy.cfg"),
            haproxy_pidfile=os.path.join(run, "haproxy.pid"),
            haproxy_log=os.path.join(logs, "haproxy.log"),
            stack_env=os.path.join(ha_dir, "stack.env"),
            secrets_env=os.path.join(ha_dir, "secrets.env"),
            stanza=need("HA_STANZA"),
            backrest_dir=need("HA_BACKREST_DIR"),
            archive_timeout_s=int(need("HA_ARCHIVE_TIMEOUT")),
        )

    @classmethod
    def from_json(cls, path: str | Path) -> Layout:
        raw = json.loads(Path(path).read_text(encoding="utf-8"))
        raw["nodes"] = tuple(Node(**n) for n in raw["nodes"])
        raw["etcd"] = tuple(EtcdMember(**m) for m in raw["etcd"])
        return cls(**raw)

    def node(self, name: str) -> Node:
        return next(n for n in self.nodes if n.name == name)

    def etcd_hosts(self) -> str:
        return ",".join(f"127.0.0.1:{m.client_port}" for m in self.etcd)


# ---------------------------------------------------------------------------------------------
# Small helpers: HTTP against Patroni and etcd, waiting with a deadline, diagnostics
# ---------------------------------------------------------------------------------------------
def http_get(url: str, timeout: float = 2.0) -> tuple[int, Any]:
    """(status, parsed JSON or text); status 0 when nothing answered."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:  # loopback URLs this module built
            body = r.read().decode()
            status = r.status
    except urllib.error.HTTPError as exc:
        body = exc.read().decode(errors="replace")
        status = exc.code
    except (OSError, urllib.error.URLError):
        return 0, None
    try:
        return status, json.loads(body)
    except ValueError:
        return status, body


def http_post(url: str, payload: dict[str, Any], timeout: float = 2.0) -> tuple[int, Any]:
    request = urllib.request.Request(
        url, data=json.dumps(payload).encode(), headers={"Content-Type": "application/json"}, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode(errors="replace")
    except (OSError, urllib.error.URLError):
        return 0, None


def wait_for(
    what: str, check: Callable[[], T | None], timeout_s: float, layout: Layout | None, every: float = 0.2
) -> T:
    """Polls `check` until it returns something truthy; on the deadline raises HarnessError with diagnostics."""
    deadline = time.monotonic() + timeout_s
    last_error: str = ""
    while True:
        try:
            result = check()
            if result:
                return result
        except Exception as exc:  # a check that raises is just "not yet"
            last_error = f"{type(exc).__name__}: {exc}"
        if time.monotonic() >= deadline:
            detail = f" (last error: {last_error})" if last_error else ""
            raise HarnessError(f"timed out after {timeout_s:.0f}s waiting for {what}{detail}\n{diagnostics(layout)}")
        time.sleep(every)


def tail(path: str, lines: int = 25) -> str:
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return "".join(f.readlines()[-lines:])
    except OSError as exc:
        return f"({exc.strerror})\n"


def patronictl_list(layout: Layout) -> str:
    for node in layout.nodes:
        if os.path.exists(node.patroni_config):
            try:
                done = subprocess.run(
                    ["patronictl", "-c", node.patroni_config, "list"], capture_output=True, text=True, timeout=10
                )
            except subprocess.TimeoutExpired:
                return "(patronictl list did not answer within 10 s: is etcd up?)"
            return (done.stdout + done.stderr).strip()
    return "(no patroni.yml rendered yet)"


def diagnostics(layout: Layout | None, lines: int = 20) -> str:
    """`patronictl list` plus the tails of every log of the harness, for failure messages."""
    if layout is None:
        return ""
    parts = [f"--- patronictl list ---\n{_safe(lambda: patronictl_list(layout))}"]
    for node in layout.nodes:
        parts.append(f"--- {node.patroni_log} ---\n{tail(node.patroni_log, lines)}")
        parts.append(f"--- {node.pg_log} ---\n{tail(node.pg_log, lines)}")
    parts.append(f"--- {layout.haproxy_log} ---\n{tail(layout.haproxy_log, lines)}")
    for m in layout.etcd:
        parts.append(f"--- {m.log} ---\n{tail(m.log, 8)}")
    return "\n".join(parts)


def _safe(fn: Callable[[], str]) -> str:
    try:
        return fn()
    except Exception as exc:
        return f"({type(exc).__name__}: {exc})"


# ---------------------------------------------------------------------------------------------
# Cluster state through Patroni's REST API
# ---------------------------------------------------------------------------------------------
def cluster(layout: Layout) -> dict[str, Any] | None:
    """Patroni's GET /cluster from the first node that answers."""
    for node in layout.nodes:
        status, body = http_get(node.rest_url + "/cluster")
        if status == 200 and isinstance(body, dict):
            return body
    return None


def leader_name(layout: Layout) -> str | None:
    state = cluster(layout)
    for member in (state or {}).get("members", []):
        if member.get("role") in ("leader", "master") and member.get("state") == "running":
            return str(member["name"])
    return None


def synchronous_mode(layout: Layout) -> bool:
    for node in layout.nodes:
        status, body = http_get(node.rest_url + "/config")
        if status == 200 and isinstance(body, dict):
            return bool(body.get("synchronous_mode"))
    return False


def is_primary(node: Node) -> bool:
    return http_get(node.rest_url + "/primary", timeout=1.0)[0] == 200


def streaming_replicas(layout: Layout, admin_url: str) -> list[str]:
    """Members streaming from the leader, by application_name, per the leader's pg_stat_replication."""
    import psycopg2

    conn = psycopg2.connect(admin_url, connect_timeout=3)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT application_name FROM pg_stat_replication WHERE state = 'streaming'")
            return [str(r[0]) for r in cur.fetchall()]
    finally:
        conn.close()


def haproxy_servers(layout: Layout) -> dict[str, dict[str, str]]:
    """{proxy: {server: status}} from HAProxy's stats CSV (status "UP", "DOWN", "UP 1/2" while going down...)."""
    status, body = http_get(f"http://127.0.0.1:{layout.stats_port}/stats;csv", timeout=2.0)
    if status != 200 or not isinstance(body, str):
        raise HarnessError(f"HAProxy stats on :{layout.stats_port} answered {status}")
    lines = body.lstrip("# ").splitlines()
    header = lines[0].split(",")
    px, sv, st = header.index("pxname"), header.index("svname"), header.index("status")
    out: dict[str, dict[str, str]] = {}
    for line in lines[1:]:
        cols = line.split(",")
        if len(cols) > st and cols[sv] not in ("FRONTEND", "BACKEND"):
            out.setdefault(cols[px], {})[cols[sv]] = cols[st]
    for proxy in (LEADER_PROXY, REPLICA_PROXY):
        if proxy not in out:
            raise HarnessError(f"HAProxy has no '{proxy}' section (has: {sorted(out)}); see hactl.py LEADER_PROXY")
    return out


def haproxy_settled(layout: Layout, proxy: str, up: set[str]) -> bool:
    """Exactly `up` is UP in `proxy` and every other server is fully DOWN: no server in transition.

    HAProxy starts every server as UP until its checks say otherwise, so one lucky connection
    proves nothing; its own view does.
    """
    servers = haproxy_servers(layout)[proxy]
    return all((status == "UP") if name in up else (status == "DOWN") for name, status in servers.items())


def routed(port: int, user: str, password: str, dbname: str = "postgres") -> tuple[int, bool]:
    """(backend port, in recovery) of whatever HAProxy's `port` connects to."""
    import psycopg2

    conn = psycopg2.connect(host="127.0.0.1", port=port, user=user, password=password, dbname=dbname, connect_timeout=3)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT inet_server_port(), pg_is_in_recovery()")
            row = cur.fetchone()
            assert row is not None
            return int(row[0]), bool(row[1])
    finally:
        conn.close()


# ---------------------------------------------------------------------------------------------
# Rendering
# ---------------------------------------------------------------------------------------------
def restore_command(layout: Layout, node: Node, options: str) -> str:
    """Patroni's custom bootstrap command: pgBackRest restores the repository's newest backup into the
    (new, empty) data directory; `options` are pgBackRest restore options (--type, --target, --set)."""
    pgbackrest = ["pgbackrest", f"--config={node.pgbackrest_config}", f"--stanza={layout.stanza}", "restore"]
    opts = shlex.split(options)
    # A restore to a target pauses there by default; Patroni waits for a promotion, so promote.
    if any(o.startswith("--type=") and o != "--type=default" for o in opts) and not any(
        o.startswith("--target-action") for o in opts
    ):
        opts.append("--target-action=promote")
    inner = f"mkdir -p -m 700 {shlex.quote(node.data_dir)} && exec {shlex.join(pgbackrest + opts)}"
    return shlex.join(["/bin/sh", "-c", inner])


def render_patroni(layout: Layout, index: int) -> str:
    node = layout.nodes[index - 1]
    method = os.environ.get("HA_BOOTSTRAP_METHOD", "initdb")
    if method not in ("initdb", "pgbackrest"):
        raise HarnessError(f"HA_BOOTSTRAP_METHOD={method}: expected initdb or pgbackrest")
    values = {
        "SCOPE": layout.scope,
        "NAMESPACE": "/vietmarket/",
        "NODE_NAME": node.name,
        "REST_PORT": str(node.rest_port),
        "PG_PORT": str(node.pg_port),
        "ETCD_HOSTS": layout.etcd_hosts(),
        "TTL": os.environ.get("HA_TTL", "10"),
        "LOOP_WAIT": os.environ.get("HA_LOOP_WAIT", "2"),
        "RETRY_TIMEOUT": os.environ.get("HA_RETRY_TIMEOUT", "4"),
        "DATA_DIR": node.data_dir,
        "NODE_DIR": node.node_dir,
        "RUN_DIR": node.run_dir,
        "LOG_DIR": node.log_dir,
        "PG_BIN": os.environ.get("PG_BIN", "/usr/lib/postgresql/15/bin"),
        "SUPERUSER_PASSWORD": _secret("HA_SUPERUSER_PASSWORD"),
        "REPLICATION_PASSWORD": _secret("HA_REPLICATION_PASSWORD"),
        "REWIND_PASSWORD": _secret("HA_REWIND_PASSWORD"),
        "STANZA": layout.stanza,
        "PGBACKREST_CONFIG": node.pgbackrest_config,
        "ARCHIVE_TIMEOUT": str(layout.archive_timeout_s),
        "BOOTSTRAP_METHOD": method,
        # A JSON string is a YAML double-quoted scalar.
        "RESTORE_COMMAND": json.dumps(restore_command(layout, node, os.environ.get("HA_RESTORE_OPTIONS", ""))),
    }
    return string.Template(PATRONI_TEMPLATE.read_text(encoding="utf-8")).substitute(values)


def _load_by_path(name: str, path: Path) -> Any:
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None or not path.exists():
        raise HarnessError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def pgbackrest_values(layout: Layout, node: Node) -> dict[str, str]:
    """deploy/pgbackrest/pgbackrest.conf.tmpl's placeholders for one harness node."""
    return {
        "STANZA": layout.stanza,
        "REPO_PATH": layout.repo_path,
        "RETENTION_FULL": os.environ.get("HA_RETENTION_FULL", "2"),
        "RETENTION_DIFF": os.environ.get("HA_RETENTION_DIFF", "3"),
        "PROCESS_MAX": "2",
        "LOG_PATH": os.path.join(layout.backrest_dir, "log"),
        "LOCK_PATH": os.path.join(layout.backrest_dir, "lock", node.name),
        "SPOOL_PATH": os.path.join(layout.backrest_dir, "spool", node.name),
        "PG_DATA": node.data_dir,
        "PG_PORT": str(node.pg_port),
        "PG_SOCKET_DIR": node.run_dir,
    }


def render_pgbackrest(layout: Layout, index: int) -> str:
    """The shared pgBackRest template filled for one node."""
    return render_shared(PGBACKREST_TEMPLATE, pgbackrest_values(layout, layout.nodes[index - 1]))


def render_shared(template: Path, values: dict[str, str]) -> str:
    """`template` filled by deploy/common/render.py (loaded by path), by the template's own rules."""
    module = _load_by_path("vietmarket_render", SHARED_RENDER)
    try:
        return str(module.load(template).render(values))
    except ValueError as exc:
        raise HarnessError(str(exc)) from exc


def haproxy_values(layout: Layout) -> dict[str, str]:
    """The shared template's placeholders, filled for loopback."""
    values = {
        "BIND_ADDR": "127.0.0.1",
        "LEADER_PORT": str(layout.leader_port),
        "REPLICA_PORT": str(layout.replica_port),
        "STATS_PORT": str(layout.stats_port),
    }
    for node in layout.nodes:
        values[f"PG_NODE_{node.index}_ADDR"] = "127.0.0.1"
        values[f"PG_NODE_{node.index}_PORT"] = str(node.pg_port)
        values[f"PG_NODE_{node.index}_REST"] = str(node.rest_port)
    return values


def haproxy_template_source() -> str:
    return str(HAPROXY_TEMPLATE)


def render_haproxy(layout: Layout) -> str:
    """deploy/haproxy/haproxy.cfg.tmpl filled for loopback."""
    return render_shared(HAPROXY_TEMPLATE, haproxy_values(layout))


def _secret(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        raise HarnessError(f"{name} is not set: scripts/ha.sh loads it from the harness's secrets.env")
    return value


# ---------------------------------------------------------------------------------------------
# Waits and the bootstrap
# ---------------------------------------------------------------------------------------------
def etcd_healthy(layout: Layout) -> bool:
    for m in layout.etcd:
        status, body = http_get(f"http://127.0.0.1:{m.client_port}/health")
        if status != 200 or not isinstance(body, dict) or body.get("health") != "true":
            return False
    status, body = http_post(f"http://127.0.0.1:{layout.etcd[0].client_port}/v3/cluster/member/list", {})
    return status == 200 and len(json.loads(body).get("members", [])) == ETCD_COUNT


def admin_url(layout: Layout, port: int | None = None, dbname: str = "postgres") -> str:
    return f"postgresql://postgres:{_secret('HA_SUPERUSER_PASSWORD')}@127.0.0.1:{port or layout.leader_port}/{dbname}"


def wait_haproxy(layout: Layout, timeout_s: float) -> int:
    """Until the leader port reaches the Patroni leader (read-write); returns the backend's port."""

    def check() -> int | None:
        leader = leader_name(layout)
        if leader is None:
            return None
        if not haproxy_settled(layout, LEADER_PROXY, {leader}):
            return None
        port, in_recovery = routed(layout.leader_port, "postgres", _secret("HA_SUPERUSER_PASSWORD"))
        return port if port == layout.node(leader).pg_port and not in_recovery else None

    return wait_for(f"HAProxy :{layout.leader_port} to route to the leader", check, timeout_s, layout)


def replica_ready(layout: Layout) -> str | None:
    """The replica's name once there is one leader, every other member streams from it, and the
    replica port reaches a replica; else None."""
    leader = leader_name(layout)
    if leader is None:
        return None
    others = [n for n in layout.nodes if n.name != leader]
    streaming = streaming_replicas(layout, admin_url(layout, layout.node(leader).pg_port))
    if not all(n.name in streaming for n in others):
        return None
    # In synchronous mode a replica only counts once Patroni made it the synchronous standby: before
    # that it may not be promoted, and a switchover to it is refused.
    if synchronous_mode(layout):
        roles = {m["name"]: m.get("role") for m in (cluster(layout) or {}).get("members", [])}
        if not all(roles.get(n.name) == "sync_standby" for n in others):
            return None
    if not haproxy_settled(layout, REPLICA_PROXY, {n.name for n in others}):
        return None
    port, in_recovery = routed(layout.replica_port, "postgres", _secret("HA_SUPERUSER_PASSWORD"))
    return others[0].name if in_recovery and port in {n.pg_port for n in others} else None


def wait_replica(layout: Layout, timeout_s: float) -> str:
    return wait_for(
        f"one leader, {NODE_COUNT - 1} streaming (synchronous) replica(s) and HAProxy :{layout.replica_port} on it",
        lambda: replica_ready(layout),
        timeout_s,
        layout,
    )


@contextmanager
def _autocommit(url: str) -> Iterator[Any]:
    import psycopg2

    conn = psycopg2.connect(url, connect_timeout=5)
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            yield cur
    finally:
        conn.close()


def bootstrap(layout: Layout) -> str:
    """The `vietmarket` database, its schema (through the leader port) and the two login roles."""
    from psycopg2 import sql

    from vietmarket_pipelines.timescale.migrate import discover, migrate, schema_dir

    ingest_pw, api_pw = _secret("HA_INGEST_PASSWORD"), _secret("HA_API_PASSWORD")
    with _autocommit(admin_url(layout)) as cur:
        cur.execute("SELECT 1 FROM pg_database WHERE datname = 'vietmarket'")
        if cur.fetchone() is None:
            cur.execute("CREATE DATABASE vietmarket")
        for role, pw in (("vm_ingest", ingest_pw), ("vm_api", api_pw)):
            cur.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,))
            if cur.fetchone() is None:
                cur.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(role)))
            cur.execute(sql.SQL("ALTER ROLE {} PASSWORD %s").format(sql.Identifier(role)), (pw,))
        cur.execute("ALTER ROLE vm_api SET default_transaction_read_only = on")

    db_url = admin_url(layout, dbname="vietmarket")
    with _autocommit(db_url) as cur:
        cur.execute("SELECT to_regclass('public.schema_migrations') IS NOT NULL")
        row = cur.fetchone()
        applied: set[str] = set()
        if row and row[0]:
            cur.execute("SELECT version FROM schema_migrations")
            applied = {str(r[0]) for r in cur.fetchall()}
    pending = [m for m in discover(schema_dir()) if m.version not in applied]
    # Re-applying schema.sql takes locks on the candle tables; a restart during ingestion (the
    # failover test rejoins a node this way) must not, so it only runs when something is pending.
    if not applied or pending:
        report = migrate(db_url)
        summary = f"schema applied (timescaledb {report.timescaledb_version}), migrations now: {report.applied}"
    else:
        summary = f"schema up to date ({len(applied)} migrations)"
    with _autocommit(db_url) as cur:
        cur.execute("SET client_min_messages = warning")
        cur.execute("GRANT vietmarket_writer TO vm_ingest")
        cur.execute("GRANT vietmarket_reader TO vm_api")
    return summary


def write_stack_env(layout: Layout) -> None:
    superuser = _secret("HA_SUPERUSER_PASSWORD")
    ingest, api = _secret("HA_INGEST_PASSWORD"), _secret("HA_API_PASSWORD")
    lines = [
        "# The local HA harness (scripts/ha.sh): writes through HAProxy's leader port, reads through its",
        "# replica port.  `set -a; source` this file to point the stack at it.",
        f"VIETMARKET_ADMIN_PG_URL=postgresql://postgres:{superuser}@127.0.0.1:{layout.leader_port}/vietmarket",
        f"VIETMARKET_PG_URL=postgresql://vm_ingest:{ingest}@127.0.0.1:{layout.leader_port}/vietmarket",
        f"HISTORY_API_PG_URL=postgresql://vm_api:{api}@127.0.0.1:{layout.replica_port}/vietmarket",
        f"HA_LEADER_PORT={layout.leader_port}",
        f"HA_REPLICA_PORT={layout.replica_port}",
        f"HA_STATS_PORT={layout.stats_port}",
        f"HA_ETCD_HOSTS={layout.etcd_hosts()}",
        f"HA_PATRONICTL_CONFIG={layout.nodes[0].patroni_config}",
        f"HA_CLUSTER_JSON={os.path.join(layout.ha_dir, 'cluster.json')}",
    ]
    fd = os.open(layout.stack_env, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")


def read_env_file(path: str | Path) -> dict[str, str]:
    out: dict[str, str] = {}
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        if line and not line.startswith("#") and "=" in line:
            key, _, value = line.partition("=")
            out[key.strip()] = value.strip()
    return out


def status(layout: Layout) -> int:
    healthy = _safe(lambda: str(etcd_healthy(layout))) == "True"
    print(f"etcd {layout.etcd_hosts()}: {'healthy (3 members)' if healthy else 'NOT healthy'}")
    if not healthy:
        return 3
    print(patronictl_list(layout))
    state = cluster(layout)
    members = (state or {}).get("members", [])
    for port, label in ((layout.leader_port, "leader"), (layout.replica_port, "replica")):
        try:
            backend, in_recovery = routed(port, "postgres", _secret("HA_SUPERUSER_PASSWORD"))
            name = next((m["name"] for m in members if int(m.get("port", 0)) == backend), "?")
            role = "read-only" if in_recovery else "read-write"
            print(f"haproxy 127.0.0.1:{port} ({label}) -> {name} :{backend} {role}")
        except Exception as exc:
            print(f"haproxy 127.0.0.1:{port} ({label}) -> unreachable ({type(exc).__name__})")
    print(f"haproxy config from {haproxy_template_source()}")
    return 0 if leader_name(layout) else 3


@dataclass(frozen=True)
class Invocation:
    """One command line's layout, arguments and wait budget."""

    layout: Layout
    args: list[str]
    timeout: float


def _render_patroni(inv: Invocation) -> None:
    sys.stdout.write(render_patroni(inv.layout, int(inv.args[0])))


def _render_pgbackrest(inv: Invocation) -> None:
    sys.stdout.write(render_pgbackrest(inv.layout, int(inv.args[0])))


def _render_haproxy(inv: Invocation) -> None:
    sys.stdout.write(render_haproxy(inv.layout))


def _haproxy_source(inv: Invocation) -> None:
    print(haproxy_template_source())


def _wait_etcd(inv: Invocation) -> None:
    wait_for("3 healthy etcd members", lambda: etcd_healthy(inv.layout), inv.timeout, inv.layout)


def _wait_leader(inv: Invocation) -> None:
    print(wait_for("a Patroni leader", lambda: leader_name(inv.layout), inv.timeout, inv.layout, every=0.5))


def _wait_haproxy(inv: Invocation) -> None:
    wait_haproxy(inv.layout, inv.timeout)


def _bootstrap(inv: Invocation) -> None:
    print(bootstrap(inv.layout))
    write_stack_env(inv.layout)


def _wait_replica(inv: Invocation) -> None:
    print(wait_replica(inv.layout, inv.timeout))


def _write_cluster_json(inv: Invocation) -> None:
    path = os.path.join(inv.layout.ha_dir, "cluster.json")
    Path(path).write_text(json.dumps(asdict(inv.layout), indent=2) + "\n", encoding="utf-8")


def _roles(inv: Invocation) -> None:
    # "name role" per member, leader last: the order scripts/ha.sh stops them in.
    members = (cluster(inv.layout) or {}).get("members", [])
    for m in sorted(members, key=lambda m: m.get("role") in ("leader", "master")):
        print(m["name"], m.get("role", "?"))


def _status(inv: Invocation) -> int:
    return status(inv.layout)


# A command's exit code is what it returns, 0 for None.
COMMANDS: dict[str, Callable[[Invocation], int | None]] = {
    "render-patroni": _render_patroni,
    "render-pgbackrest": _render_pgbackrest,
    "render-haproxy": _render_haproxy,
    "haproxy-source": _haproxy_source,
    "wait-etcd": _wait_etcd,
    "wait-leader": _wait_leader,
    "wait-haproxy": _wait_haproxy,
    "bootstrap": _bootstrap,
    "wait-replica": _wait_replica,
    "write-cluster-json": _write_cluster_json,
    "roles": _roles,
    "status": _status,
}


def main(argv: list[str]) -> int:
    if not argv:
        print(__doc__, file=sys.stderr)
        return 2
    command, args = argv[0], argv[1:]
    inv = Invocation(Layout.from_env(), args, float(os.environ.get("HA_START_TIMEOUT", "120")))
    run = COMMANDS.get(command)
    if run is None:
        print(f"unknown command {command}\n{__doc__}", file=sys.stderr)
        return 2
    try:
        return run(inv) or 0
    except HarnessError as exc:
        print(str(exc), file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
