#!/usr/bin/env bash
# Creates the project venv from locks/dev.txt (hash-pinned); re-installs only when a lock or pyproject changed.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

python_bin="${PYTHON:-python3}"
command -v "$python_bin" >/dev/null || die "no $python_bin on PATH; install Python 3.11 (apt-get install python3 python3-venv)"
"$python_bin" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' \
  || die "$python_bin is $("$python_bin" -V 2>&1); the project needs Python >= 3.11"

lock="$REPO_ROOT/locks/dev.txt"
projects=("$REPO_ROOT/packages/vietmarket-core" "$REPO_ROOT/packages/history-api" "$REPO_ROOT/packages/vietmarket-client" "$REPO_ROOT")
stamp="$VENV/.vietmarket-lock.sha256"
want=$(cat "$lock" "${projects[@]/%//pyproject.toml}" | sha256sum | cut -d' ' -f1)
if [[ -x "$VENV/bin/python" && -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
  log "venv up to date ($VENV)"
  exit 0
fi

if [[ ! -x "$VENV/bin/python" ]]; then
  log "creating venv at $VENV"
  "$python_bin" -m venv "$VENV" || die "python -m venv failed; on Debian install python3-venv"
fi
# --no-deps with --require-hashes: exactly the locked set, nothing resolved afresh on this machine.
log "installing the hash-pinned set in locks/dev.txt"
"$VENV/bin/pip" install -q --disable-pip-version-check --require-hashes --no-deps -r "$lock" \
  || die "pip install -r locks/dev.txt failed (is PyPI reachable? a hash mismatch means the lock is stale: make lock)"
editables=()
for p in "${projects[@]}"; do editables+=(-e "$p"); done
"$VENV/bin/pip" install -q --disable-pip-version-check --no-deps "${editables[@]}" >"$VENV/editable-install.log" 2>&1 \
  || { tail -20 "$VENV/editable-install.log"; die "installing the workspace packages in editable mode failed"; }
"$VENV/bin/pip" check >"$VENV/pip-check.log" 2>&1 \
  || { cat "$VENV/pip-check.log"; die "the installed set is inconsistent; re-run make lock"; }
echo "$want" >"$stamp"
log "venv ready"
