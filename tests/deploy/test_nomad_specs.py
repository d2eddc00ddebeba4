"""Static checks of deploy/nomad, deploy/haproxy and the runbooks: no Nomad binary exists on these machines, so
the job specs are parsed (python-hcl2) and their structure, ports, routing, time zones and secrets are checked.

The HAProxy routing is rendered the two ways it is deployed: by deploy/common/render.py (the local HA harness)
and the way Nomad does it (the template file shipped verbatim, HAProxy expanding "${VAR}" from the task env).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import textwrap
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import hcl2
import pytest
import yaml

from tests.modules import load_by_path

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
JOBS_DIR = DEPLOY / "nomad" / "jobs"
JOB_FILES = sorted(JOBS_DIR.glob("*.nomad.hcl"))
TEMPLATE = DEPLOY / "haproxy" / "haproxy.cfg.tmpl"
RUNBOOKS = (DEPLOY / "README.md", DEPLOY / "nomad" / "README.md", DEPLOY / "nomad" / "HA_TIMESCALE_RUNBOOK.md")
TZ = "Asia/Ho_Chi_Minh"

EXPECTED_JOBS = {
    "etcd",
    "timescaledb-ha",
    "pg-haproxy",
    "dagster-code",
    "dagster-webserver",
    "dagster-daemon",
    "history-api",
    "timescaledb-backup",
}

# Each stateful job's own host volume.
STATE_VOLUMES = {"etcd": "etcd-data", "timescaledb-ha": "timescaledb-data"}

# The one port plan: every spec, the HAProxy template and the runbooks must agree with it.
PORTS = {
    "etcd": {"client": 2379, "peer": 2380},
    "timescaledb-ha": {"pg": 5432, "rest": 8008},
    "pg-haproxy": {"leader": 5433, "replicas": 5434, "stats": 7000},
    "dagster-webserver": {"http": 3000},
    "dagster-code": {"grpc": 4000},
    "history-api": {"http": 8787},
}
DOCUMENTED_PORTS = (5433, 5434, 8008, 2379, 2380, 8787, 3000, 4000)

_OPTIONS = hcl2.SerializationOptions(with_comments=False, explicit_blocks=False, strip_string_quotes=True)
_INTERPOLATION = re.compile(r"\$\{([^{}]*(?:\{[^{}]*\}[^{}]*)*)\}")
# Interpolations Nomad leaves for the client to fill at run time.
_RUNTIME = ("node.", "attr.", "meta.", "NOMAD_")


# --- helpers -------------------------------------------------------------------------------------------------


def load_hcl(path: Path) -> dict[str, Any]:
    with path.open(encoding="utf-8") as f:
        doc: dict[str, Any] = hcl2.load(f, serialization_options=_OPTIONS)
    return doc


def labelled(blocks: list[dict[str, Any]] | None) -> Iterator[tuple[str, dict[str, Any]]]:
    """(label, body) of each labelled block (`group "x" {...}` parses as [{"x": {...}}])."""
    for block in blocks or []:
        yield from block.items()


def job_of(doc: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    (found,) = list(labelled(doc["job"]))
    return found


def groups(job: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return list(labelled(job.get("group")))


def tasks(group: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return list(labelled(group.get("task")))


def one(blocks: list[dict[str, Any]] | None) -> dict[str, Any]:
    assert blocks and len(blocks) == 1, f"expected exactly one block, got {blocks!r}"
    return blocks[0]


def heredoc(value: str) -> str:
    """The text of a heredoc as HCL gives it to Nomad (`<<-` strips the common indentation)."""
    if not value.startswith("<<"):
        return value
    first, _, rest = value.partition("\n")
    marker = first.lstrip("<-")
    body, _, tail = rest.rpartition("\n")
    assert tail.strip() == marker, f"heredoc does not end with {marker}"
    return (textwrap.dedent(body) if first.startswith("<<-") else body) + "\n"


def variable_defaults(doc: dict[str, Any]) -> dict[str, Any]:
    return {name: body.get("default") for name, body in labelled(doc.get("variable"))}


def resolve(text: str, doc: dict[str, Any]) -> str:
    """Evaluates the few HCL expressions these specs use, as the nomad CLI would; runtime ones stay."""
    defaults = variable_defaults(doc)
    addrs: dict[str, str] = defaults.get("node_addrs") or {}
    known = {f"var.{k}": str(v) for k, v in defaults.items() if not isinstance(v, dict)}
    known |= {f'var.node_addrs["{k}"]': v for k, v in addrs.items()}
    known["jsonencode(var.node_addrs)"] = json.dumps(addrs)
    known["local.initial_cluster"] = ",".join(f"etcd-{c}=http://{a}:2380" for c, a in addrs.items())
    known["local.etcd_hosts"] = ",".join(f"{a}:2379" for a in addrs.values())

    def sub(m: re.Match[str]) -> str:
        expr = m.group(1)
        if expr.startswith(_RUNTIME):
            return m.group(0)
        assert expr in known, f"unresolved expression ${{{expr}}}"
        return known[expr]

    return _INTERPOLATION.sub(sub, text)


def template_data(doc: dict[str, Any], task: dict[str, Any], destination: str) -> str:
    for tmpl in task.get("template", []):
        if tmpl["destination"] == destination:
            data: str = tmpl["data"]
            if m := re.fullmatch(r'\$\{file\("([^"]+)"\)\}', data):
                return (REPO / m.group(1)).read_text(encoding="utf-8")
            return resolve(heredoc(data), doc)
    raise AssertionError(f"no template with destination {destination}")


def static_ports(group: dict[str, Any]) -> dict[str, int]:
    ports: dict[str, int] = {}
    for network in group.get("network", []):
        for label, body in labelled(network.get("port")):
            ports[label] = int(body["static"])
    return ports


def go_template_skeleton(text: str) -> str:
    """A Go template with its actions replaced, so the YAML around them can be parsed."""
    lines = [ln for ln in text.splitlines() if not re.fullmatch(r"\s*\{\{.*\}\}\s*", ln)]
    return re.sub(r"\{\{.*?\}\}", "TEMPLATED", "\n".join(lines))


def load_render() -> ModuleType:
    return load_by_path("vietmarket_render", DEPLOY / "common" / "render.py")


def haproxy_env_expand(text: str, env: dict[str, str]) -> str:
    """HAProxy's own expansion: "${VAR}" inside double quotes only (comments are not config)."""
    out = []
    for line in text.splitlines(keepends=True):
        if line.lstrip().startswith("#"):
            out.append(line)
            continue
        out.append(re.sub(r'"[^"]*"', lambda q: re.sub(r"\$\{(\w+)\}", lambda v: env[v.group(1)], q.group(0)), line))
    return "".join(out)


