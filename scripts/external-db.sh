#!/usr/bin/env bash
# Points the stack at an existing PostgreSQL + TimescaleDB instead of the project cluster:
# checks the four URLs are set, applies the schema and migrations there, and records the env.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

for var in VIETMARKET_ADMIN_PG_URL VIETMARKET_PG_URL HISTORY_API_PG_URL DAGSTER_PG_URL; do
  [[ -n "${!var:-}" ]] || die "VIETMARKET_EXTERNAL_DB is set, so $var must be set too (see README.md)"
done
"$VENV/bin/vietmarket-db" migrate || die "applying the schema to the external database failed"
log "external database ready; the login role behind VIETMARKET_PG_URL needs vietmarket_writer, the one behind HISTORY_API_PG_URL vietmarket_reader"
