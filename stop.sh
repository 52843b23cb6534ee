#!/usr/bin/env bash
# Stops the api-proxy started by `./start.sh --background`: SIGTERM, then waits while it finishes
# in-flight requests (up to SHUTDOWN_TIMEOUT_SECS) and writes its last call logs.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"

PID_FILE=data/api-proxy.pid
# The server drains for up to SHUTDOWN_TIMEOUT_SECS (default 30); allow a little more.
WAIT_SECS=$(( ${SHUTDOWN_TIMEOUT_SECS:-30} + 15 ))

pid=$(cat "$PID_FILE" 2>/dev/null || true)
if [[ -z "$pid" ]]; then
    echo "api-proxy is not running ($PID_FILE not found)"
    exit 0
fi
if ! kill -0 "$pid" 2>/dev/null; then
    echo "api-proxy is not running (removing stale $PID_FILE)"
    rm -f "$PID_FILE"
    exit 0
fi
# The pid may have been reused by another program since api-proxy exited.
if [[ "$(ps -p "$pid" -o comm= 2>/dev/null)" != api-proxy* ]]; then
    echo "pid $pid is not api-proxy (removing stale $PID_FILE)"
    rm -f "$PID_FILE"
    exit 0
fi

kill -TERM "$pid"
printf 'stopping api-proxy (pid %s)' "$pid"
deadline=$((SECONDS + WAIT_SECS))
while kill -0 "$pid" 2>/dev/null; do
    if ((SECONDS >= deadline)); then
        echo
        echo "api-proxy (pid $pid) is still running after ${WAIT_SECS}s; kill -9 $pid forces it" >&2
        exit 1
    fi
    printf '.'
    sleep 0.5
done
rm -f "$PID_FILE"
echo " stopped"
