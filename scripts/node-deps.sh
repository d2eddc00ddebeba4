#!/usr/bin/env bash
# Installs the pinned npm packages (the chart's lightweight-charts) from their lockfiles; skips when current.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

command -v npm >/dev/null || die "npm is missing; run scripts/install-system-packages.sh"
for dir in packages/history-api/src/history_api/chart; do
  root="$REPO_ROOT/$dir"
  stamp="$root/node_modules/.vietmarket-lock.sha256"
  want=$(sha256sum "$root/package-lock.json" | cut -d' ' -f1)
  if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
    log "npm packages up to date ($dir)"
    continue
  fi
  log "installing npm packages for $dir"
  (cd "$root" && npm ci --no-audit --no-fund --loglevel=error) || die "npm ci failed in $dir (is the npm registry reachable?)"
  echo "$want" >"$stamp"
done
