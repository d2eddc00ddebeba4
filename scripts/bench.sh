#!/usr/bin/env bash
# Runs the benchmarks at full size against the project cluster and prints their figures.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
if [[ -z "${VIETMARKET_EXTERNAL_DB:-}" ]]; then
  set -a
  # shellcheck disable=SC1091
  source "$VM_DATA_DIR/stack.env"
  set +a
fi
cd "$REPO_ROOT"
mkdir -p artifacts
log "paging benchmark (full market: 1,600 tickers; several minutes to load ~58M bars)"
"$VENV/bin/python" -m benchmarks.paging --json artifacts/bench-paging.json "$@"
