"""Dagster's three Nomad jobs as containers of the one image: command, args, env and files read from the job specs.

Nothing about the containers is written here twice. Each container's command, args, `env` block and templates
(dagster.yaml, workspace.yaml, the secrets env file) come from the parsed deploy/nomad/jobs/dagster-*.nomad.hcl;
the Go templates are rendered by a small renderer that knows exactly the constructs these jobs use and refuses any
other. Only what Nomad fills in at run time is given local values:

- the node's address (`attr.unique.network.ip-address`, a service's `.Address`) and the static ports: 127.0.0.1 and
  free loopback ports, with `0.0.0.0` binds narrowed to 127.0.0.1 (host networking shares the host's interfaces,
  where Nomad's docker network would not);
- the Nomad variable `vietmarket/dagster` (the passwords) and the node's HAProxy leader port 5433, which stand
  for the project's test cluster: each rendered URL is checked for its shape and then pointed at a throwaway
  database (Dagster's storage) or the migrated test database (the candles);
- /local and /secrets, Nomad's task directories: a temporary directory mounted at /local, the env file passed
  with `--env-file` as Nomad's `env = true` passes it.

The one addition is VIETMARKET_SIMULATOR_URL on the code server, where runs execute: the market-data simulator
stands in for the providers, as in tests/e2e/test_backfill_as_a_user.py.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import socket
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from benchmarks.dagster_stack import LOCATION_STATUS, DagsterClient
from tests.clusters import free_port
from tests.conftest import MigratedDatabase
from tests.containers.conftest import imagectl
from tests.deploy.test_nomad_specs import JOBS_DIR, groups, heredoc, job_of, load_hcl, one, static_ports, tasks
from vietmarket_pipelines.providers.vci import TIME_FRAMES, VciProvider
from vietmarket_pipelines.simulator.server import VCI_TIME_FRAMES, SimulatorServer
from vietmarket_pipelines.timescale.databases import create_database, drop_database, with_database

REPO = Path(__file__).resolve().parents[2]
IMAGE = "vietmarket/dagster"
# Start order: the webserver and the daemon find the code server by its service (see each job's header).
JOBS = ("dagster-code", "dagster-webserver", "dagster-daemon")
NODE_IP = "127.0.0.1"
# What the env templates connect to: the HAProxy leader port on the node, and the database behind it.
HAPROXY_LEADER_PORT = 5433
TERMINAL = ("SUCCESS", "FAILURE", "CANCELED")


# --- the jobs' Go templates, rendered for this host ------------------------------------------------------------

_ACTION = re.compile(r"(\{\{-?.*?-?\}\})", re.S)


def render_go_template(  # noqa: C901 - one small interpreter: parse, then evaluate each action kind
    text: str, *, services: dict[str, list[dict[str, Any]]], variables: dict[str, Any]
) -> str:
    """Consul-template's `range nomadService`, `with nomadVar`, `.Field` and `env` (the constructs these jobs use).

    Trim markers (`{{-`, `-}}`) strip the whitespace beside the action as Go's text/template does; any other
    action fails, so a new construct in a job cannot slip through unrendered.
    """
    tokens = _ACTION.split(text)
    for i in range(1, len(tokens), 2):
        if tokens[i].startswith("{{-"):
            tokens[i - 1] = tokens[i - 1].rstrip()
        if tokens[i].endswith("-}}"):
            tokens[i + 1] = tokens[i + 1].lstrip()
    items = [("text", t) if i % 2 == 0 else ("action", t.strip("{}").strip("-").strip()) for i, t in enumerate(tokens)]

    def parse(pos: int) -> tuple[list[Any], int]:
        nodes: list[Any] = []
        while pos < len(items):
            kind, value = items[pos]
            if kind == "action" and value == "end":
                return nodes, pos + 1
            if kind == "action" and value.split()[0] in ("range", "with"):
                body, pos = parse(pos + 1)
                nodes.append(("block", value, body))
                continue
            nodes.append(items[pos])
            pos += 1
        return nodes, pos

    def evaluate(nodes: list[Any], dot: Any) -> str:
        out = []
        for node in nodes:
            if node[0] == "text":
                out.append(node[1])
            elif node[0] == "block":
                match = re.fullmatch(r'(range nomadService|with nomadVar) "([^"]+)"', node[1])
                assert match, f"unsupported template block {{{{ {node[1]} }}}}"
                if match[1] == "range nomadService":
                    out.extend(evaluate(node[2], svc) for svc in services[match[2]])
                elif match[2] in variables:
                    out.append(evaluate(node[2], variables[match[2]]))
            elif m := re.fullmatch(r"\.(\w+)", node[1]):
                out.append(str(dot[m[1]]))
            elif m := re.fullmatch(r'env "([^"]+)"', node[1]):
                assert m[1] == "attr.unique.network.ip-address", f"unexpected env lookup {m[1]}"
                out.append(NODE_IP)
            else:
                raise AssertionError(f"unsupported template action {{{{ {node[1]} }}}}")
        return "".join(out)

    nodes, _ = parse(0)
    return evaluate(nodes, None)


def localize_url(url: str, user: str, database: str, local: str) -> str:
    """A rendered URL, checked to name the node's HAProxy leader and the expected role and database, then the
    test's URL in its place (the test cluster is the node's HAProxy here)."""
    parts = urlsplit(url)
    assert (parts.scheme, parts.username, parts.hostname, parts.port, parts.path) == (
        "postgresql",
        user,
        NODE_IP,
        HAPROXY_LEADER_PORT,
        f"/{database}",
    ), f"the job's URL changed shape: {parts._replace(netloc=f'{parts.username}:***@{parts.hostname}:{parts.port}')}"
    assert parts.password == "from-nomad-var", "the password is not the Nomad variable's"
    return local


@dataclass
class Container:
    """One Nomad task as a container: what `docker run` gets, all of it from the job spec."""

    job: str
    name: str
    command: list[str]
    env: dict[str, str]
    env_file: Path
    local_dir: Path
    ports: dict[str, int] = field(default_factory=dict)

    def run_args(self, image: str) -> list[str]:
        env_args = [a for k, v in self.env.items() for a in ("-e", f"{k}={v}")]
        return [
            "run", "-d", "--name", self.name, "--network", "host",
            "-v", f"{self.local_dir}:/local", "--env-file", str(self.env_file), *env_args,
            image, *self.command,
        ]  # fmt: skip


def task_of(job: str) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    doc = load_hcl(JOBS_DIR / f"{job}.nomad.hcl")
    name, spec = job_of(doc)
    assert name == job
    ((_, group),) = groups(spec)
    ((_, task),) = tasks(group)
    return doc, group, task


def container_from_job(
    job: str, workdir: Path, *, ports: dict[str, int], urls: dict[tuple[str, str], str], extra_env: dict[str, str]
) -> Container:
    """The task's config, env and templates, with Nomad's run-time values replaced by this host's."""
    doc, group, task = task_of(job)
    config = one(task["config"])
    assert config["image"] == "${var.image}" and doc["variable"][0]["image"]["default"] == f"{IMAGE}:latest"
    local_ports = {label: ports[label] for label in static_ports(group)}
    static = {str(port): str(local_ports[label]) for label, port in static_ports(group).items()}
    # Nomad's static port numbers and the all-interfaces bind are the only literals that become local values.
    args = [static.get(a, "127.0.0.1" if a == "0.0.0.0" else a) for a in config["args"]]
    env = {k: str(v) for k, v in one(task["env"]).items()}
    services = {"dagster-code": [{"Address": NODE_IP, "Port": ports["grpc"]}]}
    variables = {
        "vietmarket/dagster": {"dagster_pg_password": "from-nomad-var", "ingest_pg_password": "from-nomad-var"}
    }
    task_dir = workdir / job
    env_file = task_dir / "secrets" / "dagster.env"
    for tmpl in task["template"]:
        data = tmpl["data"]
        if m := re.fullmatch(r'\$\{file\("([^"]+)"\)\}', data):
            text = (REPO / m[1]).read_text(encoding="utf-8")
        else:
            text = render_go_template(heredoc(data), services=services, variables=variables)
        dest = task_dir / tmpl["destination"]
        dest.parent.mkdir(parents=True, exist_ok=True)
        if tmpl.get("env"):
            assert tmpl["destination"] == "secrets/dagster.env"
            lines = dict(line.split("=", 1) for line in text.splitlines() if line.strip())
            for key, value in lines.items():
                user = urlsplit(value).username or ""
                database = urlsplit(value).path.lstrip("/")
                lines[key] = localize_url(value, user, database, urls[(user, database)])
            dest.write_text("".join(f"{k}={v}\n" for k, v in lines.items()))
            dest.chmod(0o600)
        else:
            assert tmpl["destination"].startswith("local/"), tmpl["destination"]
            dest.write_text(text)
            dest.chmod(0o644)
    local = task_dir / "local"
    # Nomad's task directory is the task's to write (DAGSTER_HOME keeps compute logs there); the image runs as
    # its own non-root user.
    for path in [local, *local.rglob("*")]:
        if path.is_dir():
            path.chmod(0o777)
    command = [str(config["command"]), *args]
    return Container(job, "", command, {**env, **extra_env}, env_file, local, local_ports)