def sections(config: str) -> dict[str, list[str]]:
    """HAProxy config as {"listen primary": [normalised lines]}; comments, blanks and quotes dropped."""
    result: dict[str, list[str]] = {}
    current: list[str] | None = None
    for raw in config.splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        line = " ".join(line.replace('"', "").split())
        if not raw[0].isspace():
            current = result.setdefault(line, [])
        else:
            assert current is not None, f"directive outside a section: {line}"
            current.append(line)
    return result


def routing(config: str) -> dict[str, list[str]]:
    return {
        name: lines for name, lines in sections(config).items() if name.startswith(("listen", "frontend", "backend"))
    }


# --- fixtures ------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def docs() -> dict[str, dict[str, Any]]:
    found = {}
    for path in JOB_FILES:
        doc = load_hcl(path)
        name, _ = job_of(doc)
        found[name] = doc
    return found


@pytest.fixture(scope="module")
def jobs(docs: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {name: job_of(doc)[1] for name, doc in docs.items()}


@pytest.fixture(scope="module")
def render_module() -> ModuleType:
    return load_render()


@pytest.fixture(scope="module")
def haproxy_template(render_module: ModuleType) -> Any:
    """The HAProxy template with the rules its `# render:` lines state, as the harness renders it."""
    return render_module.load(TEMPLATE)


HARNESS_VALUES = {
    "BIND_ADDR": "127.0.0.1",
    "PG_NODE_1_ADDR": "127.0.0.1",
    "PG_NODE_1_PORT": "55441",
    "PG_NODE_1_REST": "58441",
    "PG_NODE_2_ADDR": "127.0.0.1",
    "PG_NODE_2_PORT": "55442",
    "PG_NODE_2_REST": "58442",
}


def nomad_haproxy_env(doc: dict[str, Any], job: dict[str, Any], bind_addr: str) -> dict[str, str]:
    ((_, group),) = groups(job)
    ((_, task),) = tasks(group)
    env = {k: resolve(str(v), doc) for k, v in one(task["env"]).items()}
    env["BIND_ADDR"] = env["BIND_ADDR"].replace("${attr.unique.network.ip-address}", bind_addr)
    return env


# --- parsing and structure -----------------------------------------------------------------------------------


@pytest.mark.parametrize("path", JOB_FILES, ids=lambda p: p.name)
def test_job_file_parses_and_is_named_after_its_job(path: Path) -> None:
    name, job = job_of(load_hcl(path))
    assert path.name == f"{name}.nomad.hcl"
    assert job["type"] in {"service", "system", "batch"}
    assert groups(job), "a job without task groups"


def test_the_expected_jobs_exist(jobs: dict[str, dict[str, Any]]) -> None:
    assert set(jobs) == EXPECTED_JOBS


def test_policy_files_parse() -> None:
    policies = sorted((DEPLOY / "nomad" / "policies").glob("*.hcl"))
    assert policies
    for path in policies:
        assert "namespace" in load_hcl(path)


def test_every_task_has_driver_resources_and_a_config(jobs: dict[str, dict[str, Any]]) -> None:
    for job_name, job in jobs.items():
        for group_name, group in groups(job):
            for task_name, task in tasks(group):
                where = f"{job_name}/{group_name}/{task_name}"
                assert task.get("driver") == "docker", where
                config = one(task["config"])
                assert config.get("image"), where
                assert config.get("command"), f"{where}: no explicit command"
                resources = one(task.get("resources"))
                assert resources.get("cpu", 0) > 0 and resources.get("memory", 0) > 0, where


def test_services_have_checks_on_declared_ports(jobs: dict[str, dict[str, Any]]) -> None:
    for job_name, job in jobs.items():
        for _, group in groups(job):
            ports = static_ports(group)
            for _, task in tasks(group):
                config = one(task["config"])
                for label in config.get("ports", []):
                    assert label in ports, f"{job_name}: docker port {label} not in the group network"
                for service in task.get("service", []):
                    where = f"{job_name} service {service['name']}"
                    assert service.get("provider") == "nomad", where
                    assert service["port"] in ports, f"{where}: port {service['port']} not declared"
                    checks = service.get("check")
                    assert checks, f"{where}: no check"
                    for check in checks:
                        assert check["type"] in {"http", "tcp"}, f"{where}: Nomad-native checks are http/tcp"
                        assert check.get("interval") and check.get("timeout"), where
                        assert check.get("port", service["port"]) in ports, where
                        if check["type"] == "http":
                            assert check.get("path", "").startswith("/"), where


def test_long_running_jobs_register_a_checked_service_except_the_daemon(jobs: dict[str, dict[str, Any]]) -> None:
    for job_name, job in jobs.items():
        services = [s for _, g in groups(job) for _, t in tasks(g) for s in t.get("service", [])]
        if job["type"] == "batch" or job_name == "dagster-daemon":
            continue
        assert services, f"{job_name}: a long-running job without a health-checked service"


@pytest.mark.parametrize(
    ("job_name", "classes", "count"),
    [("etcd", {"db-a", "db-b", "witness"}, 3), ("timescaledb-ha", {"db-a", "db-b"}, 2)],
)
def test_stateful_jobs_run_one_member_per_node_class(
    jobs: dict[str, dict[str, Any]], job_name: str, classes: set[str], count: int
) -> None:
    ((_, group),) = groups(jobs[job_name])
    assert group["count"] == count
    constraints = group["constraint"]
    by_class = [c for c in constraints if c.get("attribute") == "${node.class}" and c.get("operator") == "regexp"]
    assert by_class, f"{job_name}: no node-class constraint"
    pattern = re.compile(by_class[0]["value"])
    assert {c for c in ("db-a", "db-b", "witness", "other") if pattern.search(c)} == classes
    distinct = [c for c in constraints if c.get("operator") == "distinct_property"]
    assert distinct and distinct[0]["attribute"] == "${node.class}" and str(distinct[0]["value"]) == "1"
    update = one(group["update"])
    assert update["max_parallel"] == 1, "members must be replaced one at a time (quorum / leader)"
    # The member's own data volume (timescaledb-ha also mounts the shared pgBackRest repository).
    volumes = dict(labelled(group["volume"]))
    assert set(volumes) - {"pgbackrest-repo"} == {STATE_VOLUMES[job_name]}
    assert all(v["type"] == "host" for v in volumes.values())
    ((_, task),) = tasks(group)
    assert {m["volume"] for m in task["volume_mount"]} == set(volumes)


def test_jobs_that_need_config_have_templates(jobs: dict[str, dict[str, Any]]) -> None:
    needs = {
        "etcd": {"local/etcd.env"},
        "timescaledb-ha": {"secrets/patroni.yml"},
        "pg-haproxy": {"local/haproxy.cfg"},
        "dagster-code": {"local/dagster_home/dagster.yaml", "secrets/dagster.env"},
        "dagster-webserver": {"local/dagster_home/dagster.yaml", "local/workspace.yaml", "secrets/dagster.env"},
        "dagster-daemon": {"local/dagster_home/dagster.yaml", "local/workspace.yaml", "secrets/dagster.env"},
        "history-api": {"secrets/history-api.env"},
        "timescaledb-backup": {"local/pgbackrest.conf.tmpl", "local/render.py", "local/backup.sh"},
    }
    for job_name, destinations in needs.items():
        found = {t["destination"] for _, g in groups(jobs[job_name]) for _, task in tasks(g) for t in task["template"]}
        assert destinations <= found, f"{job_name}: missing templates {destinations - found}"


def test_templates_resolve_every_hcl_expression(
    docs: dict[str, dict[str, Any]], jobs: dict[str, dict[str, Any]]
) -> None:
    for job_name, job in jobs.items():
        for _, group in groups(job):
            for _, task in tasks(group):
                for tmpl in task.get("template", []):
                    text = template_data(docs[job_name], task, tmpl["destination"])
                    assert text.strip(), f"{job_name}: empty template {tmpl['destination']}"
                    # Files containing secrets go to secrets/, which `nomad alloc fs` does not expose.
                    if "nomadVar" in text:
                        assert tmpl["destination"].startswith("secrets/"), f"{job_name}: {tmpl['destination']}"


# --- etcd and Patroni ----------------------------------------------------------------------------------------


def test_etcd_members_form_one_cluster(docs: dict[str, dict[str, Any]], jobs: dict[str, dict[str, Any]]) -> None:
    ((_, group),) = groups(jobs["etcd"])
    ((_, task),) = tasks(group)
    env_text = template_data(docs["etcd"], task, "local/etcd.env")
    assert 'ETCD_NAME=etcd-{{ env "node.class" }}' in env_text
    assert "ETCD_LISTEN_CLIENT_URLS=http://0.0.0.0:2379" in env_text
    assert "ETCD_LISTEN_PEER_URLS=http://0.0.0.0:2380" in env_text
    cluster = re.search(r"ETCD_INITIAL_CLUSTER=(\S+)", env_text)
    assert cluster
    members = dict(m.split("=", 1) for m in cluster.group(1).split(","))
    assert set(members) == {"etcd-db-a", "etcd-db-b", "etcd-witness"}
    assert all(url.endswith(":2380") for url in members.values())
    assert one(one(task["service"])["check"])["path"] == "/health"


def test_patroni_really_starts_with_timescaledb_preloaded(
    docs: dict[str, dict[str, Any]], jobs: dict[str, dict[str, Any]]
) -> None:
    ((_, group),) = groups(jobs["timescaledb-ha"])
    ((_, task),) = tasks(group)
    config = one(task["config"])
    assert config["command"] == "patroni" and config["args"] == ["/secrets/patroni.yml"]
    mounts = {m["volume"]: m["destination"] for m in task["volume_mount"]}
    assert mounts["timescaledb-data"] == "/home/postgres/pgdata"
    tmpl = next(t for t in task["template"] if t["destination"] == "secrets/patroni.yml")
    assert (tmpl["uid"], tmpl["gid"], str(tmpl["perms"])) == (1000, 1000, "600")

    text = template_data(docs["timescaledb-ha"], task, "secrets/patroni.yml")
    assert 'name: {{ env "node.unique.name" }}' in text, "per-node member names"
    patroni = yaml.safe_load(go_template_skeleton(text))
    assert patroni["restapi"]["listen"].endswith(":8008") and patroni["restapi"]["connect_address"].endswith(":8008")
    pg = patroni["postgresql"]
    assert pg["listen"].endswith(":5432") and pg["connect_address"].endswith(":5432")
    assert pg["data_dir"].startswith("/home/postgres/pgdata/")
    assert {h.split(":")[1] for h in patroni["etcd3"]["hosts"].split(",")} == {"2379"}
    assert len(patroni["etcd3"]["hosts"].split(",")) == 3

    dcs = patroni["bootstrap"]["dcs"]
    assert dcs["loop_wait"] + 2 * dcs["retry_timeout"] <= dcs["ttl"], "Patroni's timing rule"
    assert dcs["postgresql"]["use_pg_rewind"] is True
    params = dcs["postgresql"]["parameters"]
    assert params["shared_preload_libraries"] == "timescaledb"
    assert params["wal_log_hints"] == "on", "pg_rewind needs hint bits logged (or data checksums)"

    auth = pg["authentication"]
    assert auth["replication"]["username"] == "replicator"
    for role in ("superuser", "replication", "rewind"):
        assert auth[role]["password"] == "TEMPLATED", f"{role} password must come from nomadVar"
    hba = [" ".join(rule.split()) for rule in pg["pg_hba"]]
    assert any(r.startswith("host replication replicator ") and r.endswith("scram-sha-256") for r in hba)
    for needed in (
        "host vietmarket +vietmarket_writer",
        "host vietmarket +vietmarket_reader",
        "host dagster vm_dagster",
    ):
        assert any(r.startswith(needed) for r in hba), needed
    assert not any(" trust" in r or r.split()[-1] == "md5" for r in hba)


# --- HAProxy: one template, two renderers --------------------------------------------------------------------


def test_haproxy_job_ships_the_one_template(docs: dict[str, dict[str, Any]], jobs: dict[str, dict[str, Any]]) -> None:
    ((_, group),) = groups(jobs["pg-haproxy"])
    ((_, task),) = tasks(group)
    tmpl = one([t for t in task["template"] if t["destination"] == "local/haproxy.cfg"])
    assert tmpl["data"] == '${file("deploy/haproxy/haproxy.cfg.tmpl")}'
    assert "{{" not in TEMPLATE.read_text(encoding="utf-8"), "Nomad's template engine must pass the file unchanged"
    assert one(task["config"])["args"] == ["-f", "/local/haproxy.cfg"]


def test_haproxy_job_env_fills_exactly_the_placeholders(
    docs: dict[str, dict[str, Any]], jobs: dict[str, dict[str, Any]], haproxy_template: Any
) -> None:
    env = nomad_haproxy_env(docs["pg-haproxy"], jobs["pg-haproxy"], "100.83.150.39")
    assert set(env) == set(haproxy_template.placeholders)
    assert env["PG_NODE_1_ADDR"] == "100.83.150.39" and env["PG_NODE_2_ADDR"] == "100.103.201.10"
    for key, default in haproxy_template.defaults.items():
        assert env[key] == default, f"{key}: Nomad {env[key]} vs the template's default {default}"


def test_nomad_and_harness_render_the_same_routing(
    docs: dict[str, dict[str, Any]], jobs: dict[str, dict[str, Any]], haproxy_template: Any
) -> None:
    env = nomad_haproxy_env(docs["pg-haproxy"], jobs["pg-haproxy"], "127.0.0.1")
    env |= HARNESS_VALUES
    as_nomad = haproxy_env_expand(TEMPLATE.read_text(encoding="utf-8"), env)
    as_harness = haproxy_template.render(HARNESS_VALUES)
    assert routing(as_nomad) == routing(as_harness)
    assert sections(as_nomad) == sections(as_harness)


@pytest.fixture(scope="module")
def production_routing(haproxy_template: Any) -> dict[str, list[str]]:
    config = haproxy_template.render(
        {"BIND_ADDR": "100.83.150.39", "PG_NODE_1_ADDR": "100.83.150.39", "PG_NODE_2_ADDR": "100.103.201.10"}
    )
    return routing(config)


def test_leader_port_routes_to_the_primary_only(production_routing: dict[str, list[str]]) -> None:
    primary = production_routing["listen primary"]
    assert "bind 100.83.150.39:5433" in primary
    assert "option httpchk GET /primary" in primary
    assert "http-check expect status 200" in primary
    assert not any("/replica" in line for line in primary)
    assert not any(line.startswith("balance") for line in primary), "there is only ever one leader"


def test_replica_port_routes_to_replicas_only(production_routing: dict[str, list[str]]) -> None:
    replicas = production_routing["listen replicas"]
    assert "bind 100.83.150.39:5434" in replicas
    assert "option httpchk GET /replica" in replicas
    assert "http-check expect status 200" in replicas
    assert not any("/primary" in line for line in replicas)


@pytest.mark.parametrize("listener", ["listen primary", "listen replicas"])
def test_health_checks_use_patroni_rest_and_cut_sessions(
    production_routing: dict[str, list[str]], listener: str
) -> None:
    lines = production_routing[listener]
    default_server = [line for line in lines if line.startswith("default-server")]
    assert default_server and "on-marked-down shutdown-sessions" in default_server[0]
    servers = [line for line in lines if line.startswith("server ")]
    assert [s.split()[2] for s in servers] == ["100.83.150.39:5432", "100.103.201.10:5432"]
    for server in servers:
        assert server.endswith("check port 8008"), server


def test_stats_listener_serves_liveness(production_routing: dict[str, list[str]]) -> None:
    stats = production_routing["listen stats"]
    assert "bind 100.83.150.39:7000" in stats and "mode http" in stats and "monitor-uri /healthz" in stats


def test_sessions_outlive_a_long_copy(haproxy_template: Any) -> None:
    defaults = sections(haproxy_template.render(HARNESS_VALUES))["defaults"]
    timeouts = dict(line.split()[1:3] for line in defaults if line.startswith("timeout "))
    assert timeouts["client"] == timeouts["server"] == "30m"
    assert "mode tcp" in defaults


def test_render_refuses_gaps_typos_and_unsafe_values(haproxy_template: Any) -> None:
    with pytest.raises(ValueError, match="no value for: BIND_ADDR"):
        haproxy_template.render({k: v for k, v in HARNESS_VALUES.items() if k != "BIND_ADDR"})
    with pytest.raises(ValueError, match="not placeholders"):
        haproxy_template.render(HARNESS_VALUES | {"PG_NODE_3_ADDR": "127.0.0.1"})
    with pytest.raises(ValueError, match="unsafe"):
        haproxy_template.render(HARNESS_VALUES | {"BIND_ADDR": '127.0.0.1" maxconn 1'})


def test_render_cli_writes_the_config(tmp_path: Path, render_module: ModuleType, haproxy_template: Any) -> None:
    out = tmp_path / "haproxy.cfg"
    args = [str(TEMPLATE), *(f"--set={k}={v}" for k, v in HARNESS_VALUES.items())]
    assert render_module.main([*args, "-o", str(out)]) == 0
    assert out.read_text(encoding="utf-8") == haproxy_template.render(HARNESS_VALUES)
    assert render_module.main([args[0], *args[2:]]) == 2, "a missing value must fail"


@pytest.mark.skipif(shutil.which("haproxy") is None, reason="haproxy is not installed")
def test_haproxy_accepts_both_renderings(
    tmp_path: Path, docs: dict[str, dict[str, Any]], jobs: dict[str, dict[str, Any]], haproxy_template: Any
) -> None:
    rendered = tmp_path / "rendered.cfg"
    rendered.write_text(haproxy_template.render(HARNESS_VALUES), encoding="utf-8")
    # The Nomad way: HAProxy reads the raw template and expands the placeholders from its environment.
    env = nomad_haproxy_env(docs["pg-haproxy"], jobs["pg-haproxy"], "127.0.0.1")
    for path, extra_env in ((rendered, {}), (TEMPLATE, env)):
        result = subprocess.run(
            ["haproxy", "-c", "-f", str(path)], env={"PATH": "/usr/sbin:/usr/bin:/bin", **extra_env},
            capture_output=True, text=True, timeout=30, check=False,
        )  # fmt: skip
        assert result.returncode == 0, f"{path.name}: {result.stdout}{result.stderr}"


# --- ports ---------------------------------------------------------------------------------------------------


def test_static_ports_follow_the_port_plan(jobs: dict[str, dict[str, Any]]) -> None:
    for job_name, expected in PORTS.items():
        found: dict[str, int] = {}
        for _, group in groups(jobs[job_name]):
            found |= static_ports(group)
        assert found == expected, job_name


def test_process_arguments_use_the_planned_ports(jobs: dict[str, dict[str, Any]]) -> None:
    def task_of(job: str) -> dict[str, Any]:
        ((_, group),) = groups(jobs[job])
        ((_, task),) = tasks(group)
        return task

    code = one(task_of("dagster-code")["config"])
    assert code["args"] == ["api", "grpc", "-m", "vietmarket_pipelines.definitions", "-h", "0.0.0.0", "-p", "4000"]
    webserver = one(task_of("dagster-webserver")["config"])
    assert webserver["args"][webserver["args"].index("-p") + 1] == "3000"
    assert one(task_of("history-api")["env"])["PORT"] == "8787"


def test_haproxy_template_defaults_follow_the_port_plan(haproxy_template: Any) -> None:
    d = haproxy_template.defaults
    assert (d["LEADER_PORT"], d["REPLICA_PORT"], d["STATS_PORT"]) == ("5433", "5434", "7000")
    assert d["PG_NODE_1_PORT"] == d["PG_NODE_2_PORT"] == "5432"
    assert d["PG_NODE_1_REST"] == d["PG_NODE_2_REST"] == "8008"


def test_clients_use_the_right_haproxy_port(docs: dict[str, dict[str, Any]], jobs: dict[str, dict[str, Any]]) -> None:
    def env_text(job: str, destination: str) -> str:
        ((_, group),) = groups(jobs[job])
        ((_, task),) = tasks(group)
        return template_data(docs[job], task, destination)

    for job in ("dagster-code", "dagster-webserver", "dagster-daemon"):
        assert re.search(
            r"^DAGSTER_PG_URL=postgresql://vm_dagster:.*:5433/dagster$", env_text(job, "secrets/dagster.env"), re.M
        )
    assert re.search(r"^VIETMARKET_PG_URL=.*:5433/vietmarket$", env_text("dagster-code", "secrets/dagster.env"), re.M)
    assert re.search(
        r"^HISTORY_API_PG_URL=postgresql://vm_api:.*:5434/vietmarket$",
        env_text("history-api", "secrets/history-api.env"),
        re.M,
    )


def test_runbooks_name_the_same_ports() -> None:
    for path in RUNBOOKS:
        text = path.read_text(encoding="utf-8")
        for port in DOCUMENTED_PORTS:
            if path.name == "HA_TIMESCALE_RUNBOOK.md" and port in (3000, 4000, 8787):
                continue
            assert re.search(rf"\b{port}\b", text), f"{path.relative_to(REPO)} never mentions port {port}"


def test_components_table_matches_the_specs() -> None:
    """deploy/README.md's table rows `| component | `jobs/<file>` | ports |` agree with the specs' static ports."""
    text = (DEPLOY / "README.md").read_text(encoding="utf-8")
    rows = re.findall(r"^\|[^|\n]*\|\s*`(?:nomad/)?jobs/([\w-]+)\.nomad\.hcl`\s*\|([^|\n]*)\|", text, re.M)
    documented = {job: {int(p) for p in re.findall(r"\b\d{4}\b", ports)} for job, ports in rows}
    assert set(PORTS) <= set(documented), f"table rows missing for {set(PORTS) - set(documented)}"
    for job, ports in PORTS.items():
        assert documented[job] == set(ports.values()), f"deploy/README.md lists {documented[job]} for {job}"


# --- time zones, shared files, secrets ------------------------------------------------------------------------


def walk(node: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any]]:
    yield path, node
    if isinstance(node, dict):
        for k, v in node.items():
            yield from walk(v, (*path, str(k)))
    elif isinstance(node, list):
        for item in node:
            yield from walk(item, path)


