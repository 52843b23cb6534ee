#!/usr/bin/env bash
# Several api-proxy instances on one PostgreSQL database against one instance on SQLite, on this
# machine (bench/run.sh runs it as its `fleet` scenario; it also runs on its own). Everything —
# mock upstream, load generators, api-proxy and PostgreSQL — shares the same cores, so
# requests per second say little about a real deployment, where the instances have machines of
# their own: the figure that carries over is the CPU time each request costs, counted over every
# process that serves it (the api-proxy instances and, on PostgreSQL, every process of the
# database server), read from /proc before and after the measured window.
#
# Scenarios (non-streamed chat, FLEET_CONCURRENCY connections split over the instances):
#   sqlite        one instance on SQLite (the default setup)
#   baseline      the same with FLEET_BASELINE_BIN (another build, e.g. main's), when set
#   sqlite-2      two instances, each on its own SQLite file (nothing shared): what running two
#                 processes on these cores costs by itself
#   pg-1          one instance on PostgreSQL (what the database costs, apart from sharing)
#   pg-2          two instances on one PostgreSQL database, a key without quota
#   pg-2-quota    the same with a request quota on the key (one atomic UPDATE per call)
#
# Settings (environment):
#   FLEET_SECONDS=10  FLEET_WARMUP=2  FLEET_CONCURRENCY=64
#   FLEET_BUILD=1     build first (cargo --profile $FLEET_PROFILE, default `profiling`)
#   FLEET_BASELINE_BIN  an api-proxy binary to measure on SQLite too
#   FLEET_OUT=bench/results/fleet.md
# PostgreSQL is a throwaway server (scripts/throwaway-postgres.sh), so that all of its CPU time is
# the benchmark's.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$PWD

FLEET_SECONDS=${FLEET_SECONDS:-10}
FLEET_WARMUP=${FLEET_WARMUP:-2}
FLEET_CONCURRENCY=${FLEET_CONCURRENCY:-64}
FLEET_BUILD=${FLEET_BUILD:-1}
FLEET_PROFILE=${FLEET_PROFILE:-profiling}
FLEET_OUT=${FLEET_OUT:-bench/results/fleet.md}
ADMIN_TOKEN=bench-admin-token-0123456789
MASTER_KEY=BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=

step() { printf '\n==> %s\n' "$*" >&2; }

# shellcheck source=bench/ports.sh
source "$ROOT/bench/ports.sh"

if [[ $FLEET_BUILD == 1 ]]; then
    step "cargo build --profile $FLEET_PROFILE -p api-proxy -p mock-upstream -p loadgen"
    cargo build --profile "$FLEET_PROFILE" -p api-proxy -p mock-upstream -p loadgen
fi
BIN=$ROOT/target/$FLEET_PROFILE
PROXY_BIN=$BIN/api-proxy
MOCK_BIN=$BIN/mock-upstream
LOADGEN=$BIN/loadgen

WORK=$(mktemp -d /tmp/api-proxy-fleet.XXXXXX)
PIDS=()
PG_DIR=
cleanup() {
    local pid
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
    if [[ -n $PG_DIR ]]; then scripts/throwaway-postgres.sh stop "$PG_DIR"; fi
    rm -rf "$WORK"
}
trap cleanup EXIT

TICKS=$(getconf CLK_TCK)
# User + system CPU ticks of the given processes (all their threads).
cpu_ticks() {
    local pid total=0 t
    for pid in "$@"; do
        if [[ -r /proc/$pid/stat ]]; then
            t=$(sed 's/^.*) //' "/proc/$pid/stat" | awk '{print $12 + $13}')
            total=$((total + t))
        fi
    done
    echo "$total"
}
# The PostgreSQL server's processes: the postmaster and its children (backends, writers).
pg_pids() {
    local postmaster
    postmaster=$(head -n 1 "$PG_DIR/data/postmaster.pid")
    echo "$postmaster" $(pgrep -P "$postmaster" || true)
}

