"""The database image boots a single-node Patroni cluster on etcd, both images built here, run as Nomad runs them.

The Patroni config is the timescaledb-ha job's own template (secrets/patroni.yml), its Go template actions filled
the way Nomad would for one node, with loopback addresses and free ports in place of the tailnet's fixed ones; etcd
gets the etcd job's env file the same way. Each container runs with the job's command, mounts and host networking.
A second member (its own scope) boots from the image's entrypoint rendering patroni.yml from PATRONI_* variables.
Then: the leader answers on the REST API, CREATE EXTENSION timescaledb works, schema.sql and the migrations
apply, and pgBackRest runs inside.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg2
import pytest
import yaml

from tests.clusters import free_port
from tests.containers.conftest import container_state, imagectl
from tests.deploy.test_nomad_specs import groups, job_of, load_hcl, one, resolve, tasks, template_data
from vietmarket_pipelines.timescale.migrate import migrate

REPO = Path(__file__).resolve().parents[2]
JOBS = REPO / "deploy" / "nomad" / "jobs"
SCHEMA = REPO / "deploy" / "timescaledb" / "schema.sql"
DB_IMAGE = "vietmarket/timescaledb-ha"
ETCD_IMAGE = "vietmarket/etcd"
HAPROXY_IMAGE = "vietmarket/haproxy"
POSTGRES_UID = 1000  # the image's postgres user, as the job's template and host-volume instructions assume
LEADER_WITHIN_S = 120


@dataclass
class Run:
    """The containers of one test module, their logs for every error message."""

    engine: Any
    containers: list[str] = field(default_factory=list)

    def logs(self) -> str:
        parts = []
        for name in self.containers:
            parts.append(f"--- last log lines of {name}:\n{imagectl.last_logs(self.engine, name)}")
        return "\n".join(parts)

    @contextmanager
    def step(self, name: str) -> Iterator[None]:
        """A failure inside names the step and carries each container's last log lines."""
        try:
            yield
        except Exception as exc:
            raise AssertionError(f"step '{name}' failed: {exc}\n{self.logs()}") from exc

    def run(self, name: str, args: list[str]) -> str:
        self.containers.append(name)
        self.engine.docker("run", "-d", "--name", name, "--network", "host", *args, step=f"start container {name}")
        return name


def nomad_task(job_file: str) -> tuple[dict[str, Any], dict[str, Any]]:
    doc = load_hcl(JOBS / job_file)
    ((_, group),) = groups(job_of(doc)[1])
    ((_, task),) = tasks(group)
    return doc, task


def fill_go_template(text: str, values: dict[str, str]) -> str:
    """What Nomad's template engine gives for one node: `with`/`end`/assignment lines drop, each action its value."""
    lines = [ln for ln in text.splitlines() if not re.fullmatch(r"\s*\{\{-?\s*(\$\w+ :=|with |end).*\}\}\s*", ln)]
    filled = "\n".join(lines) + "\n"
    for action, value in values.items():
        filled = filled.replace(action, value)
    leftover = re.findall(r"\{\{.*?\}\}", filled)
    assert not leftover, f"template actions this test does not fill: {leftover}"
    return filled


def wait_for_leader(run: Run, container: str, rest_port: int) -> dict[str, Any]:
    """Patroni's REST API: /primary answers 200 on the member holding the leader lock."""
    deadline = time.monotonic() + LEADER_WITHIN_S
    last = "no answer"
    while time.monotonic() < deadline:
        state = container_state(run.engine, container)
        if not state.get("Running"):
            raise AssertionError(f"{container} exited with {state.get('ExitCode')} before leading")
        try:
            res = httpx.get(f"http://127.0.0.1:{rest_port}/primary", timeout=3)
            if res.status_code == 200:
                status: dict[str, Any] = res.json()
                return status
            last = f"{res.status_code} {res.text[:200]}"
        except httpx.TransportError as exc:
            last = repr(exc)
        time.sleep(1)
    raise AssertionError(f"no leader on :{rest_port}/primary within {LEADER_WITHIN_S} s (last: {last})")