def test_every_periodic_element_runs_in_vietnam_time(docs: dict[str, dict[str, Any]]) -> None:
    periodic_seen = 0
    for job_name, doc in docs.items():
        for path, node in walk(doc):
            if path and path[-1] == "periodic":
                for block in node if isinstance(node, list) else [node]:
                    periodic_seen += 1
                    assert block.get("time_zone") == TZ, f"{job_name}: periodic without time_zone = {TZ}"
                    assert block.get("crons") or block.get("cron"), job_name
            if path and path[-1] in {"cron", "crons"}:
                assert "periodic" in path, f"{job_name}: a cron outside a periodic block"
    assert periodic_seen >= 1, "the backup job is periodic"


def test_dagster_schedules_state_their_time_zone() -> None:
    for path in (REPO / "vietmarket_pipelines").rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        if "cron_schedule=" in text:
            assert text.count("execution_timezone=") >= text.count("cron_schedule="), path.relative_to(REPO)


def test_dagster_jobs_share_the_repository_instance_config(jobs: dict[str, dict[str, Any]]) -> None:
    workspace = yaml.safe_load((REPO / "workspace.yaml").read_text(encoding="utf-8"))
    location = workspace["load_from"][0]["python_module"]["location_name"]
    assert "{{" not in (REPO / "dagster.yaml").read_text(encoding="utf-8")
    instance = yaml.safe_load((REPO / "dagster.yaml").read_text(encoding="utf-8"))
    assert instance["storage"]["postgres"]["postgres_url"] == {"env": "DAGSTER_PG_URL"}
    for job_name in ("dagster-code", "dagster-webserver", "dagster-daemon"):
        ((_, group),) = groups(jobs[job_name])
        ((_, task),) = tasks(group)
        assert one(task["env"])["DAGSTER_HOME"] == "/local/dagster_home"
        by_dest = {t["destination"]: t for t in task["template"]}
        assert by_dest["local/dagster_home/dagster.yaml"]["data"] == '${file("dagster.yaml")}'
        if job_name != "dagster-code":
            ws = heredoc(by_dest["local/workspace.yaml"]["data"])
            assert 'nomadService "dagster-code"' in ws and f"location_name: {location}" in ws
    ((_, daemon_group),) = groups(jobs["dagster-daemon"])
    assert daemon_group["count"] == 1, "exactly one daemon"