MOCK_PORT=$(free_port)
"$MOCK_BIN" --port "$MOCK_PORT" --no-record --workers 1 >"$WORK/mock.log" 2>&1 &
PIDS+=($!)
wait_port "$MOCK_PORT"

start_proxy() { # name binary port env...
    local name=$1 bin=$2 port=$3
    shift 3
    mkdir -p "$WORK/$name"
    env HOST=127.0.0.1 PORT="$port" DATABASE_PATH="$WORK/$name/api-proxy.db" ADMIN_TOKEN="$ADMIN_TOKEN" \
        ENCRYPTION_KEY="$MASTER_KEY" LOG_LEVEL=warn WORKERS=1 "$@" "$bin" >"$WORK/$name.log" 2>&1 &
    PIDS+=($!)
    wait_port "$port"
}

add_key() { # port extra-json
    curl -sf "http://127.0.0.1:$1/api/keys" -H "Authorization: Bearer $ADMIN_TOKEN" \
        -H 'Content-Type: application/json' \
        -d "{\"provider\": \"openai\", \"name\": \"mock\", \"api_key\": \"sk-bench\", \"base_url\": \"http://127.0.0.1:$MOCK_PORT/v1\"$2}" >/dev/null
}

# Until the instance on $1 answers a chat call (it has loaded the key).
wait_served() {
    local i
    for ((i = 0; i < 250; i++)); do
        if curl -sf "http://127.0.0.1:$1/v1/chat/completions" -H 'Content-Type: application/json' \
            -d '{"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}' >/dev/null; then
            return 0
        fi
        sleep 0.02
    done
    echo "the instance on port $1 does not serve" >&2
    return 1
}

