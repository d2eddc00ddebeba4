#!/usr/bin/env bash
# Builds the Apache-2 TimescaleDB extension for PostgreSQL 15 from Debian trixie's source package.
# Debian 12 ships no timescaledb package; trixie's source builds cleanly against PG 15.
# Skipped when the extension is already installed. Uses a private apt source list so the
# system's apt configuration is never touched.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

PG_MAJOR="${PG_MAJOR:-15}"
PG_LIB="/usr/lib/postgresql/${PG_MAJOR}/lib"
PG_EXT="/usr/share/postgresql/${PG_MAJOR}/extension"

if [[ -f "${PG_LIB}/timescaledb.so" && -f "${PG_EXT}/timescaledb.control" ]]; then
  log "timescaledb already installed for PostgreSQL ${PG_MAJOR}: $(grep default_version "${PG_EXT}/timescaledb.control")"
  exit 0
fi

need_root
for tool in gcc make cmake pg_config; do
  command -v "$tool" >/dev/null || [[ -x "/usr/lib/postgresql/${PG_MAJOR}/bin/$tool" ]] \
    || die "build tool '$tool' missing; run scripts/install-system-packages.sh first"
done
[[ -f "/usr/include/postgresql/${PG_MAJOR}/server/postgres.h" ]] \
  || die "postgresql-server-dev-${PG_MAJOR} headers missing; run scripts/install-system-packages.sh first"

mirror=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
[[ -n "$mirror" ]] || mirror=$(awk '/^deb / {print $2; exit}' /etc/apt/sources.list 2>/dev/null || true)
[[ -n "$mirror" ]] || die "cannot find a Debian mirror in /etc/apt/sources.list.d/debian.sources or /etc/apt/sources.list"

work=$(mktemp -d /tmp/timescaledb-build.XXXXXX)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/lists/partial"
echo "deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] ${mirror} trixie main" >"$work/sources.list"
apt_private=(-oDir::State::Lists="$work/lists" -oDir::Etc::SourceList="$work/sources.list" -oDir::Etc::SourceParts=/dev/null -oAPT::Sandbox::User=root)

log "fetching timescaledb source from ${mirror} (trixie)"
apt-get "${apt_private[@]}" -qq update || die "apt-get update of the trixie source list failed"
(cd "$work" && apt-get "${apt_private[@]}" -qq source --download-only timescaledb) \
  || die "apt-get source timescaledb failed"
(cd "$work" && dpkg-source -x --no-check ./timescaledb_*.dsc src >/dev/null) || die "unpacking timescaledb source failed"

log "building timescaledb (Apache-only) against PostgreSQL ${PG_MAJOR}"
export PATH="/usr/lib/postgresql/${PG_MAJOR}/bin:$PATH"
(
  cd "$work/src"
  ./bootstrap -DREGRESS_CHECKS=OFF -DTAP_CHECKS=OFF -DWARNINGS_AS_ERRORS=OFF \
    -DAPACHE_ONLY=ON -DCMAKE_BUILD_TYPE=Release -DPG_CONFIG="/usr/lib/postgresql/${PG_MAJOR}/bin/pg_config" >"$work/bootstrap.log" 2>&1 \
    || { tail -30 "$work/bootstrap.log"; exit 1; }
  make -C build -j"$(nproc)" install >"$work/make.log" 2>&1 || { tail -40 "$work/make.log"; exit 1; }
) || die "timescaledb build failed (log tail above)"

[[ -f "${PG_LIB}/timescaledb.so" ]] || die "build finished but ${PG_LIB}/timescaledb.so is missing"
log "timescaledb installed: $(grep default_version "${PG_EXT}/timescaledb.control")"
