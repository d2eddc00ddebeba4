#!/usr/bin/python3
"""The database image's entrypoint: `patroni` alone renders patroni.yml from the environment; anything else runs as is.

    patroni                        render $PATRONI_CONFIG_FILE (/tmp/patroni.yml) from the environment, exec Patroni
    patroni /secrets/patroni.yml   the Nomad job's own templated file: exec Patroni on it unchanged
    pgbackrest ... / psql ... / bash ...   exec'd as given

Rendering from the environment (docker run, compose): Patroni itself reads PATRONI_* variables over its file, so
the file written here holds only structure and defaults, and never a password. The passwords stay in the
environment (PATRONI_SUPERUSER_PASSWORD, PATRONI_REPLICATION_PASSWORD, PATRONI_REWIND_PASSWORD, and
PATRONI_RESTAPI_PASSWORD for the REST API's unsafe endpoints), where Patroni reads them.

Required: PATRONI_NAME, PATRONI_ETCD3_HOSTS, PATRONI_RESTAPI_CONNECT_ADDRESS, PATRONI_POSTGRESQL_CONNECT_ADDRESS and
the three PostgreSQL passwords. Optional: PATRONI_SCOPE (vietmarket), PATRONI_RESTAPI_LISTEN (0.0.0.0:8008),
PATRONI_POSTGRESQL_LISTEN (0.0.0.0:5432), VM_PG_HBA_CIDR (who may connect over TCP, 127.0.0.1/32),
VM_SYNCHRONOUS_MODE (true), VM_SHARED_BUFFERS (1GB).

WAL archive: with PGBR_STANZA set (with the other PGBR_* values of deploy/pgbackrest/pgbackrest.conf.tmpl, the
project's one pgBackRest template, as the Nomad jobs give them), /etc/pgbackrest/pgbackrest.conf is rendered from
that template before anything runs, its log, lock and spool folders are made, and a rendered patroni.yml turns on
archive_mode with archive_command `pgbackrest --stanza=<stanza> archive-push %p`, as the Nomad job's own file does.
VM_ARCHIVE_TIMEOUT (60) bounds how old the newest archived segment can be.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

import yaml

PG_BIN = "/usr/lib/postgresql/15/bin"
# deploy/common/render.py and the template, as the image copies them.
RENDER = Path("/usr/local/lib/vietmarket/render.py")
PGBACKREST_TEMPLATE = Path("/usr/local/lib/vietmarket/pgbackrest.conf.tmpl")
PGBACKREST_CONF = Path("/etc/pgbackrest/pgbackrest.conf")
REQUIRED = (
    "PATRONI_NAME",
    "PATRONI_ETCD3_HOSTS",
    "PATRONI_RESTAPI_CONNECT_ADDRESS",
    "PATRONI_POSTGRESQL_CONNECT_ADDRESS",
    "PATRONI_SUPERUSER_PASSWORD",
    "PATRONI_REPLICATION_PASSWORD",
    "PATRONI_REWIND_PASSWORD",
)


def render(env: dict[str, str]) -> dict[str, object]:
    """Patroni's configuration for this node, without secrets (Patroni takes those from the environment)."""
    missing = [name for name in REQUIRED if not env.get(name)]
    if missing:
        raise SystemExit(f"vietmarket-db-entrypoint: render patroni.yml: missing environment: {', '.join(missing)}")
    cidr = env.get("VM_PG_HBA_CIDR", "127.0.0.1/32")
    parameters: dict[str, object] = {
        "shared_preload_libraries": "timescaledb",
        "timescaledb.telemetry_level": "off",
        "max_connections": 300,
        "shared_buffers": env.get("VM_SHARED_BUFFERS", "1GB"),
        "wal_level": "replica",
        "hot_standby": "on",
        "wal_log_hints": "on",
        "max_wal_senders": 10,
        "max_replication_slots": 10,
        "wal_keep_size": "1GB",
        "password_encryption": "scram-sha-256",
    }
    if env.get("PGBR_STANZA"):
        # Only a primary archives, so whichever member leads does; the config is the rendered template.
        parameters |= {
            "archive_mode": "on",
            "archive_command": f"pgbackrest --stanza={env['PGBR_STANZA']} archive-push %p",
            "archive_timeout": int(env.get("VM_ARCHIVE_TIMEOUT", "60")),
        }
    return {
        "scope": env.get("PATRONI_SCOPE", "vietmarket"),
        "namespace": "/service/",
        "name": env["PATRONI_NAME"],
        "restapi": {
            "listen": env.get("PATRONI_RESTAPI_LISTEN", "0.0.0.0:8008"),
            "connect_address": env["PATRONI_RESTAPI_CONNECT_ADDRESS"],
        },
        "etcd3": {"hosts": env["PATRONI_ETCD3_HOSTS"]},
        # No /dev/watchdog in a container; Patroni still demotes a primary that cannot renew its lock.
        "watchdog": {"mode": "off"},
        "bootstrap": {
            "dcs": {
                "ttl": 30,
                "loop_wait": 10,
                "retry_timeout": 10,
                "maximum_lag_on_failover": 1048576,
                "synchronous_mode": env.get("VM_SYNCHRONOUS_MODE", "true").lower() == "true",
                "postgresql": {"use_pg_rewind": True, "use_slots": True, "parameters": parameters},
            },
            "initdb": [{"encoding": "UTF8"}, "data-checksums"],
        },
        "postgresql": {
            "listen": env.get("PATRONI_POSTGRESQL_LISTEN", "0.0.0.0:5432"),
            "connect_address": env["PATRONI_POSTGRESQL_CONNECT_ADDRESS"],
            "data_dir": env.get("PGDATA", "/home/postgres/pgdata/data"),
            "bin_dir": PG_BIN,
            "pgpass": "/tmp/pgpass0",
            "remove_data_directory_on_rewind_failure": True,
            "remove_data_directory_on_diverged_timelines": True,
            # Usernames only: the passwords are PATRONI_<ROLE>_PASSWORD, read by Patroni from the environment.
            "authentication": {
                "superuser": {"username": "postgres"},
                "replication": {"username": "replicator"},
                "rewind": {"username": "rewind_user"},
            },
            "pg_hba": [
                "local all postgres peer",
                "host all postgres 127.0.0.1/32 scram-sha-256",
                f"host replication replicator {cidr} scram-sha-256",
                f"host postgres rewind_user {cidr} scram-sha-256",
                f"host all all {cidr} scram-sha-256",
            ],
        },
        "tags": {"nofailover": False, "noloadbalance": False, "clonefrom": False, "nosync": False},
    }