ROWS=()
# Loads every port at once (the connections split evenly), counting the CPU of `pids` (and of
# PostgreSQL's server when `pg` is given).
measure() { # scenario pg|- "ports" "pids"
    local scenario=$1 pg=$2 ports=($3) pids=($4) n c port i before_proxy before_pg after_proxy after_pg
    n=${#ports[@]}
    c=$((FLEET_CONCURRENCY / n))
    step "$scenario: $n instance(s), $FLEET_CONCURRENCY connections, ${FLEET_SECONDS}s"
    local loads=()
    for port in "${ports[@]}"; do
        "$LOADGEN" load --url "http://127.0.0.1:$port/v1/chat/completions" --concurrency "$c" \
            --warmup-secs 0 --duration-secs "$FLEET_WARMUP" --out /dev/null >/dev/null &
        loads+=($!)
    done
    wait "${loads[@]}"
    before_proxy=$(cpu_ticks "${pids[@]}")
    before_pg=0
    [[ $pg == pg ]] && before_pg=$(cpu_ticks $(pg_pids))
    i=0
    loads=()
    for port in "${ports[@]}"; do
        "$LOADGEN" load --url "http://127.0.0.1:$port/v1/chat/completions" --concurrency "$c" \
            --warmup-secs 0 --duration-secs "$FLEET_SECONDS" --out "$WORK/$scenario.$((i++)).json" >/dev/null &
        loads+=($!)
    done
    wait "${loads[@]}"
    after_proxy=$(cpu_ticks "${pids[@]}")
    after_pg=0
    [[ $pg == pg ]] && after_pg=$(cpu_ticks $(pg_pids))
    local requests errors rps p50 p99
    requests=$(jq -s 'map(.requests) | add' "$WORK/$scenario".*.json)
    errors=$(jq -s 'map(.error_count) | add' "$WORK/$scenario".*.json)
    rps=$(jq -s 'map(.rps) | add | round' "$WORK/$scenario".*.json)
    p50=$(jq -s 'map(.latency_ms.p50) | max' "$WORK/$scenario".*.json)
    p99=$(jq -s 'map(.latency_ms.p99) | max' "$WORK/$scenario".*.json)
    local proxy_us pg_us total_us
    proxy_us=$(awk -v t="$((after_proxy - before_proxy))" -v hz="$TICKS" -v r="$requests" 'BEGIN { printf "%.1f", t / hz * 1e6 / r }')
    pg_us=$(awk -v t="$((after_pg - before_pg))" -v hz="$TICKS" -v r="$requests" 'BEGIN { printf "%.1f", t / hz * 1e6 / r }')
    total_us=$(awk -v a="$proxy_us" -v b="$pg_us" 'BEGIN { printf "%.1f", a + b }')
    ROWS+=("| $scenario | $n | $rps | $errors | $p50 | $p99 | $proxy_us | $pg_us | $total_us |")
    echo "${ROWS[-1]}" >&2
}

# --- one instance on SQLite ----------------------------------------------------------------------
port=$(free_port)
start_proxy sqlite "$PROXY_BIN" "$port"
add_key "$port" ""
wait_served "$port"
measure sqlite - "$port" "${PIDS[-1]}"
kill "${PIDS[-1]}"

if [[ -n ${FLEET_BASELINE_BIN:-} ]]; then
    port=$(free_port)
    start_proxy baseline "$FLEET_BASELINE_BIN" "$port"
    add_key "$port" ""
    wait_served "$port"
    measure baseline - "$port" "${PIDS[-1]}"
    kill "${PIDS[-1]}"
fi

ports=() pids=()
for i in 1 2; do
    port=$(free_port)
    start_proxy "sqlite-2-$i" "$PROXY_BIN" "$port"
    add_key "$port" ""
    wait_served "$port"
    ports+=("$port")
    pids+=("${PIDS[-1]}")
done
measure sqlite-2 - "${ports[*]}" "${pids[*]}"
kill "${pids[@]}"

# --- two instances on PostgreSQL ---------------------------------------------------------------
step "a throwaway PostgreSQL"
eval "$(scripts/throwaway-postgres.sh start)"
PG_DIR=$APIPROXY_PG_DIR
base=${APIPROXY_TEST_PG_URL%/*}
for scenario in pg-1 pg-2 pg-2-quota; do
    db=${scenario//-/_}
    psql -q "$APIPROXY_TEST_PG_URL" -c "CREATE DATABASE $db"
    ports=() pids=()
    for ((i = 1; i <= ${scenario:3:1}; i++)); do
        port=$(free_port)
        start_proxy "$scenario-$i" "$PROXY_BIN" "$port" DATABASE_URL="$base/$db"
        ports+=("$port")
        pids+=("${PIDS[-1]}")
    done
    if [[ $scenario == pg-2-quota ]]; then
        add_key "${ports[0]}" ', "quota_total": 1000000000, "quota_unit": "requests"'
    else
        add_key "${ports[0]}" ""
    fi
    for port in "${ports[@]}"; do wait_served "$port"; done
    measure "$scenario" pg "${ports[*]}" "${pids[*]}"
    kill "${pids[@]}"
done

# --- report --------------------------------------------------------------------------------------
{
    echo "# Several instances on PostgreSQL against one on SQLite"
    echo
    echo "\`bench/fleet.sh\`, $(date -u +%Y-%m-%d), commit $(git rev-parse --short HEAD), profile \`$FLEET_PROFILE\`;"
    echo "$(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')), shared by the mock upstream,"
    echo "the load generators, every api-proxy instance and PostgreSQL. Non-streamed chat, $FLEET_CONCURRENCY connections"
    echo "split over the instances, ${FLEET_SECONDS}s measured after ${FLEET_WARMUP}s of warm-up. CPU time is user + system"
    echo "time from /proc over the measured window, per answered request: api-proxy's instances, and every"
    echo "process of the PostgreSQL server (a throwaway one, fsync off)."
    echo
    echo "| scenario | instances | req/s | errors | p50 ms | p99 ms | api-proxy CPU µs/req | PostgreSQL CPU µs/req | total CPU µs/req |"
    echo "|---|---|---|---|---|---|---|---|---|"
    printf '%s\n' "${ROWS[@]}"
} >"$FLEET_OUT"
step "written to $FLEET_OUT"
cat "$FLEET_OUT"