# --- the running stack ------------------------------------------------------------------------------------------


class ContainerDagster:
    """The three containers on one engine; every error carries their last log lines. `client` drives the
    containerised webserver, and its timeouts carry the same log lines."""

    def __init__(self, engine: Any, image: str, containers: dict[str, Container]) -> None:
        self.engine, self.image, self.containers = engine, image, containers
        self.client = DagsterClient(f"http://127.0.0.1:{containers['dagster-webserver'].ports['http']}", self.logs)

    def logs(self) -> str:
        return "\n".join(
            f"--- {c.name} ({c.job}), last log lines:\n{imagectl.last_logs(self.engine, c.name)}"
            for c in self.containers.values()
        )

    def fail(self, step: str, detail: str) -> None:
        raise imagectl.StepError(step, f"{detail}\n{self.logs()}")

    def run(self, job: str) -> None:
        c = self.containers[job]
        self.engine.docker(*c.run_args(self.image), step=f"docker run {c.job}")

    def state(self, job: str) -> str:
        name = self.containers[job].name
        return str(self.engine.docker("inspect", "--format", "{{.State.Status}}", name, step=f"inspect {name}")).strip()

    def wait_tcp(self, job: str, port: int, within_s: float) -> None:
        """Nomad's `tcp` check on the code server, with the container's death reported at once."""
        deadline = time.monotonic() + within_s
        while time.monotonic() < deadline:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    return
            if self.state(job) != "running":
                self.fail(f"start {job}", "the container exited")
            time.sleep(0.5)
        self.fail(f"start {job}", f"port {port} did not accept within {within_s} s")

    def wait_loaded(self, within_s: float) -> None:
        """The webserver answers and has loaded the code location from the code server's gRPC."""
        deadline, last = time.monotonic() + within_s, "no answer"
        while time.monotonic() < deadline:
            for job in self.containers:
                if self.state(job) != "running":
                    self.fail("start the webserver and the daemon", f"{job} exited")
            try:
                entries = self.client.graphql(LOCATION_STATUS)["workspaceOrError"]["locationEntries"]
                last = json.dumps(entries)[:500]
                if entries and entries[0]["loadStatus"] == "LOADED":
                    if entries[0]["locationOrLoadError"]["__typename"] == "PythonError":
                        self.fail("load the code location", last)
                    return
            except Exception as exc:  # any failure to answer is "not yet"
                last = repr(exc)
            time.sleep(0.5)
        self.fail("load the code location", f"not loaded within {within_s} s (last: {last})")

    def daemon_heartbeat(self) -> bool:
        data = self.client.graphql("{ instance { daemonHealth { allDaemonsHealthy } } }")
        return bool(data["instance"]["daemonHealth"]["allDaemonsHealthy"])

    def backfill(self, backfill_id: str) -> dict[str, Any]:
        query = """query($id: String!) { partitionBackfillOrError(backfillId: $id) {
            __typename ... on PartitionBackfill { status runs(limit: 1000) { id status } } } }"""
        result: dict[str, Any] = self.client.graphql(query, {"id": backfill_id})["partitionBackfillOrError"]
        return result


