# Shared helpers for the set-up scripts: loud logging and failing with a clear message.
log() { printf '\033[1;34m[vietmarket]\033[0m %s\n' "$*" >&2; }
warn() { printf '\033[1;33m[vietmarket] warning:\033[0m %s\n' "$*" >&2; }
die() { printf '\033[1;31m[vietmarket] error:\033[0m %s\n' "$*" >&2; exit 1; }
need_root() {
  if [[ $(id -u) -ne 0 ]]; then
    command -v sudo >/dev/null || die "this step needs root; run as root or install sudo"
    exec sudo -E bash "$0" "$@"
  fi
}
# redact URL -> the URL with its password replaced by ***, for anything printed or logged
redact() { sed -E 's#(://[^:/@]*):[^@]*@#\1:***@#' <<<"$1"; }
# port_free PORT -> 0 when nothing listens on 127.0.0.1:PORT
port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# Locations and ports, overridable from the environment.
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PG_MAJOR="${PG_MAJOR:-15}"
PG_BIN="/usr/lib/postgresql/${PG_MAJOR}/bin"
VM_DATA_DIR="${VM_DATA_DIR:-$REPO_ROOT/.data}"
VM_PG_DATA="${VM_PG_DATA:-$VM_DATA_DIR/pg}"
VM_PG_RUN="${VM_PG_RUN:-$VM_DATA_DIR/run}"
VM_PG_PORT="${VM_PG_PORT:-55432}"
VM_SECRETS="${VM_SECRETS:-$VM_DATA_DIR/secrets.env}"
VENV="${VENV:-$REPO_ROOT/.venv}"

# load_stack_env: exports the connection URLs that scripts/db.sh wrote, unless an external
# database was configured (VIETMARKET_EXTERNAL_DB), in which case they are already set.
load_stack_env() {
  [[ -n "${VIETMARKET_EXTERNAL_DB:-}" ]] && return 0
  [[ -f "$VM_DATA_DIR/stack.env" ]] || die "$VM_DATA_DIR/stack.env missing; run scripts/db.sh start first"
  set -a
  # shellcheck disable=SC1091
  source "$VM_DATA_DIR/stack.env"
  set +a
}
