#!/usr/bin/env bash
# The local HA harness: a real 3-member etcd, 2 Patroni-managed PostgreSQL 15 + TimescaleDB nodes
# and HAProxy (config rendered from the one shared template), all on loopback ports, state in
# .data/ha (git-ignored).  Never touches the project cluster on 55432.
#
#   scripts/ha.sh start    start whatever is not running (idempotent), bootstrap, wait until healthy
#   scripts/ha.sh stop     Patroni (which stops postgres), then HAProxy, then etcd; nothing left behind
#   scripts/ha.sh status   patronictl list, etcd health, where HAProxy's ports lead
#   scripts/ha.sh clean    stop, then delete the harness's state
#
# Backups (pgBackRest, config from deploy/pgbackrest/pgbackrest.conf.tmpl; repository in
# .data/ha/nodes/pgbackrest/repo; HA_TIMESCALE_RUNBOOK.md "Restore from pgBackRest" is this sequence):
#   scripts/ha.sh backup full|diff   a backup taken on the current leader (retention expires old ones)
#   scripts/ha.sh backup-info        pgbackrest info: backups, and the archived WAL range
#   scripts/ha.sh archive-check      pgbackrest check on the leader: a WAL switch reaches the repository
#   scripts/ha.sh destroy            stop, then delete the nodes' data and etcd's state; keeps the repository
#   scripts/ha.sh restore [OPTS]     a new cluster from the repository: pg1 restored by Patroni's pgbackrest
#                                    bootstrap (OPTS: pgbackrest restore options, default: replay all archived
#                                    WAL; e.g. --type=time "--target=2026-01-02 03:04:05+00"), then pg2 cloned
#
# Ports (override through the environment):
#   HA_LEADER_PORT 15433 (read-write, leader only)   HA_REPLICA_PORT 15434 (read-only replicas)
#   HA_STATS_PORT 17433   HA_PG_PORT_1/2 15441/15442   HA_REST_PORT_1/2 18008/18009
#   HA_ETCD_PORT_BASE 12379: member i listens on base+2(i-1) (clients) and base+2(i-1)+1 (peers)
#   HA_ARCHIVE_TIMEOUT 10 (s): PostgreSQL's archive_timeout, the bound on what a restore from the archive
#     loses (the restore drill asserts its RPO against it).  Production's value is in timescaledb-ha.nomad.hcl.
#   HA_STANZA vietmarket   HA_RETENTION_FULL 2   HA_RETENTION_DIFF 3
# Writes .data/ha/secrets.env (mode 600) and .data/ha/stack.env (the URLs), plus cluster.json.
set -Eeuo pipefail
source "$(dirname "$0")/lib.sh"

HA_DIR="${HA_DIR:-$VM_DATA_DIR/ha}"
HA_SCOPE="${HA_SCOPE:-vietmarket-ha}"
HA_LEADER_PORT="${HA_LEADER_PORT:-15433}"
HA_REPLICA_PORT="${HA_REPLICA_PORT:-15434}"
HA_STATS_PORT="${HA_STATS_PORT:-17433}"
HA_PG_PORT_1="${HA_PG_PORT_1:-15441}"
HA_PG_PORT_2="${HA_PG_PORT_2:-15442}"
HA_REST_PORT_1="${HA_REST_PORT_1:-18008}"
HA_REST_PORT_2="${HA_REST_PORT_2:-18009}"
HA_ETCD_PORT_BASE="${HA_ETCD_PORT_BASE:-12379}"
HA_TTL="${HA_TTL:-10}"
HA_LOOP_WAIT="${HA_LOOP_WAIT:-2}"
HA_RETRY_TIMEOUT="${HA_RETRY_TIMEOUT:-4}"
HA_START_TIMEOUT="${HA_START_TIMEOUT:-120}"
HA_STOP_TIMEOUT="${HA_STOP_TIMEOUT:-40}"
HA_ARCHIVE_TIMEOUT="${HA_ARCHIVE_TIMEOUT:-10}"
HA_STANZA="${HA_STANZA:-vietmarket}"
HA_RETENTION_FULL="${HA_RETENTION_FULL:-2}"
HA_RETENTION_DIFF="${HA_RETENTION_DIFF:-3}"
HA_SECRETS="$HA_DIR/secrets.env"
HA_RUN="$HA_DIR/run"
HA_LOGS="$HA_DIR/logs"
HACTL="$REPO_ROOT/deploy/ha-local/hactl.py"
# Debian packages of the harness (patroni 3.0.2 brings python3-etcd, which its etcd3 client needs).
HA_PACKAGES="etcd-server haproxy patroni pgbackrest"

