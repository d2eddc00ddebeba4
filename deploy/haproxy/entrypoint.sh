#!/bin/sh
# The HAProxy image's entrypoint: `haproxy ...` runs in master-worker mode in the foreground (-W -db), so the
# master reloads its workers on SIGUSR2 without dropping the listeners; any other command runs as is.
set -eu
if [ "${1:-}" = haproxy ]; then
  shift
  set -- haproxy -W -db "$@"
fi
exec "$@"