def test_history_api_env_names_are_read_by_the_service(
    jobs: dict[str, dict[str, Any]], docs: dict[str, dict[str, Any]]
) -> None:
    settings = (REPO / "packages" / "history-api" / "src" / "history_api" / "settings.py").read_text(encoding="utf-8")
    ((_, group),) = groups(jobs["history-api"])
    ((_, task),) = tasks(group)
    names = set(one(task["env"]))
    names |= set(re.findall(r"^([A-Z_]+)=", template_data(docs["history-api"], task, "secrets/history-api.env"), re.M))
    for name in names:
        assert f'"{name}"' in settings, f"history_api/settings.py never reads {name}"
    service = one(task["service"])
    assert one(service["check"])["path"] == "/healthz"
    assert "check_restart" not in one(service["check"]), "a DB outage must not restart the API"


# etcd's INITIAL_CLUSTER_TOKEN only names the cluster; it guards nothing.
_SECRET_NAME = re.compile(r"(password|passwd|secret|(?<!cluster_)token|api_?keys?|deploy_key)$", re.I)


def test_no_literal_secrets_in_specs(docs: dict[str, dict[str, Any]]) -> None:
    for path in [*JOB_FILES, TEMPLATE]:
        text = path.read_text(encoding="utf-8")
        # user:password@ in a URL must be a template action.
        for m in re.finditer(r"://[^:/\s@]+:([^@\s]+)@", text):
            assert m.group(1).startswith("{{"), f"{path.name}: literal password in a URL"
        # `password: x`, `PASSWORD=x`, `KEYS=x`: the value must be a template action.
        for m in re.finditer(r"^\s*-?\s*([\w.]+)\s*[:=]\s*['\"]?([^\s'\"]+)", text, re.M):
            key, value = m.groups()
            if _SECRET_NAME.search(key) and not key.startswith(("#", "//")):
                assert value.startswith("{{"), f"{path.name}: {key} has a literal value"
    for doc in docs.values():
        for keys, node in walk(doc):
            if keys and keys[-1] == "env" and isinstance(node, dict):
                for key in node:
                    assert not _SECRET_NAME.search(key), f"secret-looking env {key} set in a spec"


