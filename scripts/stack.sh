#!/usr/bin/env bash
# Starts and stops the long-running services of `make run`: Dagster webserver and daemon, History API.
# Each runs in its own process group with a pidfile, so `stop` ends exactly what `start` began.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

RUN_DIR="$VM_DATA_DIR/services"
LOG_DIR="$VM_DATA_DIR/log"
DAGSTER_PORT="${DAGSTER_PORT:-3000}"
HISTORY_API_PORT="${HISTORY_API_PORT:-8787}"
SIMULATOR_PORT="${SIMULATOR_PORT:-8765}"
export DAGSTER_HOME="${DAGSTER_HOME:-$VM_DATA_DIR/dagster_home}"
# A whole-market run materializes ~1,600 partitions: write their events in batches, not one
# INSERT each (Dagster reads this in every process, including run workers).
export DAGSTER_EVENT_BATCH_SIZE="${DAGSTER_EVENT_BATCH_SIZE:-500}"

load_env() {
  load_stack_env
  for var in VIETMARKET_PG_URL DAGSTER_PG_URL; do
    [[ -n "${!var:-}" ]] || die "$var is not set"
  done
}

alive() { [[ -f "$RUN_DIR/$1.pid" ]] && kill -0 "$(cat "$RUN_DIR/$1.pid")" 2>/dev/null; }
SERVICES=(history-api dagster-daemon dagster-webserver simulator)
any_alive() { local name; for name in "${SERVICES[@]}"; do alive "$name" && return 0; done; return 1; }

launch() { # name port command...
  local name=$1 port=$2
  shift 2
  if alive "$name"; then
    log "$name already running (pid $(cat "$RUN_DIR/$name.pid"))"
    return
  fi
  [[ -z "$port" ]] || port_free "$port" || die "port $port needed by $name is in use by another program"
  setsid "$@" >"$LOG_DIR/$name.log" 2>&1 </dev/null &
  echo $! >"$RUN_DIR/$name.pid"
}

wait_http() { # name url
  for _ in $(seq 1 120); do
    if curl -fsS -o /dev/null "$2" 2>/dev/null; then return 0; fi
    alive "$1" || { tail -30 "$LOG_DIR/$1.log"; die "$1 exited during start-up (log tail above)"; }
    sleep 0.5
  done
  tail -30 "$LOG_DIR/$1.log"
  die "$1 did not answer at $2 within 60 s"
}

start() {
  load_env
  mkdir -p "$RUN_DIR" "$LOG_DIR" "$DAGSTER_HOME"
  local mode="live"
  [[ -n "${VIETMARKET_DEMO:-}" ]] && mode="demo"
  [[ "$mode" == "demo" ]] && export VIETMARKET_SIMULATOR_URL="http://127.0.0.1:${SIMULATOR_PORT}"
  # Dagster's processes read their settings when they start: a second `make run` with other
  # settings says what changed and restarts them, rather than silently keeping the old ones.
  local settings
  settings=$(
    printf 'mode: %s\ndagster port: %s\nhistory api port: %s\n' "$mode" "$DAGSTER_PORT" "$HISTORY_API_PORT"
    "$VENV/bin/python" -m vietmarket_pipelines.settings
  ) || die "could not read the code location's settings"
  if [[ -f "$RUN_DIR/settings" ]] && [[ "$(cat "$RUN_DIR/settings")" != "$settings" ]] && any_alive; then
    warn "the running services were started with other settings; restarting them with the new ones:"
    diff <(cat "$RUN_DIR/settings") <(echo "$settings") | sed -n 's/^</  was: /p; s/^>/  now: /p' >&2 || true
    stop
  fi
  echo "$settings" >"$RUN_DIR/settings"
  if [[ "$mode" == "demo" ]]; then
    launch simulator "$SIMULATOR_PORT" "$VENV/bin/python" -m vietmarket_pipelines.simulator --port "$SIMULATOR_PORT"
    wait_http simulator "$VIETMARKET_SIMULATOR_URL/_sim/health"
    log "Simulator:    $VIETMARKET_SIMULATOR_URL (every provider points here)"
  fi
  ln -sf "$REPO_ROOT/dagster.yaml" "$DAGSTER_HOME/dagster.yaml"
  cd "$REPO_ROOT"
  launch dagster-webserver "$DAGSTER_PORT" "$VENV/bin/dagster-webserver" -h 127.0.0.1 -p "$DAGSTER_PORT" -w workspace.yaml
  launch dagster-daemon "" "$VENV/bin/dagster-daemon" run -w workspace.yaml
  if [[ -f "$REPO_ROOT/packages/history-api/src/history_api/__main__.py" ]]; then
    # A local key file unless the caller brought keys: the service refuses to run without one.
    if [[ -z "${HISTORY_API_KEYS:-}${API_KEY:-}${HISTORY_API_KEYS_FILE:-}" ]]; then
      export HISTORY_API_KEYS_FILE="$VM_DATA_DIR/history-api.keys"
      if [[ ! -s "$HISTORY_API_KEYS_FILE" ]]; then
        (umask 077 && "$VENV/bin/python" -c 'import secrets; print(secrets.token_urlsafe(32))' >"$HISTORY_API_KEYS_FILE")
        log "generated a local History API key in $HISTORY_API_KEYS_FILE (git-ignored, mode 600)"
      fi
    fi
    HISTORY_API_PG_URL="${HISTORY_API_PG_URL:-}" PORT="$HISTORY_API_PORT" \
      launch history-api "$HISTORY_API_PORT" "$VENV/bin/python" -m history_api
  fi
  wait_http dagster-webserver "http://127.0.0.1:${DAGSTER_PORT}/server_info"
  alive dagster-daemon || { tail -30 "$LOG_DIR/dagster-daemon.log"; die "dagster-daemon exited"; }
  log "Dagster UI:   http://127.0.0.1:${DAGSTER_PORT}"
  if alive history-api; then
    wait_http history-api "http://127.0.0.1:${HISTORY_API_PORT}/healthz"
    log "History API:  http://127.0.0.1:${HISTORY_API_PORT}  (OpenAPI: /schema; key: ${HISTORY_API_KEYS_FILE:-from your environment})"
  fi
  log "TimescaleDB:  $(redact "$VIETMARKET_PG_URL")"
  grep -E '^(provider|convex)' <<<"$settings" | sed 's/^/              /' >&2
  log "logs in $LOG_DIR; stop everything with: make stop"
}

stop() {
  for name in "${SERVICES[@]}"; do
    if alive "$name"; then
      local pid
      pid=$(cat "$RUN_DIR/$name.pid")
      kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid"
      for _ in $(seq 1 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
      kill -0 "$pid" 2>/dev/null && kill -KILL -- "-$pid" 2>/dev/null
      log "stopped $name"
    fi
    rm -f "$RUN_DIR/$name.pid"
  done
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  *) die "usage: scripts/stack.sh start|stop" ;;
esac
