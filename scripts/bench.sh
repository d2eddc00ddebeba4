#!/usr/bin/env bash
# Runs the benchmarks at full size against the project cluster and prints their figures.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
load_stack_env
cd "$REPO_ROOT"
mkdir -p artifacts
if [[ "${1:-}" == "api" ]]; then
  log "History API: /candles?limit=500 under wrk at 64 connections vs the asyncpg-only floor"
  exec "$VENV/bin/python" -m benchmarks.history_api --json artifacts/bench-api.json
fi
log "write path: 2M bars, upsert vs raw COPY vs the old execute_values upsert"
"$VENV/bin/python" -m benchmarks.write_path --json artifacts/bench-write.json
log "restatement detection: overlap reads and comparisons of a whole-market tick, one 25-year replacement"
"$VENV/bin/python" -m benchmarks.restatement --json artifacts/bench-restatement.json
log "whole market through Dagster: daily backfill and one latest tick against the simulator"
"$VENV/bin/python" -m benchmarks.market_backfill --json artifacts/bench-market.json
log "paging: 1,600 tickers, ~58M bars (several minutes to load)"
"$VENV/bin/python" -m benchmarks.paging --json artifacts/bench-paging.json
log "repair job: the anchor probe over every simulated stock's 1d history, one in five mixed, vs the request floor"
"$VENV/bin/python" -m benchmarks.repair_job --json artifacts/bench-repair.json
log "export: peak RSS of the History API streaming 25 years of 1d for 1,600 tickers in each format"
"$VENV/bin/python" -m benchmarks.export --json artifacts/bench-export.json