def test_every_nomad_variable_is_documented(docs: dict[str, dict[str, Any]]) -> None:
    """The operator creates the variables before the first deploy: the runbooks must name each path and key."""
    documentation = "\n".join(p.read_text(encoding="utf-8") for p in RUNBOOKS)
    for path in JOB_FILES:
        text = path.read_text(encoding="utf-8")
        for block in re.finditer(r'nomadVar "([^"]+)" \}\}(.*?)\{\{-? end', text, re.S):
            var_path, body = block.groups()
            assert var_path in documentation, f"{path.name}: variable {var_path} not in the runbooks"
            for key in re.findall(r"\{\{ \.(\w+) \}\}", body):
                assert key in documentation, f"{path.name}: key {key} of {var_path} not in the runbooks"


# --- compose and Docker (a light duplicate of tests/deploy/test_history_api_deploy.py) ------------------------


def load_imagectl() -> ModuleType:
    """deploy/docker/imagectl.py by path (deploy/ is not a package), as tests/containers/conftest.py loads it."""
    return load_by_path("vietmarket_imagectl_static", DEPLOY / "docker" / "imagectl.py")


def task_images(doc: dict[str, Any]) -> dict[str, str]:
    """Each task's image as the nomad CLI resolves it with the variables' defaults."""
    defaults = variable_defaults(doc)
    found = {}
    _, job = job_of(doc)
    for group_name, group in groups(job):
        for task_name, task in tasks(group):
            image = str(one(task["config"])["image"])
            if m := re.fullmatch(r"\$\{var\.(\w+)\}", image):
                assert m.group(1) in defaults, f"{task_name}: image variable {m.group(1)} has no default"
                image = str(defaults[m.group(1)])
            found[f"{group_name}/{task_name}"] = image
    return found


