#!/usr/bin/env bash
# Re-resolves the workspace (uv.lock) and exports each pinned set, with hashes, to locks/*.txt;
# `--check` changes nothing and fails when uv.lock or any locks/*.txt is not what they would be.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$REPO_ROOT"
uv="$VENV/bin/uv"
[[ -x "$uv" ]] || die "no uv in $VENV: run scripts/venv.sh first (uv is in the dev set)"
check=""
[[ "${1:-}" == "--check" ]] && check=1
# The check compares against another directory when asked (tests corrupt a copy to prove it can fail).
locks_dir="${LOCKS_DIR:-$REPO_ROOT/locks}"

# The one list of pinned sets: name, then uv export's selection flags.
SETS=(
  "pipelines --package vietmarket-pipelines --no-dev"
  "history-api --package history-api --no-dev"
  "client --package vietmarket-client --no-dev"
  "dev --all-packages --group dev"
)
# To stdout, not -o: uv writes its command line into the header, and a path there would make the
# check's output differ from the committed file's.
export_set() {
  "$uv" export --frozen --no-emit-workspace --format requirements-txt -q "$@"
}

if [[ -n "$check" ]]; then
  "$uv" lock --check || die "uv.lock does not match the pyproject.toml files: run make lock"
  stale=0
  for set in "${SETS[@]}"; do
    read -r name flags <<<"$set"
    # shellcheck disable=SC2086
    if ! diff -u "$locks_dir/$name.txt" <(export_set $flags) >&2; then
      warn "locks/$name.txt is not the export of uv.lock"
      stale=1
    fi
  done
  [[ $stale -eq 0 ]] || die "stale lock files: run make lock and commit the result"
  log "uv.lock and locks/{pipelines,history-api,client,dev}.txt are up to date"
  exit 0
fi

"$uv" lock ${UPGRADE:+--upgrade} || die "uv lock failed (is PyPI reachable?)"
mkdir -p "$locks_dir"
for set in "${SETS[@]}"; do
  read -r name flags <<<"$set"
  # shellcheck disable=SC2086
  export_set $flags >"$locks_dir/$name.txt.tmp" || die "uv export of locks/$name.txt failed"
  mv "$locks_dir/$name.txt.tmp" "$locks_dir/$name.txt"
done
log "uv.lock and locks/{pipelines,history-api,client,dev}.txt updated; commit them"