STEP="init"
trap 'rc=$?; printf "\033[1;31m[vietmarket ha] error:\033[0m step \"%s\" failed (exit %s)\n" "$STEP" "$rc" >&2' ERR
step() {
  STEP="$1"
  log "ha: $1"
}
fail() { die "ha: step \"$STEP\": $*"; }

# The postgres OS user runs Patroni and PostgreSQL; it cannot enter a repo under e.g. /root, so the
# nodes then live in /var/lib/vietmarket/<repo hash>/ha and .data/ha/nodes links there (as db.sh).
resolve_node_root() {
  mkdir -p "$HA_DIR"
  HA_NODE_ROOT="$HA_DIR/nodes"
  if [[ $(id -u) -eq 0 ]] && ! runuser -u postgres -- test -x "$HA_DIR"; then
    HA_NODE_ROOT="/var/lib/vietmarket/$(echo -n "$REPO_ROOT" | sha256sum | cut -c1-12)/ha"
    mkdir -p "$HA_NODE_ROOT"
    chown postgres:postgres "$HA_NODE_ROOT"
    ln -sfn "$HA_NODE_ROOT" "$HA_DIR/nodes"
  fi
  # pgBackRest's repository and its log/lock/spool directories, beside the nodes (postgres owns them).
  HA_BACKREST_DIR="$HA_NODE_ROOT/pgbackrest"
}