@pytest.fixture(scope="module")
def dagster_db(admin_url: str) -> Iterator[str]:
    name = f"vm_dagster_ctr_{os.getpid()}_{secrets.token_hex(2)}"
    create_database(admin_url, name)
    try:
        yield with_database(admin_url, name)
    finally:
        drop_database(admin_url, name)


@pytest.fixture(scope="module")
def stack(  # noqa: PLR0913 - a fixture's collaborators are its arguments
    engine: Any,
    image: Callable[[str], str],
    db: MigratedDatabase,
    dagster_db: str,
    simulator: SimulatorServer,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[ContainerDagster]:
    ref = image(IMAGE)
    workdir = tmp_path_factory.mktemp("nomad-tasks")
    ports = {"grpc": free_port(), "http": free_port()}
    urls = {("vm_dagster", "dagster"): dagster_db, ("vm_ingest", "vietmarket"): db.writer_dsn}
    prefix = f"vmdagster{secrets.token_hex(3)}"
    containers = {}
    for job in JOBS:
        extra = {"VIETMARKET_SIMULATOR_URL": simulator.url} if job == "dagster-code" else {}
        c = container_from_job(job, workdir, ports=ports, urls=urls, extra_env=extra)
        c.name = f"{prefix}-{job}"
        containers[job] = c
    dagster = ContainerDagster(engine, ref, containers)
    try:
        started = time.monotonic()
        dagster.run("dagster-code")
        dagster.wait_tcp("dagster-code", ports["grpc"], within_s=90)
        dagster.run("dagster-webserver")
        dagster.run("dagster-daemon")
        dagster.wait_loaded(within_s=90)
        print(f"\ndagster containers up in {time.monotonic() - started:.1f} s")
        yield dagster
    finally:
        for c in containers.values():
            engine.docker("rm", "-f", "-v", c.name, step=f"remove {c.name}", check=False)


# --- what the containers must do ---------------------------------------------------------------------------------


def tickers_of(simulator: SimulatorServer, start: int, count: int) -> list[str]:
    return sorted(t.symbol for t in simulator.simulator.market.listed_stocks())[start : start + count]


def served_bars(simulator: SimulatorServer, partition: str) -> int:
    """How many bars a first backfill of a partition stores: the simulated VCI's answer to the request the
    provider makes (its own countBack for full history), minute bars counted as the 15-minute bars they make."""
    tf, ticker = partition.split("|")
    now = simulator.simulator.market.now()
    # count_back needs no connection when no start is given: the provider, without its HTTP client.
    count_back = object.__new__(VciProvider).count_back(tf, None, now)  # type: ignore[arg-type]
    kind = VCI_TIME_FRAMES[TIME_FRAMES[tf]]  # type: ignore[index]
    times = simulator.simulator.bars(ticker, kind, None, int(now.timestamp()), count_back)["t"]
    return len({t // 900 for t in times}) if tf == "15m" else len(times)


def stored_bars(db: MigratedDatabase, partitions: list[str]) -> dict[str, tuple[int, int]]:
    """(rows, distinct bar times) per partition."""
    conn = db.connect()
    with conn, conn.cursor() as cur:
        cur.execute("SELECT tf || '|' || ticker, count(*), count(DISTINCT ts) FROM candles GROUP BY 1")
        found = {key: (int(n), int(d)) for key, n, d in cur.fetchall()}
    conn.close()
    return {p: found.get(p, (0, 0)) for p in partitions}


def clear_candles(db: MigratedDatabase) -> None:
    conn = db.connect()
    with conn, conn.cursor() as cur:
        cur.execute("TRUNCATE candles_1d, candles_1h, candles_15m, candles_latest, symbols")
    conn.close()


def wait_backfill(dagster: ContainerDagster, backfill_id: str, step: str, within_s: float) -> dict[str, Any]:
    try:
        return dagster.client.wait_backfill(backfill_id, timeout_s=within_s)
    except TimeoutError as exc:
        raise imagectl.StepError(step, str(exc)) from None


def assert_bars_landed_once(
    dagster: ContainerDagster, db: MigratedDatabase, sim: SimulatorServer, parts: list[str]
) -> None:
    stored = stored_bars(db, parts)
    expected = {p: served_bars(sim, p) for p in parts}
    wrong = {p: {"stored": stored[p], "served": expected[p]} for p in parts if stored[p] != (expected[p],) * 2}
    if wrong or not all(expected.values()):
        dagster.fail("check the bars per partition", f"rows (total, distinct ts) vs the simulator's: {wrong}")


def test_the_containers_run_the_nomad_jobs_commands_and_environment(stack: ContainerDagster) -> None:
    """What each container runs is what the spec says, as the engine reports it, not only as this test built it."""
    for job, c in stack.containers.items():
        out = stack.engine.docker("inspect", "--format", "{{json .Config}}", c.name, step=f"inspect {c.name}")
        config = json.loads(out)
        _, _, task = task_of(job)
        spec = one(task["config"])
        assert config["Cmd"][0] == spec["command"] and len(config["Cmd"]) == 1 + len(spec["args"])
        env = dict(e.split("=", 1) for e in config["Env"])
        for key, value in one(task["env"]).items():
            assert env[key] == str(value), (job, key)
        assert set(re.findall(r"^\s*([A-Z_]+)=", heredoc(next(
            t["data"] for t in task["template"] if t.get("env")
        )), re.M)) <= set(env)  # fmt: skip
        home = stack.engine.docker("exec", c.name, "cat", "/local/dagster_home/dagster.yaml", step="read dagster.yaml")
        assert home == (REPO / "dagster.yaml").read_text(encoding="utf-8")
        if job != "dagster-code":
            ws = yaml.safe_load(stack.engine.docker("exec", c.name, "cat", "/local/workspace.yaml", step="workspace"))
            assert ws == {
                "load_from": [{"grpc_server": {
                    "host": NODE_IP, "port": stack.containers["dagster-code"].ports["grpc"],
                    "location_name": "vietmarket_pipelines",
                }}]
            }  # fmt: skip
    assert stack.engine.docker("exec", stack.containers["dagster-daemon"].name, "id", "-u", step="id").strip() != "0"


def test_a_backfill_through_the_webserver_lands_its_bars_across_a_daemon_restart(
    stack: ContainerDagster, db: MigratedDatabase, simulator: SimulatorServer
) -> None:
    """Launched through the containerised webserver's GraphQL; the daemon is stopped mid-backfill and started
    again; every run ends in SUCCESS and every partition's bars are there exactly once, as the simulator serves
    them.  (One backfill proves both: CI's 30-minute budget has no room for a second one.)"""
    clear_candles(db)
    tickers = tickers_of(simulator, 6, 4)
    stack.client.add_partitions("tickers", tickers)
    # One run per timeframe (the backfill policy); the instance lets two backfill runs go at once, so when all
    # three exist at least one waits in the queue, which only the daemon drains.
    partitions = [f"{tf}|{t}" for tf in ("1d", "1h", "15m") for t in tickers]
    started = time.monotonic()
    backfill_id = stack.client.launch_backfill("candles", partitions)
    deadline = time.monotonic() + 120
    while True:
        runs = stack.backfill(backfill_id)["runs"]
        if len(runs) == 3 and any(r["status"] not in TERMINAL for r in runs):
            break
        if time.monotonic() > deadline:
            stack.fail("wait for the backfill's runs", f"runs after 120 s: {runs}")
        time.sleep(0.2)
    daemon = stack.containers["dagster-daemon"].name
    stack.engine.docker("stop", "-t", "20", daemon, step="docker stop the daemon", timeout=60)
    at_stop = {r["id"]: r["status"] for r in stack.backfill(backfill_id)["runs"]}
    in_flight = [s for s in at_stop.values() if s not in TERMINAL]
    assert in_flight, f"every run had finished before the daemon stopped: {at_stop}"
    # While the daemon is down nothing is dequeued; queued runs stay queued.
    time.sleep(5)
    queued = [r for r in stack.backfill(backfill_id)["runs"] if r["status"] == "QUEUED"]
    stack.engine.docker("start", daemon, step="docker start the daemon")
    imagectl.wait_running(stack.engine, daemon, within_s=5)
    backfill = wait_backfill(stack, backfill_id, "wait for the backfill after the daemon restart", within_s=420)
    print(
        f"\nrestart backfill: {time.monotonic() - started:.1f} s; at the stop {at_stop}; "
        f"{len(queued)} queued while the daemon was down"
    )
    statuses = {r["id"]: r["status"] for r in backfill["runs"]}
    if set(statuses) != set(at_stop) or set(statuses.values()) != {"SUCCESS"}:
        stack.fail("runs after the daemon restart", f"at the stop {at_stop}, at the end {statuses}")
    assert backfill["status"] == "COMPLETED_SUCCESS", backfill
    assert_bars_landed_once(stack, db, simulator, partitions)
