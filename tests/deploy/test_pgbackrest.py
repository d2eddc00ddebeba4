"""Static checks of the pgBackRest set-up: the one config template, the Nomad jobs that use it, and the runbook.

No Nomad here, so the specs are parsed (as in test_nomad_specs.py); the template is rendered with exactly the
values each job gives it and checked by pgBackRest itself (`pgbackrest ... help` rejects an invalid option).
The restore drill (tests/failover/test_restore_drill.py) runs the runbook's restore section; this checks the
section lists the drill's commands, in its order.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.deploy.test_nomad_specs import (
    DEPLOY,
    JOBS_DIR,
    go_template_skeleton,
    groups,
    heredoc,
    job_of,
    labelled,
    load_hcl,
    one,
    resolve,
    tasks,
    template_data,
    variable_defaults,
)
from tests.failover.harness import RESTORE_SEQUENCE
from tests.modules import load_by_path

PGBR = DEPLOY / "pgbackrest"
TEMPLATE = PGBR / "pgbackrest.conf.tmpl"
RUNBOOK = DEPLOY / "nomad" / "HA_TIMESCALE_RUNBOOK.md"
DATABASE_IMAGE = "vietmarket/timescaledb-ha:latest"


RENDER = DEPLOY / "common" / "render.py"


def load_template() -> Any:
    """The template with the rules its `# render:` lines state, through deploy/common/render.py."""
    return load_by_path("vietmarket_render", RENDER).load(TEMPLATE)


conf_template = load_template()


def job(name: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """(the parsed document, its only task) of a one-group, one-task job."""
    doc = load_hcl(JOBS_DIR / f"{name}.nomad.hcl")
    ((_, group),) = groups(job_of(doc)[1])
    ((_, task),) = tasks(group)
    return doc, task


def pgbr_env(doc: dict[str, Any], task: dict[str, Any]) -> dict[str, str]:
    """The task's PGBR_<NAME> variables as the template's placeholder values."""
    env = {k: resolve(str(v), doc) for k, v in one(task["env"]).items()}
    values: dict[str, str] = conf_template.from_env(env)
    return values


def ini(text: str) -> dict[str, dict[str, str]]:
    out: dict[str, dict[str, str]] = {}
    section = ""
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if m := re.fullmatch(r"\[(.+)\]", line):
            section = m.group(1)
            continue
        key, _, value = line.partition("=")
        out.setdefault(section, {})[key] = value
    return out


def patroni_params() -> dict[str, Any]:
    doc, task = job("timescaledb-ha")
    patroni = yaml.safe_load(go_template_skeleton(template_data(doc, task, "secrets/patroni.yml")))
    params: dict[str, Any] = patroni["bootstrap"]["dcs"]["postgresql"]["parameters"]
    return params


def test_the_template_is_nomad_safe_and_every_placeholder_is_known() -> None:
    text = TEMPLATE.read_text(encoding="utf-8")
    assert "{{" not in text and "{{" not in RENDER.read_text(encoding="utf-8"), (
        "Nomad's template engine must pass both files unchanged"
    )
    names = conf_template.placeholders
    assert {"STANZA", "REPO_PATH", "RETENTION_FULL", "RETENTION_DIFF", "PG_DATA", "PG_SOCKET_DIR"} <= set(names)
    with pytest.raises(ValueError, match="no value for"):
        conf_template.render({})
    with pytest.raises(ValueError, match="unsafe"):
        conf_template.render({"REPO_PATH": "/x y", "PG_DATA": "/d", "PG_SOCKET_DIR": "/s"})


@pytest.mark.parametrize("name", ["timescaledb-ha", "timescaledb-backup"])
def test_each_job_renders_the_one_template_for_the_same_cluster(name: str, tmp_path: Path) -> None:
    doc, task = job(name)
    values = pgbr_env(doc, task)
    config = ini(conf_template.render(values))
    ha_values = pgbr_env(*job("timescaledb-ha"))
    # One stanza, one repository, one data directory: the archive and the backups are of the same cluster.
    assert values["STANZA"] == ha_values["STANZA"] == "vietmarket"
    assert config["global"]["repo1-path"] == "/var/lib/pgbackrest"
    assert config["vietmarket"]["pg1-path"] == "/home/postgres/pgdata/data"
    mounts = {m["volume"]: m["destination"] for m in task["volume_mount"]}
    assert mounts["pgbackrest-repo"] == config["global"]["repo1-path"]
    assert config["vietmarket"]["pg1-path"].startswith(mounts["timescaledb-data"] + "/")
    # The socket pgBackRest connects to is one PostgreSQL listens on.
    sockets = patroni_params()["unix_socket_directories"].split(",")
    assert config["vietmarket"]["pg1-socket-path"] in sockets
    if shutil.which("pgbackrest"):
        # pgBackRest itself reads the rendered file: an unknown or misplaced option is a warning on any command.
        path = tmp_path / "pgbackrest.conf"
        path.write_text(conf_template.render(values), encoding="utf-8")
        done = subprocess.run(
            ["pgbackrest", f"--config={path}", "--stanza=vietmarket", f"--repo1-path={tmp_path}/repo",
             "--log-level-file=off", f"--lock-path={tmp_path}", "info"],
            capture_output=True, text=True, timeout=30,
        )  # fmt: skip
        output = done.stdout + done.stderr
        assert "invalid" not in output and "WARN" not in output, output
        assert "missing stanza path" in output, output  # it read the config and looked for the repository


def test_the_cluster_archives_its_wal_with_pgbackrest() -> None:
    params = patroni_params()
    assert params["archive_mode"] == "on"
    assert params["archive_command"] == "pgbackrest --stanza=vietmarket archive-push %p"
    assert 0 < int(params["archive_timeout"]) <= 300, "archive_timeout bounds the RPO of a restore"


def test_the_backup_job_uses_pgbackrest_full_weekly_diff_daily_with_retention() -> None:
    doc, task = job("timescaledb-backup")
    _, batch = job_of(doc)
    assert batch["type"] == "batch"
    periodic = one(batch["periodic"])
    assert periodic["crons"] == ["30 1 * * *"] and periodic["prohibit_overlap"] is True
    defaults = variable_defaults(doc)
    assert defaults["image"] == DATABASE_IMAGE, "the backup job runs the database image (its pgBackRest)"
    assert one(task["config"])["image"] == "${var.image}"
    ((_, group),) = groups(batch)
    assert group["count"] == 2, "one allocation beside each Patroni member"
    # The config is the shared template, shipped verbatim with its renderer.
    by_dest = {t["destination"]: t for t in task["template"]}
    assert by_dest["local/pgbackrest.conf.tmpl"]["data"] == '${file("deploy/pgbackrest/pgbackrest.conf.tmpl")}'
    assert by_dest["local/render.py"]["data"] == '${file("deploy/common/render.py")}'
    config = ini(conf_template.render(pgbr_env(doc, task)))
    assert config["global"]["repo1-retention-full"] == str(defaults["retention_full"])
    assert config["global"]["repo1-retention-diff"] == str(defaults["retention_diff"])
    script = heredoc(by_dest["local/backup.sh"]["data"])
    assert "pg_basebackup" not in script
    assert "http://127.0.0.1:8008/primary" in script, "only the leader's node backs up"
    assert '--type="$type"' in script and " backup" in script
    assert "type=full" in script and "type=diff" in script and "$FULL_WEEKDAY" in script
    assert 1 <= int(defaults["full_weekday"]) <= 7
    done = subprocess.run(["bash", "-n"], input=script, capture_output=True, text=True, timeout=10)
    assert done.returncode == 0, done.stderr


def runbook_restore_commands() -> list[str]:
    text = RUNBOOK.read_text(encoding="utf-8")
    m = re.search(r"^## Restore from pgBackRest\n(.*?)(?=^## |\Z)", text, re.S | re.M)
    assert m, f'{RUNBOOK.name} has no "## Restore from pgBackRest" section'
    return re.findall(r"`scripts/ha\.sh ([a-z][a-z -]*?)`", m.group(1))


def test_the_runbook_restore_section_is_the_drills_sequence() -> None:
    assert tuple(runbook_restore_commands()) == RESTORE_SEQUENCE


def test_every_pgbackrest_host_volume_is_declared_where_it_is_mounted() -> None:
    for name in ("timescaledb-ha", "timescaledb-backup"):
        doc = load_hcl(JOBS_DIR / f"{name}.nomad.hcl")
        ((_, group),) = groups(job_of(doc)[1])
        volumes = dict(labelled(group["volume"]))
        assert volumes["pgbackrest-repo"]["type"] == "host", name
        assert volumes["pgbackrest-repo"]["read_only"] is False, f"{name}: the repository is written to"


def harness_patroni_bootstrap() -> dict[str, Any]:
    text = (DEPLOY / "ha-local" / "patroni.yml.tmpl").read_text(encoding="utf-8")
    filled = re.sub(r"\$\{[A-Z_]+\}", "X", text)
    bootstrap: dict[str, Any] = yaml.safe_load(filled)["bootstrap"]
    return bootstrap


def test_nomad_restores_through_the_same_patroni_bootstrap_as_the_drill() -> None:
    doc, task = job("timescaledb-ha")
    patroni = yaml.safe_load(go_template_skeleton(template_data(doc, task, "secrets/patroni.yml")))
    nomad, harness = patroni["bootstrap"], harness_patroni_bootstrap()
    assert variable_defaults(doc)["bootstrap_method"] == nomad["method"] == "initdb", "a new cluster by default"
    for key in ("keep_existing_recovery_conf", "no_params"):
        assert nomad["pgbackrest"][key] is harness["pgbackrest"][key] is True, key
    assert set(nomad["pgbackrest"]["recovery_conf"]) == set(harness["pgbackrest"]["recovery_conf"])
    recovery = nomad["pgbackrest"]["recovery_conf"]
    assert recovery["recovery_target_timeline"] == "latest" and recovery["recovery_target_action"] == "promote"
    assert recovery["restore_command"] == 'pgbackrest --stanza=vietmarket archive-get %f "%p"'
    assert "pgbackrest --stanza=vietmarket restore" in nomad["pgbackrest"]["command"]
