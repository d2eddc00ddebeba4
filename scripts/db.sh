#!/usr/bin/env bash
# Owns the project's PostgreSQL 15 + TimescaleDB cluster: init, start, stop, status, env.
# The data directory lives inside the repo (git-ignored) and listens on its own loopback port,
# so the system cluster is never touched.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

as_owner() {
  # postgres refuses to run as root; as root the cluster belongs to the 'postgres' OS user, from /
  # (it may not enter the repo's directory, and every path given here is absolute).
  if [[ $(id -u) -eq 0 ]]; then (cd / && runuser -u postgres -- "$@"); else "$@"; fi
}
resolve_dirs() {
  mkdir -p "$VM_DATA_DIR"
  # The server runs as the 'postgres' OS user, which cannot enter a repo under e.g. /root.
  # Then the cluster lives in /var/lib/vietmarket/<repo hash> and .data/pg links to it.
  if [[ $(id -u) -eq 0 ]] && ! runuser -u postgres -- test -x "$VM_DATA_DIR"; then
    local home
    home="/var/lib/vietmarket/$(echo -n "$REPO_ROOT" | sha256sum | cut -c1-12)"
    mkdir -p "$home"
    chown postgres:postgres "$home"
    VM_PG_DATA="$home/pg"
    VM_PG_RUN="$home/run"
    ln -sfn "$VM_PG_DATA" "$VM_DATA_DIR/pg"
  fi
}
psql_admin() { as_owner "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$VM_PG_RUN" -p "$VM_PG_PORT" -U postgres "$@"; }
running() { [[ -f "$VM_PG_DATA/postmaster.pid" ]] && as_owner "$PG_BIN/pg_ctl" -D "$VM_PG_DATA" status >/dev/null 2>&1; }

ensure_secrets() {
  mkdir -p "$VM_DATA_DIR"
  if [[ ! -f "$VM_SECRETS" ]]; then
    umask 077
    {
      for name in VM_ADMIN_PASSWORD VM_INGEST_PASSWORD VM_API_PASSWORD VM_DAGSTER_PASSWORD; do
        echo "$name=$(head -c 18 /dev/urandom | base64 | tr -d '+/=')"
      done
    } >"$VM_SECRETS"
    log "generated local database passwords in $VM_SECRETS (git-ignored, mode 600)"
  fi
  # shellcheck disable=SC1090
  source "$VM_SECRETS"
}

init_cluster() {
  [[ -x "$PG_BIN/initdb" ]] || die "PostgreSQL ${PG_MAJOR} server binaries missing at $PG_BIN; run scripts/install-system-packages.sh"
  [[ -f "/usr/lib/postgresql/${PG_MAJOR}/lib/timescaledb.so" ]] || die "timescaledb is not installed; run scripts/build-timescaledb.sh"
  mkdir -p "$VM_PG_DATA" "$VM_PG_RUN"
  if [[ $(id -u) -eq 0 ]]; then
    chown postgres:postgres "$VM_PG_DATA" "$VM_PG_RUN"
    runuser -u postgres -- test -w "$VM_PG_DATA" || die "the postgres OS user cannot write $VM_PG_DATA"
  fi
  chmod 700 "$VM_PG_DATA"
  local pwfile
  pwfile=$(mktemp)
  echo "$VM_ADMIN_PASSWORD" >"$pwfile"
  [[ $(id -u) -eq 0 ]] && chown postgres "$pwfile"
  log "initialising cluster in $VM_PG_DATA"
  as_owner "$PG_BIN/initdb" -D "$VM_PG_DATA" -U postgres --pwfile="$pwfile" -A scram-sha-256 \
    --auth-local=peer -E UTF8 --locale=C.UTF-8 >"$VM_DATA_DIR/initdb.log" 2>&1 \
    || { rm -f "$pwfile"; tail -20 "$VM_DATA_DIR/initdb.log"; die "initdb failed"; }
  rm -f "$pwfile"
  # Local socket access is for the cluster's OS owner only; every client uses TCP with a password.
  cat >"$VM_PG_DATA/pg_hba.conf" <<HBA
local all postgres peer
host  all all 127.0.0.1/32 scram-sha-256
host  all all ::1/128      scram-sha-256
HBA
  cat >>"$VM_PG_DATA/postgresql.conf" <<CONF

# --- VietMarket project cluster ---
listen_addresses = '127.0.0.1'
port = ${VM_PG_PORT}
unix_socket_directories = '${VM_PG_RUN}'
shared_preload_libraries = 'timescaledb'
timescaledb.telemetry_level = off
max_connections = 200
shared_buffers = 1GB
work_mem = 16MB
maintenance_work_mem = 512MB
max_wal_size = 8GB
checkpoint_timeout = 15min
max_worker_processes = 16
timezone = 'UTC'
log_timezone = 'UTC'
logging_collector = off
CONF
}

