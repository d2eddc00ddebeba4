#!/usr/bin/env bash
# Re-resolves the workspace (uv.lock) and exports each pinned set, with hashes, to locks/*.txt.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$REPO_ROOT"
uv="$VENV/bin/uv"
[[ -x "$uv" ]] || die "no uv in $VENV: run scripts/venv.sh first (uv is in the dev set)"
"$uv" lock ${UPGRADE:+--upgrade} || die "uv lock failed (is PyPI reachable?)"
export_set() {  # name, then uv export's selection flags
  local name=$1; shift
  "$uv" export --frozen --no-emit-workspace --format requirements-txt -q -o "locks/$name.txt" "$@" \
    || die "uv export of locks/$name.txt failed"
}
export_set pipelines --package vietmarket-pipelines --no-dev
export_set history-api --package history-api --no-dev
export_set dev --all-packages --group dev
log "uv.lock and locks/{pipelines,history-api,dev}.txt updated; commit them"