export_layout() {
  export HA_DIR HA_NODE_ROOT HA_SCOPE HA_LEADER_PORT HA_REPLICA_PORT HA_STATS_PORT HA_PG_PORT_1 HA_PG_PORT_2 \
    HA_REST_PORT_1 HA_REST_PORT_2 HA_ETCD_PORT_BASE HA_TTL HA_LOOP_WAIT HA_RETRY_TIMEOUT HA_START_TIMEOUT PG_BIN \
    HA_ARCHIVE_TIMEOUT HA_STANZA HA_RETENTION_FULL HA_RETENTION_DIFF HA_BACKREST_DIR
}
hactl() { "$VENV/bin/python" "$HACTL" "$@"; }
as_postgres() { # the postgres OS user runs pgBackRest, as it runs PostgreSQL (the files are its own)
  if [[ $(id -u) -eq 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi
}

# --- process bookkeeping: every process is started through `launch`, which records its pid --------
pid_running() { # pid_running PID -> 0 while the process exists and is not a zombie awaiting its reaper
  [[ "$1" =~ ^[0-9]+$ ]] && kill -0 "$1" 2>/dev/null || return 1
  local state
  state=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) || return 1
  [[ "$state" != Z ]]
}
alive() { # alive PIDFILE -> 0 when the pidfile names a live process
  [[ -s "$1" ]] && pid_running "$(cat "$1")"
}
launch() { # launch PIDFILE LOG AS_POSTGRES(0|1) CMD... : detached (own session), pid written by itself
  local pidfile=$1 logf=$2 as_pg=$3
  shift 3
  local prefix=()
  if [[ $as_pg == 1 && $(id -u) -eq 0 ]]; then
    prefix=(setpriv --reuid=postgres --regid=postgres --init-groups --reset-env)
  fi
  # The inner shell writes its own pid, then exec's the program: the pidfile names the real process.
  setsid bash -c 'echo $$ >"$0"; cd /; exec "$@"' "$pidfile" "${prefix[@]}" "$@" >>"$logf" 2>&1 </dev/null &
  local deadline=$((SECONDS + 5))
  until [[ -s "$pidfile" ]]; do
    ((SECONDS < deadline)) || fail "no pid written to $pidfile"
    sleep 0.05
  done
}
stop_pidfile() { # stop_pidfile PIDFILE NAME SIGNAL TIMEOUT
  local pidfile=$1 name=$2 sig=$3 timeout=$4
  if ! alive "$pidfile"; then
    rm -f "$pidfile"
    return 0
  fi
  local pid
  pid=$(cat "$pidfile")
  kill "-$sig" "$pid" 2>/dev/null || true
  local deadline=$((SECONDS + timeout))
  while pid_running "$pid"; do
    if ((SECONDS >= deadline)); then
      warn "$name (pid $pid) did not stop within ${timeout}s; killing it"
      kill -KILL "$pid" 2>/dev/null || true
      sleep 0.5
      break
    fi
    sleep 0.2
  done
  rm -f "$pidfile"
  log "ha: stopped $name"
}

check_port() { # check_port PORT WHAT
  port_free "$1" || fail "port $1 ($2) is in use by another program; set the HA_* port variables (see scripts/ha.sh)"
}

# --- start -----------------------------------------------------------------------------------------
ensure_packages() {
  step "system packages (${HA_PACKAGES})"
  local missing=0
  for bin in etcd haproxy patroni patronictl pgbackrest; do command -v "$bin" >/dev/null || missing=1; done
  if ((missing)); then
    EXTRA_PACKAGES="$HA_PACKAGES" bash "$REPO_ROOT/scripts/install-system-packages.sh" \
      || fail "installing $HA_PACKAGES failed"
  fi
  command -v setpriv >/dev/null || fail "setpriv (util-linux) is missing"
  [[ -x "$PG_BIN/postgres" ]] || fail "PostgreSQL ${PG_MAJOR} missing at $PG_BIN; run scripts/install-system-packages.sh"
  [[ -f "/usr/lib/postgresql/${PG_MAJOR}/lib/timescaledb.so" ]] || fail "timescaledb is not installed; run scripts/build-timescaledb.sh"
  [[ -x "$VENV/bin/python" ]] || fail "the project venv is missing; run scripts/venv.sh"
}

ensure_secrets() {
  step "secrets ($HA_SECRETS)"
  if [[ ! -f "$HA_SECRETS" ]]; then
    (
      umask 077
      for name in HA_SUPERUSER_PASSWORD HA_REPLICATION_PASSWORD HA_REWIND_PASSWORD HA_INGEST_PASSWORD HA_API_PASSWORD; do
        echo "$name=$(head -c 18 /dev/urandom | base64 | tr -d '+/=')"
      done >"$HA_SECRETS"
    )
  fi
  chmod 600 "$HA_SECRETS"
  set -a
  # shellcheck disable=SC1090
  source "$HA_SECRETS"
  set +a
}

start_etcd() {
  step "etcd (3 members)"
  local cluster="" i
  for i in 1 2 3; do
    cluster+="${cluster:+,}e$i=http://127.0.0.1:$((HA_ETCD_PORT_BASE + 2 * (i - 1) + 1))"
  done
  for i in 1 2 3; do
    local client=$((HA_ETCD_PORT_BASE + 2 * (i - 1))) peer=$((HA_ETCD_PORT_BASE + 2 * (i - 1) + 1))
    local pidfile="$HA_RUN/etcd-e$i.pid"
    alive "$pidfile" && continue
    check_port "$client" "etcd e$i clients"
    check_port "$peer" "etcd e$i peers"
    mkdir -p "$HA_DIR/etcd/e$i"
    chmod 700 "$HA_DIR/etcd/e$i"
    launch "$pidfile" "$HA_LOGS/etcd-e$i.log" 0 etcd --name "e$i" --data-dir "$HA_DIR/etcd/e$i" \
      --listen-client-urls "http://127.0.0.1:$client" --advertise-client-urls "http://127.0.0.1:$client" \
      --listen-peer-urls "http://127.0.0.1:$peer" --initial-advertise-peer-urls "http://127.0.0.1:$peer" \
      --initial-cluster "$cluster" --initial-cluster-token "$HA_SCOPE" --initial-cluster-state new \
      --heartbeat-interval 100 --election-timeout 1000 --logger zap --log-level warn
  done
  step "etcd healthy"
  hactl wait-etcd || fail "etcd did not become healthy"
}

start_node() { # start_node I: Patroni of node pgI, unless it runs
  local i=$1
  step "patroni pg$i"
  local node_dir="$HA_NODE_ROOT/pg$i" pidfile="$HA_RUN/patroni-pg$i.pid"
  alive "$pidfile" && return 0
  local pg_port_var="HA_PG_PORT_$i" rest_port_var="HA_REST_PORT_$i"
  # A postmaster orphaned by a killed Patroni holds the port; the new Patroni adopts it.
  postmaster_alive "$node_dir/data" || check_port "${!pg_port_var}" "PostgreSQL pg$i"
  check_port "${!rest_port_var}" "Patroni REST pg$i"
  mkdir -p "$node_dir/run" "$node_dir/log"
  local rendered
  rendered=$(hactl render-patroni "$i") || fail "rendering patroni.yml for pg$i"
  (umask 077 && printf '%s\n' "$rendered" >"$node_dir/patroni.yml")
  rendered=$(hactl render-pgbackrest "$i") || fail "rendering pgbackrest.conf for pg$i"
  (umask 077 && printf '%s\n' "$rendered" >"$node_dir/pgbackrest.conf")
  ensure_backrest_dirs
  if [[ $(id -u) -eq 0 ]]; then
    chown -R postgres:postgres "$node_dir"
    runuser -u postgres -- test -w "$node_dir" || fail "the postgres OS user cannot write $node_dir"
  fi
  chmod 700 "$node_dir"
  [[ ! -d "$node_dir/data" ]] || chmod 700 "$node_dir/data"
  launch "$pidfile" "$HA_LOGS/patroni-pg$i.log" 1 /usr/bin/patroni "$node_dir/patroni.yml"
}

ensure_backrest_dirs() {
  mkdir -p "$HA_BACKREST_DIR"/{repo,log,lock,spool}
  if [[ $(id -u) -eq 0 ]]; then chown -R postgres:postgres "$HA_BACKREST_DIR"; fi
  chmod 750 "$HA_BACKREST_DIR" "$HA_BACKREST_DIR/repo"
}

start_patroni() {
  # After a full stop, the leader at that time (stopped last, so it has every commit) starts first
  # and takes the lock before the other node can: a cold start never elects a node that is behind.
  local first=1 leader
  if [[ -s "$HA_RUN/last-leader" ]] && ! alive "$HA_RUN/patroni-pg1.pid" && ! alive "$HA_RUN/patroni-pg2.pid"; then
    first=$(tr -dc 0-9 <"$HA_RUN/last-leader")
    [[ "$first" == 1 || "$first" == 2 ]] || first=1
    start_node "$first"
    step "pg$first (the last leader) takes the lock"
    leader=$(hactl wait-leader) || fail "pg$first did not become the leader again"
  fi
  start_node 1
  start_node 2
  step "a Patroni leader"
  leader=$(hactl wait-leader) || fail "no Patroni leader was elected"
  log "ha: leader is $leader"
}

start_haproxy() {
  step "haproxy config (from $(hactl haproxy-source))"
  local cfg="$HA_DIR/haproxy.cfg" pidfile="$HA_RUN/haproxy.pid" rendered
  rendered=$(hactl render-haproxy) || fail "rendering the HAProxy config"
  local changed=1
  [[ -f "$cfg" ]] && [[ "$(cat "$cfg")" == "$rendered" ]] && changed=0
  printf '%s\n' "$rendered" >"$cfg.new"
  haproxy -c -q -f "$cfg.new" >"$HA_LOGS/haproxy-check.log" 2>&1 \
    || { cat "$HA_LOGS/haproxy-check.log" >&2; fail "haproxy -c rejected the rendered config ($cfg.new)"; }
  mv "$cfg.new" "$cfg"
  step "haproxy"
  if alive "$pidfile"; then
    ((changed)) || return 0
    log "ha: haproxy config changed; restarting haproxy"
    stop_pidfile "$pidfile" haproxy TERM 10
  fi
  check_port "$HA_LEADER_PORT" "HAProxy leader port"
  check_port "$HA_REPLICA_PORT" "HAProxy replica port"
  check_port "$HA_STATS_PORT" "HAProxy stats"
  # -db: stay in the foreground, so the pidfile `launch` writes is HAProxy's own pid.
  launch "$pidfile" "$HA_LOGS/haproxy.log" 0 haproxy -db -f "$cfg"
}

start() {
  ensure_packages
  resolve_node_root
  mkdir -p "$HA_RUN" "$HA_LOGS"
  ensure_secrets
  export_layout
  start_etcd
  start_patroni
  start_haproxy
  step "HAProxy :$HA_LEADER_PORT routes to the leader"
  hactl wait-haproxy || fail "HAProxy does not route the leader port to the leader"
  step "bootstrap (database vietmarket, schema via vietmarket-db migrate, login roles)"
  hactl bootstrap | sed 's/^/[vietmarket ha] /' || fail "bootstrap through the leader failed"
  step "pgbackrest stanza $HA_STANZA (repository $HA_BACKREST_DIR/repo)"
  stanza_create
  step "a streaming replica behind :$HA_REPLICA_PORT"
  hactl wait-replica >/dev/null || fail "no streaming replica"
  hactl write-cluster-json
  STEP="status"
  hactl status || true
  log "ha: up; URLs in $HA_DIR/stack.env (writer :$HA_LEADER_PORT, reader :$HA_REPLICA_PORT), passwords in $HA_SECRETS"
}

# --- pgBackRest -------------------------------------------------------------------------------------
leader_node() { # the pgN that leads now
  local leader
  leader=$(HA_START_TIMEOUT=20 hactl wait-leader) || fail "no Patroni leader (is the harness running? scripts/ha.sh status)"
  [[ "$leader" =~ ^pg[12]$ ]] || fail "unexpected leader name '$leader'"
  echo "$leader"
}
backrest() { # backrest NODE ARGS...: pgbackrest with NODE's config (its pg1 is NODE's own PostgreSQL)
  local node=$1
  shift
  as_postgres pgbackrest --config="$HA_NODE_ROOT/$node/pgbackrest.conf" --stanza="$HA_STANZA" "$@"
}
stanza_create() {
  # Idempotent: an existing stanza of the same cluster (system id) is accepted as is.
  local leader
  leader=$(leader_node)
  backrest "$leader" stanza-create >"$HA_LOGS/pgbackrest-stanza.log" 2>&1 \
    || { cat "$HA_LOGS/pgbackrest-stanza.log" >&2; fail "pgbackrest stanza-create on $leader"; }
}
backrest_layout() {
  resolve_node_root
  export_layout
  [[ -f "$HA_SECRETS" ]] || fail "the harness was never started ($HA_SECRETS missing)"
  mkdir -p "$HA_LOGS"
  set -a
  # shellcheck disable=SC1090
  source "$HA_SECRETS"
  set +a
}
backup() { # backup full|diff|incr
  local type=${1:-}
  [[ "$type" =~ ^(full|diff|incr)$ ]] || die "usage: scripts/ha.sh backup full|diff|incr"
  backrest_layout
  step "pgbackrest $type backup"
  local leader
  leader=$(leader_node)
  log "ha: $type backup on the leader $leader"
  # Retention (repo1-retention-full / -diff) expires older backups, and the WAL only they need, after it.
  backrest "$leader" --type="$type" --log-level-console=info backup || fail "pgbackrest $type backup on $leader"
}
backup_info() {
  backrest_layout
  step "pgbackrest info"
  backrest pg1 info "$@" || fail "pgbackrest info"
}
archive_check() {
  backrest_layout
  step "pgbackrest check"
  local leader
  leader=$(leader_node)
  # check forces a WAL switch on the leader and waits until that segment is in the repository.
  backrest "$leader" --log-level-console=info check || fail "pgbackrest check on the leader $leader"
  log "ha: WAL archiving from the leader $leader works"
}

destroy() {
  # The disaster the restore drill recovers from: the cluster is gone (its nodes' data and the DCS),
  # only the pgBackRest repository and the harness's secrets remain.
  stop
  step "delete the nodes' data directories and etcd's state (keep $HA_BACKREST_DIR)"
  rm -rf "$HA_NODE_ROOT/pg1" "$HA_NODE_ROOT/pg2" "$HA_DIR/etcd" "$HA_RUN" "$HA_DIR/haproxy.cfg" \
    "$HA_DIR/stack.env" "$HA_DIR/cluster.json"
  log "ha: cluster destroyed; the repository in $HA_BACKREST_DIR/repo is kept"
}

restore() { # restore [pgbackrest restore options]
  resolve_node_root
  export_layout
  ensure_packages
  step "restore: preconditions"
  [[ -f "$HA_SECRETS" ]] || fail "$HA_SECRETS is missing: the restored roles' passwords are in it"
  for i in 1 2; do
    alive "$HA_RUN/patroni-pg$i.pid" && fail "patroni pg$i is running: scripts/ha.sh destroy first"
    [[ ! -e "$HA_NODE_ROOT/pg$i/data" ]] || fail "$HA_NODE_ROOT/pg$i/data exists: scripts/ha.sh destroy first"
  done
  [[ ! -d "$HA_DIR/etcd" ]] || fail "etcd's state $HA_DIR/etcd exists (the old cluster's): scripts/ha.sh destroy first"
  mkdir -p "$HA_RUN" "$HA_LOGS"
  ensure_secrets
  ensure_backrest_dirs
  # The nodes' configs do not exist yet: pg1's, rendered now, names the repository.
  mkdir -p "$HA_NODE_ROOT/pg1"
  hactl render-pgbackrest 1 >"$HA_NODE_ROOT/pg1/pgbackrest.conf" || fail "rendering pgbackrest.conf for pg1"
  if [[ $(id -u) -eq 0 ]]; then chown -R postgres:postgres "$HA_NODE_ROOT/pg1"; fi
  step "restore: a backup in the repository"
  backrest pg1 info >"$HA_LOGS/pgbackrest-info.log" 2>&1 || { cat "$HA_LOGS/pgbackrest-info.log" >&2; fail "pgbackrest info"; }
  grep -q "full backup" "$HA_LOGS/pgbackrest-info.log" \
    || { cat "$HA_LOGS/pgbackrest-info.log" >&2; fail "no full backup in $HA_BACKREST_DIR/repo"; }
  start_etcd
  step "restore: pg1 bootstraps from pgBackRest (restore, WAL replay, promotion)"
  local opts=""
  (($# == 0)) || opts=$(printf '%q ' "$@") # hactl shlex-splits it back into the same words
  HA_BOOTSTRAP_METHOD=pgbackrest HA_RESTORE_OPTIONS="$opts" start_node 1
  hactl wait-leader >/dev/null || fail "pg1 did not come up as the leader of the restored cluster (see $HA_LOGS/patroni-pg1.log)"
  # pg1's patroni.yml goes back to initdb: its bootstrap section is only read while the scope is empty.
  local rendered
  rendered=$(hactl render-patroni 1) || fail "rendering patroni.yml for pg1"
  (umask 077 && printf '%s\n' "$rendered" >"$HA_NODE_ROOT/pg1/patroni.yml")
  if [[ $(id -u) -eq 0 ]]; then chown postgres:postgres "$HA_NODE_ROOT/pg1/patroni.yml"; fi
  log "ha: pg1 restored and leading; starting the rest (pg2 clones it)"
  start
}

# --- stop ------------------------------------------------------------------------------------------
postmaster_alive() { # postmaster_alive DATA_DIR
  [[ -s "$1/postmaster.pid" ]] && pid_running "$(head -1 "$1/postmaster.pid")"
}
stop_node_postgres() { # a postmaster Patroni no longer manages (e.g. Patroni was killed) is stopped here
  local data="$1" pid
  postmaster_alive "$data" || return 0
  pid=$(head -1 "$data/postmaster.pid")
  warn "postgres in $data (pid $pid) outlived its Patroni; stopping it"
  if [[ $(id -u) -eq 0 ]]; then
    runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$data" -m fast -w -t 20 stop >/dev/null 2>&1 || kill -KILL "$pid" 2>/dev/null || true
  else
    "$PG_BIN/pg_ctl" -D "$data" -m fast -w -t 20 stop >/dev/null 2>&1 || kill -KILL "$pid" 2>/dev/null || true
  fi
}

stop() {
  resolve_node_root
  export_layout
  mkdir -p "$HA_RUN" # stopping a harness that never started (or was cleaned) is a no-op, not an error
  step "stop patroni (replicas first, then the leader; each stops its postgres)"
  local roles order
  roles=$(hactl roles 2>/dev/null || true)
  order=$(awk '{print $1}' <<<"$roles")
  [[ -n "$order" ]] || order=$'pg2\npg1'
  # The leader stops last; remember it, so the next cold start elects it again.
  awk '$2 == "leader" || $2 == "master" {print $1}' <<<"$roles" >"$HA_RUN/last-leader.new"
  if [[ -s "$HA_RUN/last-leader.new" ]]; then mv "$HA_RUN/last-leader.new" "$HA_RUN/last-leader"; else rm -f "$HA_RUN/last-leader.new"; fi
  for name in $order pg1 pg2; do
    stop_pidfile "$HA_RUN/patroni-$name.pid" "patroni $name" TERM "$HA_STOP_TIMEOUT"
  done
  for i in 1 2; do stop_node_postgres "$HA_NODE_ROOT/pg$i/data"; done
  step "stop haproxy"
  stop_pidfile "$HA_RUN/haproxy.pid" haproxy TERM 10
  step "stop etcd"
  for i in 1 2 3; do stop_pidfile "$HA_RUN/etcd-e$i.pid" "etcd e$i" TERM 15; done
  step "no processes left behind"
  local left
  left=$(leftovers)
  if [[ -n "$left" ]]; then
    warn "killing leftover processes: $(tr '\n' ' ' <<<"$left")"
    xargs -r kill -KILL <<<"$left" 2>/dev/null || true
    sleep 0.5
    left=$(leftovers)
    [[ -z "$left" ]] || fail "processes still running after stop: $(ps -o pid=,args= -p "$(paste -sd, <<<"$left")")"
  fi
  log "ha: stopped; nothing left running"
}
leftovers() { # pids of the harness's programs still running out of its directories, or its postgres
  local pid comm
  {
    pgrep -f -- "$HA_DIR/" || true
    [[ "$HA_NODE_ROOT" == "$HA_DIR/nodes" ]] || pgrep -f -- "$HA_NODE_ROOT/" || true
    pgrep -f -- "^postgres: $HA_SCOPE: " || true
  } | sort -u | while read -r pid; do
    comm=$(cat "/proc/$pid/comm" 2>/dev/null) || continue
    # Only the harness's own programs: never an editor or a `tail -f` on one of its logs.
    [[ "$comm" =~ ^(etcd|haproxy|patroni|postgres|pgbackrest|python3?)$ ]] && echo "$pid"
  done
}

status() {
  STEP="status"
  resolve_node_root
  export_layout
  [[ -f "$HA_SECRETS" ]] || { echo "not started ($HA_SECRETS missing)"; exit 3; }
  set -a
  # shellcheck disable=SC1090
  source "$HA_SECRETS"
  set +a
  local name
  for f in "$HA_RUN"/*.pid; do
    [[ -e "$f" ]] || continue
    name=$(basename "$f" .pid)
    if alive "$f"; then echo "$name: running (pid $(cat "$f"))"; else echo "$name: not running"; fi
  done
  hactl status || exit $?
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  clean)
    stop
    resolve_node_root
    rm -rf "$HA_NODE_ROOT" "$HA_DIR"
    log "ha: removed $HA_DIR"
    ;;
  backup) backup "${2:-}" ;;
  backup-info) backup_info "${@:2}" ;;
  archive-check) archive_check ;;
  destroy) destroy ;;
  restore) restore "${@:2}" ;;
  *) die "usage: scripts/ha.sh start|stop|status|clean|backup full|diff|backup-info|archive-check|destroy|restore [OPTS]" ;;
esac
