#!/usr/bin/env bash
# Builds api-proxy with its dashboard and runs it. Needs a Rust toolchain only: the dashboard comes
# from the build shipped in the repository (scripts/build-release.sh), so a first start takes a few
# minutes of compiling and a second one seconds.
#
#   ./start.sh                 in the foreground (Ctrl-C stops it gracefully)
#   ./start.sh -d|--background in the background: pid in data/api-proxy.pid, log in data/api-proxy.log;
#                              waits until /api/health answers, then prints the URL. ./stop.sh stops it.
#
# Settings come from the environment and ./.env (read by the binary itself; see .env.example).
# This always uses the native build, even where Docker runs: `docker compose up -d` is the
# alternative (see README.md).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"

background=0
for arg in "$@"; do
    case "$arg" in
        -d | --background) background=1 ;;
        -h | --help)
            sed -n '2,12s/^# \{0,1\}//p' "$0"
            exit 0
            ;;
        *)
            echo "start.sh: unknown option $arg (use -d/--background or -h/--help)" >&2
            exit 2
            ;;
    esac
done

PID_FILE=data/api-proxy.pid
LOG_FILE=data/api-proxy.log
READY_TIMEOUT_SECS=30

# A setting as the binary will see it: the environment first, then the last NAME=value in ./.env.
setting() {
    local name=$1 value=${!1-}
    if [[ -z "$value" && -f .env ]]; then
        value=$(sed -n "s/^[[:space:]]*\(export[[:space:]]\+\)\{0,1\}$name[[:space:]]*=[[:space:]]*//p" .env | tail -n 1)
        value=${value%\"}
        value=${value#\"}
        value=${value%\'}
        value=${value#\'}
    fi
    printf '%s' "$value"
}

running_pid() {
    local pid
    pid=$(cat "$PID_FILE" 2>/dev/null || true)
    if [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null && [[ "$(ps -p "$pid" -o comm= 2>/dev/null)" == api-proxy* ]]; then
        printf '%s' "$pid"
    fi
}

if pid=$(running_pid) && [[ -n "$pid" ]]; then
    echo "api-proxy is already running (pid $pid); stop it with ./stop.sh" >&2
    exit 1
fi

# The same build as the Docker image's (scripts/build-release.sh), with the `start` profile.
./scripts/build-release.sh --profile start
BIN="${CARGO_TARGET_DIR:-target}/start/api-proxy"

# Where the admin token is, for the instructions printed below.
admin_token_hint() {
    if [[ -n "$(setting ADMIN_TOKEN)" ]]; then
        printf '%s' 'the ADMIN_TOKEN you set (environment or .env)'
        return
    fi
    local data_dir database
    data_dir=$(setting DATA_DIR)
    if [[ -z "$data_dir" ]]; then
        database=$(setting DATABASE_PATH)
        data_dir=$(dirname "${database:-./data/api-proxy.db}")
    fi
    printf '%s' "${data_dir%/}/admin.token"
}

# The one command that makes the gateway useful: adding a provider key.
add_key_hint() {
    local url=$1 token
    if [[ -n "$(setting ADMIN_TOKEN)" ]]; then
        token='$ADMIN_TOKEN'
    else
        token="\$(cat $(admin_token_hint))"
    fi
    echo "  add a key:    curl -s $url/api/keys -H \"Authorization: Bearer $token\" \\"
    echo "                  -H 'Content-Type: application/json' -d '{\"provider\": \"openai\", \"name\": \"personal\", \"api_key\": \"sk-...\"}'"
    local host
    host=$(setting HOST)
    if [[ "${host:-127.0.0.1}" =~ ^(127\.|::1$|localhost$) && "$(setting REQUIRE_CLIENT_KEYS)" != true &&
        -z "$(setting ALLOWED_HOSTS)$(setting CORS_ORIGINS)" ]]; then
        echo "  then:         any OpenAI client with base_url $url/v1 (from this machine, any api_key)"
    else
        echo "  then:         any OpenAI client with base_url $url/v1 and a client key (POST /api/client_keys, see README.md)"
    fi
}

if [[ $background -eq 0 ]]; then
    port=$(setting PORT)
    url="http://127.0.0.1:${port:-3000}"
    [[ "$port" == 0 ]] && url="http://127.0.0.1:PORT"   # the port is in the "listening on" line
    echo "api-proxy: $url (dashboard; sign in with the admin token)"
    echo "  admin token:  $(admin_token_hint)"
    add_key_hint "$url"
    exec "$BIN"
fi

# The data folder holds the database, the master key and the admin token: owner only.
mkdir -p -m 700 data
touch "$LOG_FILE"
chmod 600 "$LOG_FILE"
log_start=$(wc -c < "$LOG_FILE")
NO_COLOR=1 nohup "$BIN" >> "$LOG_FILE" 2>&1 < /dev/null &
pid=$!
echo "$pid" > "$PID_FILE"

# Wait for this run's "api-proxy listening on http://…" line, then for /api/health to answer.
url=""
ready=0
deadline=$((SECONDS + READY_TIMEOUT_SECS))
while ((SECONDS < deadline)); do
    if ! kill -0 "$pid" 2>/dev/null; then
        rm -f "$PID_FILE"
        echo "api-proxy exited during start-up; from $LOG_FILE:" >&2
        tail -c "+$((log_start + 1))" "$LOG_FILE" | head -n 20 >&2
        exit 1
    fi
    if [[ -z "$url" ]]; then
        url=$(tail -c "+$((log_start + 1))" "$LOG_FILE" |
            grep -ao 'api-proxy listening on http://[^[:space:][:cntrl:]]*' | head -n 1 |
            sed 's/^api-proxy listening on //; s#//0\.0\.0\.0:#//127.0.0.1:#; s#//\[::\]:#//[::1]:#' || true)
    fi
    if [[ -n "$url" ]] && curl -fsS --max-time 2 "$url/api/health" > /dev/null 2>&1; then
        ready=1
        break
    fi
    sleep 0.5
done
if ((ready == 0)); then
    echo "api-proxy (pid $pid) did not answer $url/api/health within ${READY_TIMEOUT_SECS}s; see $LOG_FILE" >&2
    exit 1
fi

echo "api-proxy is running in the background (pid $pid)"
echo "  URL:          $url   (dashboard; OpenAI-compatible endpoint: $url/v1)"
echo "  admin token:  $(admin_token_hint)"
add_key_hint "$url"
echo "  log:          $LOG_FILE"
echo "  stop:         ./stop.sh"
