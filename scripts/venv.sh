#!/usr/bin/env bash
# Creates the project venv from requirements.lock; re-installs only when the lock or setup.py changed.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

python_bin="${PYTHON:-python3}"
command -v "$python_bin" >/dev/null || die "no $python_bin on PATH; install Python 3.11 (apt-get install python3 python3-venv)"
"$python_bin" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' \
  || die "$python_bin is $("$python_bin" -V 2>&1); the project needs Python >= 3.11"

stamp="$VENV/.vietmarket-lock.sha256"
want=$(cat "$REPO_ROOT/requirements.lock" "$REPO_ROOT/setup.py" | sha256sum | cut -d' ' -f1)
if [[ -x "$VENV/bin/python" && -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
  log "venv up to date ($VENV)"
  exit 0
fi

if [[ ! -x "$VENV/bin/python" ]]; then
  log "creating venv at $VENV"
  "$python_bin" -m venv "$VENV" || die "python -m venv failed; on Debian install python3-venv"
fi
log "installing pinned dependencies from requirements.lock"
"$VENV/bin/pip" install -q --disable-pip-version-check -r "$REPO_ROOT/requirements.lock" \
  || die "pip install -r requirements.lock failed (is PyPI reachable?)"
"$VENV/bin/pip" install -q --disable-pip-version-check --no-deps -e "$REPO_ROOT" >"$VENV/editable-install.log" 2>&1 \
  || { tail -20 "$VENV/editable-install.log"; die "installing the project in editable mode failed"; }
echo "$want" >"$stamp"
log "venv ready"