def owned_dir(path: Path, mode: int) -> Path:
    """A host directory as the runbook prepares a host volume: `install -d -o 1000 -g 1000 -m <mode>`."""
    path.mkdir(parents=True, exist_ok=True)
    os.chown(path, POSTGRES_UID, POSTGRES_UID)
    path.chmod(mode)
    return path


@dataclass(frozen=True)
class Member:
    container: str
    pg_port: int
    rest_port: int
    superuser_password: str
    status: dict[str, Any]

    def url(self, db: str = "postgres") -> str:
        return f"postgresql://postgres:{self.superuser_password}@127.0.0.1:{self.pg_port}/{db}"


@pytest.fixture(scope="module")
def run(engine: Any, image: Any) -> Iterator[Run]:
    image(ETCD_IMAGE)
    image(DB_IMAGE)
    run = Run(engine)
    try:
        yield run
    finally:
        if run.containers:
            engine.docker(
                "rm", "-f", "-v", *run.containers, step="remove the test's containers", timeout=120, check=False
            )


@pytest.fixture(scope="module")
def etcd(run: Run, tmp_path_factory: pytest.TempPathFactory) -> str:
    """One etcd member from the etcd job's env file, on free loopback ports; returns its client address."""
    client, peer = free_port(), free_port()
    doc, task = nomad_task("etcd.nomad.hcl")
    with run.step("etcd: the job's env file for one member"):
        env_text = fill_go_template(
            template_data(doc, task, "local/etcd.env"), {'{{ env "node.class" }}': "db-a", "{{ $addr }}": "127.0.0.1"}
        )
        env = dict(line.split("=", 1) for line in env_text.splitlines() if line.strip())
        # A cluster of one on loopback, instead of three tailnet members on 2379/2380.
        env["ETCD_INITIAL_CLUSTER"] = f"{env['ETCD_NAME']}=http://127.0.0.1:{peer}"
        for key, value in list(env.items()):
            env[key] = value.replace(":2379", f":{client}").replace(":2380", f":{peer}").replace("0.0.0.0", "127.0.0.1")
        env_file = tmp_path_factory.mktemp("etcd") / "etcd.env"
        env_file.write_text("".join(f"{k}={v}\n" for k, v in env.items()))
    config = one(task["config"])
    name = f"vmtest-etcd-{secrets.token_hex(3)}"
    with run.step("etcd: start the container"):
        run.run(name, ["--env-file", str(env_file), f"{ETCD_IMAGE}:{imagectl.TAG}", config["command"]])
    with run.step("etcd: /health answers true"):
        deadline = time.monotonic() + 30
        while True:
            try:
                res = httpx.get(f"http://127.0.0.1:{client}/health", timeout=2)
                if res.status_code == 200 and res.json().get("health") == "true":
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "etcd not healthy within 30 s"
            assert container_state(run.engine, name).get("Running"), f"{name} exited"
            time.sleep(0.5)
    return f"127.0.0.1:{client}"


