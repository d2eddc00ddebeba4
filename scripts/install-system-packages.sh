#!/usr/bin/env bash
# Installs the Debian packages the project needs, only those missing, so a second run is fast.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

# core: PostgreSQL 15 server and headers plus the TimescaleDB build chain.
packages=(postgresql-15 postgresql-client-15 postgresql-server-dev-15 postgresql-contrib
  gcc make cmake dpkg-dev libssl-dev libkrb5-dev python3-venv ca-certificates curl
  # the end-to-end tests look at the UI in the system Chromium (never a downloaded browser)
  chromium fonts-dejavu-core
  # the History API: the chart's npm package, and wrk for its load benchmark
  nodejs wrk
  # the local HA harness and its failover test: real etcd, HAProxy and Patroni
  etcd-server haproxy patroni
  # pgBackRest: WAL archive, full and differential backups, the restore drill
  pgbackrest
  # the container tests: Debian's Docker engine and compose v1, and debootstrap for the base image
  docker.io docker-compose debootstrap)
# Extra groups requested by later steps, e.g. EXTRA_PACKAGES="wrk chromium".
read -r -a extra <<<"${EXTRA_PACKAGES:-}"
packages+=("${extra[@]}")

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]} == 0)); then
  log "system packages present"
  exit 0
fi

need_root "$@"
log "installing system packages: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq || die "apt-get update failed: is a Debian mirror reachable?"
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/tmp/vietmarket-apt.log 2>&1 \
  || { tail -20 /tmp/vietmarket-apt.log; die "apt-get install failed for: ${missing[*]}"; }
# Debian's postgresql package creates and starts a system cluster on 5432; the project runs its
# own cluster and never touches that one, but it must not hold the project's port either.
# Debian's own nodejs ships npm separately; NodeSource's includes it.
if ! command -v npm >/dev/null; then
  apt-get install -y -qq --no-install-recommends npm >/tmp/vietmarket-apt.log 2>&1 \
    || { tail -20 /tmp/vietmarket-apt.log; die "apt-get install npm failed"; }
fi
log "system packages installed"