@pytest.mark.parametrize("path", JOB_FILES, ids=lambda p: p.name)
def test_every_job_runs_an_image_the_build_produces(path: Path) -> None:
    """No third-party image: each task's default image is `<name>:latest` of an image imagectl.py builds."""
    imagectl = load_imagectl()
    for where, image in task_images(load_hcl(path)).items():
        name, _, tag = image.partition(":")
        assert name in imagectl.IMAGES, f"{path.name} {where}: {image} is not built here ({', '.join(imagectl.IMAGES)})"
        assert tag == imagectl.TAG, f"{path.name} {where}: {image} is not the tag the build gives ({imagectl.TAG})"
        assert (REPO / imagectl.IMAGES[name]).is_file(), f"{imagectl.IMAGES[name]} missing"


def test_the_database_jobs_share_the_database_image(docs: dict[str, dict[str, Any]]) -> None:
    images = {job: set(task_images(docs[job]).values()) for job in ("timescaledb-ha", "timescaledb-backup")}
    assert images["timescaledb-ha"] == images["timescaledb-backup"] == {"vietmarket/timescaledb-ha:latest"}


def test_the_etcd_and_haproxy_commands_exist_in_their_images(jobs: dict[str, dict[str, Any]]) -> None:
    """The job's command is the Debian package's binary the Dockerfile installs and checks."""
    ((_, etcd_group),) = groups(jobs["etcd"])
    ((_, etcd_task),) = tasks(etcd_group)
    etcd_dockerfile = (DEPLOY / "etcd" / "Dockerfile").read_text(encoding="utf-8")
    assert one(etcd_task["config"])["command"] == "/usr/bin/etcd"
    assert "etcd-server" in etcd_dockerfile and 'CMD ["/usr/bin/etcd"]' in etcd_dockerfile
    ((_, ha_group),) = groups(jobs["pg-haproxy"])
    ((_, ha_task),) = tasks(ha_group)
    assert one(ha_task["config"])["command"] == "haproxy"
    haproxy_dockerfile = (DEPLOY / "haproxy" / "Dockerfile").read_text(encoding="utf-8")
    assert "COPY deploy/haproxy/haproxy.cfg.tmpl /etc/haproxy/haproxy.cfg" in haproxy_dockerfile
    # The job relies on the entrypoint for master-worker mode (SIGUSR2 reloads).
    assert "haproxy -W -db" in (DEPLOY / "haproxy" / "entrypoint.sh").read_text(encoding="utf-8")