@pytest.fixture(scope="module")
def nomad_member(run: Run, etcd: str, tmp_path_factory: pytest.TempPathFactory) -> Member:
    """A Patroni member of the timescaledb-ha job: its templated patroni.yml, command, mounts and env."""
    doc, task = nomad_task("timescaledb-ha.nomad.hcl")
    config = one(task["config"])
    pg_port, rest_port = free_port(), free_port()
    passwords = {key: secrets.token_hex(16) for key in ("superuser", "replication", "rewind", "restapi")}
    with run.step("patroni: the job's patroni.yml for one node"):
        text = fill_go_template(
            template_data(doc, task, "secrets/patroni.yml"),
            {
                '{{ env "node.unique.name" }}': "db-a-test",
                "{{ $addr }}": "127.0.0.1",
                **{f"{{{{ .{role}_password }}}}": pw for role, pw in passwords.items()},
            },
        )
        patroni = yaml.safe_load(text)
        # Loopback and free ports in place of the tailnet addresses and the fixed 5432/8008/2379.
        patroni["restapi"]["listen"] = patroni["restapi"]["connect_address"] = f"127.0.0.1:{rest_port}"
        patroni["postgresql"]["listen"] = patroni["postgresql"]["connect_address"] = f"127.0.0.1:{pg_port}"
        patroni["etcd3"]["hosts"] = etcd
        patroni["scope"] = f"vmtest-{secrets.token_hex(3)}"
        secrets_dir = owned_dir(tmp_path_factory.mktemp("patroni-secrets"), 0o700)
        config_file = secrets_dir / "patroni.yml"
        config_file.write_text(yaml.safe_dump(patroni))
        # As the job's template block writes it: uid/gid 1000, mode 600.
        tmpl = next(t for t in task["template"] if t["destination"] == "secrets/patroni.yml")
        os.chown(config_file, int(tmpl["uid"]), int(tmpl["gid"]))
        config_file.chmod(int(str(tmpl["perms"]), 8))
    mounts = []
    for mount in task["volume_mount"]:
        host = owned_dir(tmp_path_factory.mktemp(mount["volume"]), 0o700)
        mounts += ["-v", f"{host}:{mount['destination']}"]
    # Nomad gives every task an /alloc folder (the job's pgBackRest log path is under it).
    mounts += ["-v", f"{owned_dir(tmp_path_factory.mktemp('alloc'), 0o755)}:/alloc"]
    env = []
    for key, value in (one(task["env"]) if task.get("env") else {}).items():
        # pgBackRest reaches this node's PostgreSQL on the port the test moved it to, as patroni.yml above.
        value = pg_port if key == "PGBR_PG_PORT" else value
        env += ["-e", f"{key}={resolve(str(value), doc)}"]
    args = [config["command"], *config.get("args", [])]
    name = f"vmtest-patroni-{secrets.token_hex(3)}"
    with run.step("patroni: start the container with the job's command"):
        run.run(
            name,
            [
                "--shm-size",
                str(config["shm_size"]),
                "-v",
                f"{secrets_dir}:/secrets:ro",
                *mounts,
                *env,
                f"{DB_IMAGE}:{imagectl.TAG}",
                *args,
            ],
        )
    with run.step("patroni: the single member bootstraps and leads"):
        status = wait_for_leader(run, name, rest_port)
    return Member(name, pg_port, rest_port, passwords["superuser"], status)


def test_the_job_config_bootstraps_a_leader(run: Run, nomad_member: Member) -> None:
    status = nomad_member.status
    assert status["state"] == "running" and status["role"] in {"master", "primary"}, status
    with run.step("patroni: the container runs as postgres (uid 1000)"):
        uid = run.engine.docker("exec", nomad_member.container, "id", "-u", step="id -u").strip()
        assert uid == str(POSTGRES_UID)
    with run.step("patroni: the cluster's data sits in the mounted volume"):
        out = run.engine.docker(
            "exec", nomad_member.container, "cat", "/home/postgres/pgdata/data/PG_VERSION", step="PG_VERSION"
        )
        assert out.strip() == "15"


def test_create_extension_and_the_schema_apply(run: Run, nomad_member: Member) -> None:
    with run.step("psql: CREATE DATABASE vietmarket through the leader"):
        conn = psycopg2.connect(nomad_member.url(), connect_timeout=10)
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute("SHOW shared_preload_libraries")
            assert cur.fetchone() == ("timescaledb",)
            cur.execute("CREATE DATABASE vietmarket")
        conn.close()
    with run.step("psql: CREATE EXTENSION timescaledb"):
        conn = psycopg2.connect(nomad_member.url("vietmarket"), connect_timeout=10)
        with conn, conn.cursor() as cur:
            cur.execute("CREATE EXTENSION timescaledb")
            cur.execute("SELECT extversion FROM pg_extension WHERE extname = 'timescaledb'")
            row = cur.fetchone()
            assert row and re.fullmatch(r"2\.\d+\.\d+", row[0]), row
            cur.execute("SELECT current_setting('timescaledb.license')")
            assert cur.fetchone() == ("apache",), "the Apache-2 build from Debian's source"
    with run.step("psql: schema.sql applies"):
        with conn, conn.cursor() as cur:
            cur.execute(SCHEMA.read_text(encoding="utf-8"))
            cur.execute("SELECT hypertable_name FROM timescaledb_information.hypertables")
            hypertables = {r[0] for r in cur.fetchall()}
            assert {"candles_1d", "candles_1h", "candles_15m"} <= hypertables, hypertables
        conn.close()
    with run.step("vietmarket-db migrate: the schema again (a no-op) and every migration"):
        report = migrate(nomad_member.url("vietmarket"))
        assert report is not None
    with run.step("psql: a bar written and read back"):
        conn = psycopg2.connect(nomad_member.url("vietmarket"), connect_timeout=10)
        with conn, conn.cursor() as cur:
            cur.execute(
                "INSERT INTO candles_1d (ticker, tf, ts, o, h, l, c, v, source) "
                "VALUES ('VCB', '1d', 1770940800000, 64.7, 65.1, 64.0, 64.4, 4951400, 'vci')"
            )
            cur.execute("SELECT c FROM candles_1d WHERE ticker = 'VCB'")
            assert [float(r[0]) for r in cur.fetchall()] == [64.4]
        conn.close()