def render_pgbackrest(env: dict[str, str]) -> None:
    """pgbackrest.conf from the one template and the PGBR_* values, and the folders it names."""
    spec = importlib.util.spec_from_file_location("vietmarket_render", RENDER)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    try:
        template = module.load(PGBACKREST_TEMPLATE)
        values = template.from_env(env)
        config = template.render(values)
    except ValueError as exc:
        raise SystemExit(f"vietmarket-db-entrypoint: render pgbackrest.conf: {exc}") from exc
    merged = template.defaults | values
    for folder in ("LOG_PATH", "LOCK_PATH", "SPOOL_PATH"):
        Path(merged[folder]).mkdir(parents=True, exist_ok=True, mode=0o750)
    # The backup job's second socket folder, beside the data directory on the same volume.
    Path(env.get("PGDATA", "/home/postgres/pgdata/data")).parent.joinpath("run").mkdir(exist_ok=True, mode=0o700)
    PGBACKREST_CONF.write_text(config)
    PGBACKREST_CONF.chmod(template.mode)


def main(argv: list[str]) -> None:
    if not argv:
        argv = ["patroni"]
    if os.environ.get("PGBR_STANZA"):
        render_pgbackrest(dict(os.environ))
    if argv == ["patroni"]:
        target = Path(os.environ.get("PATRONI_CONFIG_FILE", "/tmp/patroni.yml"))
        config = render(dict(os.environ))
        target.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            yaml.safe_dump(config, f, sort_keys=False)
        argv = ["patroni", str(target)]
    try:
        os.execvp(argv[0], argv)
    except OSError as exc:
        raise SystemExit(f"vietmarket-db-entrypoint: cannot run {argv[0]}: {exc}") from exc


if __name__ == "__main__":
    main(sys.argv[1:])
