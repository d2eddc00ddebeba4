#!/usr/bin/env bash
# Runs the test suite against the project's TimescaleDB; "no tests collected" is a failure.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

load_stack_env
[[ -n "${VIETMARKET_ADMIN_PG_URL:-}" ]] || die "VIETMARKET_ADMIN_PG_URL is not set; run scripts/db.sh start"
mkdir -p "$REPO_ROOT/artifacts"
cd "$REPO_ROOT"
# A whole run goes on two workers (most of its time waits on daemons, Patroni and Docker), whole
# units each in the order tests/conftest.py gives them, and shows where its time went: CI has a
# 30-minute budget.
[[ $# -eq 0 ]] && set -- -n "${VIETMARKET_TEST_WORKERS:-2}" --no-loadscope-reorder --durations=30
set +e
"$VENV/bin/pytest" "$@"
status=$?
set -e
if [[ $status -eq 5 ]]; then
  die "pytest collected no tests; that is a failure, not a pass"
fi
exit $status