def test_pgbackrest_archives_the_leaders_wal_with_the_jobs_config(run: Run, nomad_member: Member) -> None:
    """The entrypoint rendered pgbackrest.conf from the job's PGBR_* env; the job's archive_command then works."""
    with run.step("pgbackrest version in the container"):
        out = run.engine.docker("exec", nomad_member.container, "pgbackrest", "version", step="pgbackrest version")
        assert re.fullmatch(r"pgBackRest 2\.\d+(\.\d+)?", out.strip()), out
    _doc, task = nomad_task("timescaledb-ha.nomad.hcl")
    stanza = str(one(task["env"])["PGBR_STANZA"])
    for command in ("stanza-create", "check"):
        with run.step(f"pgbackrest {command} (the job's stanza, the rendered config)"):
            run.engine.docker(
                "exec", nomad_member.container, "pgbackrest", f"--stanza={stanza}", command,
                step=f"pgbackrest {command}", timeout=120,
            )  # fmt: skip
    with run.step("pgbackrest info: WAL segments archived"):
        info = json.loads(
            run.engine.docker(
                "exec",
                nomad_member.container,
                "pgbackrest",
                f"--stanza={stanza}",
                "--output=json",
                "info",
                step="pgbackrest info",
            )
        )
        archive = info[0]["archive"][0]
        assert archive["max"] and archive["min"], info  # status is "no valid backups": none taken here