def test_history_api_compose_and_dockerfile_parse() -> None:
    compose = yaml.safe_load((DEPLOY / "history-api" / "docker-compose.yml").read_text(encoding="utf-8"))
    service = compose["services"]["history-api"]
    # The compose file runs as the Nomad job does: host networking, the listener on loopback.
    assert service["network_mode"] == "host"
    assert service["environment"]["HISTORY_API_HOST"] == "127.0.0.1"
    dockerfile = (DEPLOY / "history-api" / "Dockerfile").read_text(encoding="utf-8")
    assert re.search(r'^CMD \["history-api"\]$', dockerfile, re.M), "the Nomad job runs the same command"


def test_the_dagster_jobs_run_the_dagster_image() -> None:
    """deploy/dagster/Dockerfile builds the one image of the three Dagster jobs: the pipelines' set, no API."""
    dockerfile = (DEPLOY / "dagster" / "Dockerfile").read_text(encoding="utf-8")
    assert "--require-hashes --no-deps -r locks/pipelines.txt" in dockerfile
    for copied in ("locks/pipelines.txt", "packages/vietmarket-core", "vietmarket_pipelines", "dagster.yaml"):
        assert re.search(rf"^COPY {re.escape(copied)} ", dockerfile, re.M), copied
    assert not re.search(r"^COPY .*(history-api|history_api|locks/dev\.txt)", dockerfile, re.M)
    cmd = re.search(r"^CMD (\[.*\])$", dockerfile, re.M)
    assert cmd, "no CMD"
    (code_task,) = tasks(groups(job_of(load_hcl(JOBS_DIR / "dagster-code.nomad.hcl"))[1])[0][1])
    config = one(code_task[1]["config"])
    assert json.loads(cmd.group(1)) == [config["command"], *config["args"]], "the image's default is the code server"
    for job in ("dagster-code", "dagster-webserver", "dagster-daemon"):
        path = JOBS_DIR / f"{job}.nomad.hcl"
        assert variable_defaults(load_hcl(path))["image"] == "vietmarket/dagster:latest", job
    assert "deploy/dagster/Dockerfile" in (JOBS_DIR / "dagster-code.nomad.hcl").read_text(encoding="utf-8")
    assert "deploy/dagster/Dockerfile" in (DEPLOY / "nomad" / "README.md").read_text(encoding="utf-8")
