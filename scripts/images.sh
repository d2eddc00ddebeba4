#!/usr/bin/env bash
# The test run's Docker engine and image builds (deploy/docker/imagectl.py), started early so that the builds,
# which mostly wait on the mirror and PyPI, overlap the rest of the suite; the container tests run last.
#
#   scripts/images.sh prebuild   start the engine (niced, so builds yield the CPU to the tests) and build every
#                                image in the background; log in artifacts/images-build.log
#   scripts/images.sh wait       wait for the background build; exit non-zero (with the log's tail) if it failed
#   scripts/images.sh stop       remove every container and image, stop the engine, fail if anything is left
set -euo pipefail
source "$(dirname "$0")/lib.sh"

IMAGES_ROOT="${VIETMARKET_DOCKER_ROOT:-$VM_DATA_DIR/docker}"
IMAGECTL=(python3 "$REPO_ROOT/deploy/docker/imagectl.py")
PID_FILE="$IMAGES_ROOT/prebuild.pid"
STATUS_FILE="$IMAGES_ROOT/prebuild.status"
BUILD_LOG="$REPO_ROOT/artifacts/images-build.log"

case "${1:-}" in
  prebuild)
    need_root "$@"
    mkdir -p "$IMAGES_ROOT" "$REPO_ROOT/artifacts"
    nice -n 10 "${IMAGECTL[@]}" engine-start --root "$IMAGES_ROOT" >/dev/null || die "images: the Docker engine did not start"
    rm -f "$STATUS_FILE"
    (
      status=0
      nice -n 10 "${IMAGECTL[@]}" build --root "$IMAGES_ROOT" >"$BUILD_LOG" 2>&1 || status=$?
      echo "$status" >"$STATUS_FILE"
    ) </dev/null >/dev/null 2>&1 &
    echo $! >"$PID_FILE"
    log "images: building in the background (log: artifacts/images-build.log)"
    ;;
  wait)
    [[ -f "$PID_FILE" ]] || exit 0
    while kill -0 "$(cat "$PID_FILE")" 2>/dev/null; do sleep 2; done
    status=$(cat "$STATUS_FILE" 2>/dev/null || echo 1)
    if [[ "$status" != 0 ]]; then
      tail -25 "$BUILD_LOG" >&2 || true
      die "images: the background build failed (exit $status); log: artifacts/images-build.log"
    fi
    ;;
  stop)
    if [[ -f "$PID_FILE" ]]; then
      pkill -P "$(cat "$PID_FILE")" 2>/dev/null || true
      kill "$(cat "$PID_FILE")" 2>/dev/null || true
    fi
    [[ -d "$IMAGES_ROOT" ]] || exit 0
    "${IMAGECTL[@]}" engine-stop --root "$IMAGES_ROOT" || die "images: the engine left something behind"
    log "images: engine stopped; no container, image or mount left"
    ;;
  *)
    die "usage: scripts/images.sh prebuild|wait|stop"
    ;;
esac