def test_the_entrypoint_renders_patroni_yml_from_the_environment(run: Run, etcd: str) -> None:
    """docker run without a config file: PATRONI_* variables only, the passwords never written to disk."""
    pg_port, rest_port = free_port(), free_port()
    password = secrets.token_hex(16)
    name = f"vmtest-patroni-env-{secrets.token_hex(3)}"
    env = {
        "PATRONI_NAME": "env-test",
        "PATRONI_SCOPE": f"vmtest-env-{secrets.token_hex(3)}",
        "PATRONI_ETCD3_HOSTS": etcd,
        "PATRONI_RESTAPI_LISTEN": f"127.0.0.1:{rest_port}",
        "PATRONI_RESTAPI_CONNECT_ADDRESS": f"127.0.0.1:{rest_port}",
        "PATRONI_POSTGRESQL_LISTEN": f"127.0.0.1:{pg_port}",
        "PATRONI_POSTGRESQL_CONNECT_ADDRESS": f"127.0.0.1:{pg_port}",
        "PATRONI_SUPERUSER_PASSWORD": password,
        "PATRONI_REPLICATION_PASSWORD": secrets.token_hex(16),
        "PATRONI_REWIND_PASSWORD": secrets.token_hex(16),
        "VM_SHARED_BUFFERS": "128MB",
    }
    with run.step("patroni (env): start the container with a bare `patroni`"):
        run.run(name, [*(a for k, v in env.items() for a in ("-e", f"{k}={v}")), f"{DB_IMAGE}:{imagectl.TAG}"])
    with run.step("patroni (env): the single member bootstraps and leads"):
        wait_for_leader(run, name, rest_port)
    with run.step("patroni (env): CREATE EXTENSION timescaledb"):
        conn = psycopg2.connect(f"postgresql://postgres:{password}@127.0.0.1:{pg_port}/postgres", connect_timeout=10)
        with conn, conn.cursor() as cur:
            cur.execute("CREATE EXTENSION timescaledb")
        conn.close()
    with run.step("patroni (env): the rendered file holds no password"):
        rendered = run.engine.docker("exec", name, "cat", "/tmp/patroni.yml", step="cat patroni.yml")
        assert password not in rendered and not re.search(r"\bpassword:", rendered), rendered
        assert json.dumps(yaml.safe_load(rendered)["postgresql"]["authentication"]["superuser"]) == json.dumps(
            {"username": "postgres"}
        )
    with run.step("patroni (env): a missing variable is named"):
        proc = subprocess.run(
            [imagectl.docker_bin(), "run", "--rm", "--network", "host", f"{DB_IMAGE}:{imagectl.TAG}"],
            env=run.engine.env(),
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert proc.returncode != 0 and "missing environment: PATRONI_NAME" in proc.stderr, proc.stderr


def test_the_haproxy_image_routes_the_leader_port_to_patroni(
    run: Run, image: Any, nomad_member: Member, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """The pg-haproxy job's template, env and command in vietmarket/haproxy: :leader reaches the Patroni leader."""
    image(HAPROXY_IMAGE)
    doc, task = nomad_task("pg-haproxy.nomad.hcl")
    config = one(task["config"])
    ports = {"LEADER_PORT": free_port(), "REPLICA_PORT": free_port(), "STATS_PORT": free_port()}
    with run.step("haproxy: the job's env for this node"):
        env = {k: resolve(str(v), doc) for k, v in one(task["env"]).items()}
        env |= {k: str(v) for k, v in ports.items()}
        # Member 1 is the test's Patroni; member 2 a port nothing listens on, as a node that is down.
        env |= {"BIND_ADDR": "127.0.0.1", "PG_NODE_1_ADDR": "127.0.0.1", "PG_NODE_2_ADDR": "127.0.0.1"}
        env |= {"PG_NODE_1_PORT": str(nomad_member.pg_port), "PG_NODE_1_REST": str(nomad_member.rest_port)}
        env |= {"PG_NODE_2_PORT": str(free_port()), "PG_NODE_2_REST": str(free_port())}
        local = tmp_path_factory.mktemp("haproxy-local")
        (local / "haproxy.cfg").write_text(template_data(doc, task, "local/haproxy.cfg"))
        # Readable by the image's haproxy user, as Nomad's task directory is.
        local.chmod(0o755)
        (local / "haproxy.cfg").chmod(0o644)
    name = f"vmtest-haproxy-{secrets.token_hex(3)}"
    with run.step("haproxy: start the container with the job's command"):
        run.run(
            name,
            [
                "-v",
                f"{local}:/local:ro",
                *(a for k, v in env.items() for a in ("-e", f"{k}={v}")),
                f"{HAPROXY_IMAGE}:{imagectl.TAG}",
                config["command"],
                *config["args"],
            ],
        )
    with run.step("haproxy: the leader port reaches the Patroni leader"):
        deadline = time.monotonic() + 30
        while True:
            try:
                conn = psycopg2.connect(
                    f"postgresql://postgres:{nomad_member.superuser_password}@127.0.0.1:{ports['LEADER_PORT']}/postgres",
                    connect_timeout=3,
                )
                break
            except psycopg2.OperationalError:
                assert time.monotonic() < deadline, "no connection through HAProxy within 30 s"
                assert container_state(run.engine, name).get("Running"), f"{name} exited"
                time.sleep(0.5)
        with conn, conn.cursor() as cur:
            cur.execute("SELECT pg_is_in_recovery(), inet_server_port()")
            assert cur.fetchone() == (False, nomad_member.pg_port)
        conn.close()
        assert httpx.get(f"http://127.0.0.1:{ports['STATS_PORT']}/healthz", timeout=3).status_code == 200
    with run.step("haproxy: runs as the haproxy user"):
        out = run.engine.docker("exec", name, "id", "-un", step="id -un")
        assert out.strip() == "haproxy"