start() {
  ensure_secrets
  [[ -f "$VM_PG_DATA/PG_VERSION" ]] || init_cluster
  if running; then
    log "cluster already running on 127.0.0.1:${VM_PG_PORT}"
  else
    port_free "$VM_PG_PORT" || die "port ${VM_PG_PORT} is in use by another program; set VM_PG_PORT to a free port"
    as_owner "$PG_BIN/pg_ctl" -D "$VM_PG_DATA" -l "$VM_PG_RUN/postgres.log" -w -t 60 start >/dev/null \
      || { tail -20 "$VM_PG_RUN/postgres.log"; die "PostgreSQL failed to start (log tail above)"; }
    log "cluster started on 127.0.0.1:${VM_PG_PORT}"
  fi
  bootstrap_roles
  write_env
  migrate
}

migrate() {
  [[ -x "$VENV/bin/vietmarket-db" ]] || die "venv missing; run scripts/venv.sh first"
  set -a
  # shellcheck disable=SC1091
  source "$VM_DATA_DIR/stack.env"
  set +a
  "$VENV/bin/vietmarket-db" migrate | sed 's/^/[vietmarket-db] /' || die "schema migration failed"
  # Group roles come from schema.sql, so membership is granted once it has run.
  psql_admin -d vietmarket -c 'SET client_min_messages = warning' \
    -c 'GRANT vietmarket_writer TO vm_ingest' -c 'GRANT vietmarket_reader TO vm_api'
}

bootstrap_roles() {
  # Login roles and databases; group roles and grants live in schema.sql.
  psql_admin -d postgres \
    -v ingest_pw="$VM_INGEST_PASSWORD" -v api_pw="$VM_API_PASSWORD" -v dagster_pw="$VM_DAGSTER_PASSWORD" <<'SQL'
SELECT format('CREATE ROLE %I LOGIN', r) FROM unnest(ARRAY['vm_ingest','vm_api','vm_dagster']) r
 WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = r) \gexec
ALTER ROLE vm_ingest PASSWORD :'ingest_pw';
ALTER ROLE vm_api PASSWORD :'api_pw';
ALTER ROLE vm_dagster PASSWORD :'dagster_pw';
ALTER ROLE vm_api SET default_transaction_read_only = on;
SELECT 'CREATE DATABASE vietmarket' WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = 'vietmarket') \gexec
SELECT 'CREATE DATABASE dagster OWNER vm_dagster' WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = 'dagster') \gexec
SQL
}

write_env() {
  local host="127.0.0.1:${VM_PG_PORT}"
  umask 077
  cat >"$VM_DATA_DIR/stack.env" <<ENV
VIETMARKET_ADMIN_PG_URL=postgresql://postgres:${VM_ADMIN_PASSWORD}@${host}/vietmarket
VIETMARKET_PG_URL=postgresql://vm_ingest:${VM_INGEST_PASSWORD}@${host}/vietmarket
HISTORY_API_PG_URL=postgresql://vm_api:${VM_API_PASSWORD}@${host}/vietmarket
DAGSTER_PG_URL=postgresql://vm_dagster:${VM_DAGSTER_PASSWORD}@${host}/dagster
ENV
}

stop() {
  if running; then
    as_owner "$PG_BIN/pg_ctl" -D "$VM_PG_DATA" -m fast -w stop >/dev/null || die "pg_ctl stop failed"
    log "cluster stopped"
  else
    log "cluster not running"
  fi
}

resolve_dirs
case "${1:-}" in
  start) start ;;
  migrate) ensure_secrets; migrate ;;
  stop) stop ;;
  status) if running; then echo "running on 127.0.0.1:${VM_PG_PORT}"; else echo "stopped"; exit 3; fi ;;
  *) die "usage: scripts/db.sh start|stop|status" ;;
esac
