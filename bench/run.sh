#!/usr/bin/env bash
# api-proxy's benchmark, one command: builds the release binaries, starts a mock upstream, nginx
# (a plain `proxy_pass` reverse proxy: the floor cost of any HTTP hop), the bare actix-web + awc
# forwarder (api-proxy's stack without its product logic) and api-proxy, measures every scenario
# against the four, runs the criterion micro-benchmarks, and writes
# bench/results/latest.{json,md}. Everything listens on 127.0.0.1 and stops when the script ends.
#
# Settings (environment):
#   BENCH_SECONDS=10        measured seconds per scenario and target (after BENCH_WARMUP=1 s)
#   BENCH_IDLE_STREAMS=5000 idle streams held open; BENCH_IDLE_HOLD=15 seconds they are held
#   BENCH_MOCK_WORKERS=1    mock-upstream worker threads (see README, "Benchmarks")
#   BENCH_THREADS=1         load generator threads
#   BENCH_TARGETS="direct nginx bare api-proxy"
#   (clientkey, not in the default list: api-proxy at c=64 without a client key and with one
#    that has every limit, set high enough never to refuse, in BENCH_ROUNDS interleaved rounds of
#    BENCH_ROUND_SECONDS; prints the median req/s and api-proxy CPU µs per request of each)
#   BENCH_SCENARIOS="nonstream_c1 nonstream_c16 nonstream_c64 nonstream_c256 rounds_c64 calllog stream_c16 messages_stream_c16 stream_c1000 idle"
#                           (rounds_c64: non-stream c=64 again, in interleaved rounds, see below;
#                            calllog: api-proxy at c=64 with call logging on, then off;
#                            hotpath: not in the default list; api-proxy against bare in
#                            BENCH_ROUNDS interleaved rounds at c=1/16/64/256, stream c=1000, and
#                            RSS at BENCH_IDLE_STREAMS idle streams: issue 17's targets, into
#                            $BENCH_OUT/raw/hotpath.summary.json;
#                            observability: not in the default list; api-proxy at c=64 with
#                            metrics off, metrics on, and metrics and OTLP traces on, three
#                            instances in BENCH_ROUNDS interleaved rounds of BENCH_ROUND_SECONDS,
#                            judged on the median ratios (observability_c64.summary.json);
#                            fleet: not in the default list; bench/fleet.sh with these
#                            binaries: two instances on one PostgreSQL against one on SQLite,
#                            CPU time per request, into $BENCH_OUT/fleet.md)
#   BENCH_ROUNDS=5          rounds of rounds_c64; BENCH_ROUND_SECONDS=5 measured seconds per target and round
#   BENCH_STARTUP_RUNS=5    start-up measurements, fresh and with an existing database
#   BENCH_MICRO=1           also run the criterion micro-benchmarks (0 skips them)
#   BENCH_BUILD=1           build first (0 uses the binaries already in target/release)
#   BENCH_PROFILE=release   the Cargo profile to build and run (profiling: quicker to build)
#   BENCH_PROXY_BIN=…       another api-proxy binary (an earlier build, to compare with)
#   BENCH_OUT=bench/results where latest.json / latest.md go (raw results in $BENCH_OUT/raw)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$PWD

BENCH_SECONDS=${BENCH_SECONDS:-10}
BENCH_WARMUP=${BENCH_WARMUP:-1}
BENCH_IDLE_STREAMS=${BENCH_IDLE_STREAMS:-5000}
BENCH_IDLE_HOLD=${BENCH_IDLE_HOLD:-15}
BENCH_MOCK_WORKERS=${BENCH_MOCK_WORKERS:-1}
BENCH_THREADS=${BENCH_THREADS:-1}
BENCH_TARGETS=${BENCH_TARGETS:-direct nginx bare api-proxy}
BENCH_SCENARIOS=${BENCH_SCENARIOS:-nonstream_c1 nonstream_c16 nonstream_c64 nonstream_c256 rounds_c64 calllog stream_c16 messages_stream_c16 stream_c1000 idle}
BENCH_ROUNDS=${BENCH_ROUNDS:-5}
BENCH_ROUND_SECONDS=${BENCH_ROUND_SECONDS:-5}
BENCH_STARTUP_RUNS=${BENCH_STARTUP_RUNS:-5}
BENCH_MICRO=${BENCH_MICRO:-1}
BENCH_BUILD=${BENCH_BUILD:-1}
BENCH_OUT=${BENCH_OUT:-bench/results}

# Stream scenarios: 20 chunks, 10 ms apart (the issue's shape). Idle streams: a first chunk at
# once, then one every IDLE_DELAY_MS (10 chunks: about a minute), so the streams stay open and
# nearly silent.
STREAM_CHUNKS=20
MESSAGES_MODEL=claude-sonnet-4-5
STREAM_DELAY_MS=10
IDLE_DELAY_MS=5000
NGINX_WORKERS=2
ADMIN_TOKEN=bench-admin-token-0123456789

step() { printf '\n==> %s\n' "$*" >&2; }

mkdir -p "$BENCH_OUT"
BENCH_OUT=$(cd "$BENCH_OUT" && pwd)
RUN_DIR=$BENCH_OUT/raw
WORK=$(mktemp -d /tmp/api-proxy-bench.XXXXXX)
PIDS=()
cleanup() {
    local pid
    for pid in "${PIDS[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
    for pid in "${PIDS[@]}"; do
        wait "$pid" 2>/dev/null || true
    done
    rm -rf "$WORK"
}
trap cleanup EXIT

# --- build -------------------------------------------------------------------------------------
if [[ $BENCH_BUILD == 1 ]]; then
    step "cargo build --release -p api-proxy -p mock-upstream -p loadgen -p bare-forwarder"
    cargo build --profile "${BENCH_PROFILE:-release}" -p api-proxy -p mock-upstream -p loadgen -p bare-forwarder
fi
# BENCH_PROFILE=profiling uses the `profiling` build instead (thin LTO: much quicker to build on
# two cores, for comparisons inside one run; published numbers come from release).
BIN_DIR=$ROOT/target/${BENCH_PROFILE:-release}
PROXY_BIN=${BENCH_PROXY_BIN:-$BIN_DIR/api-proxy}
MOCK_BIN=$BIN_DIR/mock-upstream
LOADGEN=$BIN_DIR/loadgen
BARE_BIN=$BIN_DIR/bare-forwarder
for bin in "$PROXY_BIN" "$MOCK_BIN" "$LOADGEN" "$BARE_BIN"; do
    [[ -x $bin ]] || { echo "missing $bin (run with BENCH_BUILD=1)" >&2; exit 1; }
done

# --- nginx (Debian's) --------------------------------------------------------------------------
wants_target() { [[ " $BENCH_TARGETS " == *" $1 "* ]]; }
if wants_target nginx && ! command -v nginx >/dev/null; then
    step "apt-get install -y nginx"
    export DEBIAN_FRONTEND=noninteractive
    apt-get -o DPkg::Lock::Timeout=600 update -qq
    apt-get -o DPkg::Lock::Timeout=600 install -y -qq nginx >/dev/null
    # Where the package's post-install started the system service (no policy-rc.d), stop it again:
    # the benchmark runs its own nginx on a loopback port.
    if [[ -s /run/nginx.pid ]]; then nginx -s quit 2>/dev/null || true; fi
fi

# --- file descriptors: 5,000 idle streams are 10,000+ sockets inside api-proxy and nginx ----------
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
needed=$((BENCH_IDLE_STREAMS * 2 + 1000))
if (($(ulimit -n) < needed)); then
    echo "ulimit -n is $(ulimit -n), below the $needed that $BENCH_IDLE_STREAMS idle streams need" >&2
    BENCH_IDLE_STREAMS=$((($(ulimit -n) - 1000) / 2))
    echo "holding $BENCH_IDLE_STREAMS idle streams instead" >&2
fi

# shellcheck source=bench/ports.sh
source "$ROOT/bench/ports.sh"

rm -rf "$RUN_DIR"
mkdir -p "$RUN_DIR"

# --- mock upstreams ----------------------------------------------------------------------------
start_mock() { # name port args...
    local name=$1 port=$2
    shift 2
    "$MOCK_BIN" --port "$port" --no-record "$@" >"$WORK/$name.log" 2>&1 &
    PIDS+=($!)
    wait_port "$port"
}
MOCK_PORT=$(free_port)
start_mock mock "$MOCK_PORT" --workers "$BENCH_MOCK_WORKERS" --chunks "$STREAM_CHUNKS" --delay-ms "$STREAM_DELAY_MS"
MOCK_PID=${PIDS[-1]}
IDLE_MOCK_PORT=$(free_port)
start_mock mock-idle "$IDLE_MOCK_PORT" --workers 1 --chunks 10 --delay-ms "$IDLE_DELAY_MS"
IDLE_MOCK_PID=${PIDS[-1]}

# --- nginx -------------------------------------------------------------------------------------
NGINX_WORKER_PIDS=()
if wants_target nginx; then
    NGINX_PORT=$(free_port)
    NGINX_IDLE_PORT=$(free_port)
    mkdir -p "$WORK/nginx/logs"
    cat >"$WORK/nginx/nginx.conf" <<EOF
worker_processes $NGINX_WORKERS;
worker_rlimit_nofile $(($(ulimit -n)));
pid $WORK/nginx/nginx.pid;
error_log stderr warn;
events {
    worker_connections $(($(ulimit -n) - 100));
}
http {
    access_log off;
    client_body_temp_path $WORK/nginx/body;
    proxy_temp_path $WORK/nginx/proxy;
    fastcgi_temp_path $WORK/nginx/fastcgi;
    uwsgi_temp_path $WORK/nginx/uwsgi;
    scgi_temp_path $WORK/nginx/scgi;
    keepalive_requests 1000000;
    keepalive_timeout 75s;
    upstream mock {
        server 127.0.0.1:$MOCK_PORT;
        keepalive 512;
        keepalive_requests 1000000;
    }
    upstream mock_idle {
        server 127.0.0.1:$IDLE_MOCK_PORT;
        keepalive 64;
    }
    server {
        listen 127.0.0.1:$NGINX_PORT backlog=4096;
        location / {
            proxy_pass http://mock;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            # Stream chunks as they come (what any SSE reverse proxy is configured to do).
            proxy_buffering off;
            proxy_read_timeout 300s;
        }
    }
    server {
        listen 127.0.0.1:$NGINX_IDLE_PORT backlog=4096;
        location / {
            proxy_pass http://mock_idle;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_buffering off;
            proxy_read_timeout 300s;
        }
    }
}
EOF
    nginx -p "$WORK/nginx" -c "$WORK/nginx/nginx.conf" -g 'daemon off;' >"$WORK/nginx.log" 2>&1 &
    NGINX_PID=$!
    PIDS+=("$NGINX_PID")
    wait_port "$NGINX_PORT"
    sleep 0.2
    mapfile -t NGINX_WORKER_PIDS < <(pgrep -P "$NGINX_PID" || true)
fi

# --- the bare actix-web + awc forwarder ---------------------------------------------------------
BARE_PID=
if wants_target bare; then
    BARE_PORT=$(free_port)
    "$BARE_BIN" --port "$BARE_PORT" --workers "$(nproc)" --upstream "http://127.0.0.1:$MOCK_PORT" \
        --idle-upstream "http://127.0.0.1:$IDLE_MOCK_PORT" >"$WORK/bare.log" 2>&1 &
    BARE_PID=$!
    PIDS+=("$BARE_PID")
    wait_port "$BARE_PORT"
fi

# --- api-proxy ---------------------------------------------------------------------------------
proxy_env() { # data-dir port
    echo HOST=127.0.0.1 PORT="$2" DATABASE_PATH="$1/api-proxy.db" ADMIN_TOKEN="$ADMIN_TOKEN" LOG_LEVEL=warn
}

if wants_target api-proxy && ((BENCH_STARTUP_RUNS > 0)); then
    step "start-up time (${BENCH_STARTUP_RUNS}× fresh, ${BENCH_STARTUP_RUNS}× existing database)"
    for ((i = 1; i <= BENCH_STARTUP_RUNS; i++)); do
        port=$(free_port)
        rm -rf "$WORK/startup"
        # shellcheck disable=SC2046
        env $(proxy_env "$WORK/startup" "$port") "$LOADGEN" startup --label fresh \
            --health-url "http://127.0.0.1:$port/api/health" --out "$RUN_DIR/startup_fresh_$i.json" -- "$PROXY_BIN"
    done
    for ((i = 1; i <= BENCH_STARTUP_RUNS; i++)); do
        port=$(free_port)
        # shellcheck disable=SC2046
        env $(proxy_env "$WORK/startup" "$port") "$LOADGEN" startup --label existing \
            --health-url "http://127.0.0.1:$port/api/health" --out "$RUN_DIR/startup_existing_$i.json" -- "$PROXY_BIN"
    done
fi

PROXY_PID=
if wants_target api-proxy; then
    step "api-proxy (release) on a fresh data folder"
    PROXY_PORT=$(free_port)
    # shellcheck disable=SC2046
    env $(proxy_env "$WORK/data" "$PROXY_PORT") "$PROXY_BIN" >"$WORK/api-proxy.log" 2>&1 &
    PROXY_PID=$!
    PIDS+=("$PROXY_PID")
    wait_port "$PROXY_PORT"
    add_key() { # name base-url models-json [provider]
        curl -sf "http://127.0.0.1:$PROXY_PORT/api/keys" -H "Authorization: Bearer $ADMIN_TOKEN" \
            -H 'Content-Type: application/json' \
            -d "{\"provider\": \"${4:-openai}\", \"name\": \"$1\", \"api_key\": \"sk-bench-$1\", \"base_url\": \"$2\"$3}" >/dev/null
    }
    add_key mock "http://127.0.0.1:$MOCK_PORT/v1" ""
    # The Messages scenario's model, served natively (passthrough) by an Anthropic key.
    add_key mock-anthropic "http://127.0.0.1:$MOCK_PORT/v1" ", \"models\": [\"$MESSAGES_MODEL\"]" anthropic
    # The idle scenario asks for its own model, served only by the slow mock's key.
    add_key mock-idle "http://127.0.0.1:$IDLE_MOCK_PORT/v1" ', "models": ["bench-idle"]'
    for _ in 1 2 3; do
        curl -sf "http://127.0.0.1:$PROXY_PORT/v1/chat/completions" -H 'Content-Type: application/json' \
            -d '{"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}' >/dev/null
    done
    sleep 2
    "$LOADGEN" sample --pid "$PROXY_PID" --label idle --out "$RUN_DIR/sample_idle.json"
fi

url_of() { # target idle? [path]
    local path=${3:-/v1/chat/completions}
    case $1 in
    direct) [[ $2 == idle ]] && echo "http://127.0.0.1:$IDLE_MOCK_PORT$path" || echo "http://127.0.0.1:$MOCK_PORT$path" ;;
    nginx) [[ $2 == idle ]] && echo "http://127.0.0.1:$NGINX_IDLE_PORT$path" || echo "http://127.0.0.1:$NGINX_PORT$path" ;;
    bare) [[ $2 == idle ]] && echo "http://127.0.0.1:$BARE_PORT/idle$path" || echo "http://127.0.0.1:$BARE_PORT$path" ;;
    api-proxy) echo "http://127.0.0.1:$PROXY_PORT$path" ;;
    esac
}

watch_args() { # target
    local args=(--watch "mock=$MOCK_PID" --watch "mock-idle=$IDLE_MOCK_PID") i=0 pid
    case $1 in
    api-proxy) args+=(--watch "api-proxy=$PROXY_PID") ;;
    bare) args+=(--watch "bare=$BARE_PID") ;;
    nginx) for pid in "${NGINX_WORKER_PIDS[@]}"; do args+=(--watch "nginx-worker-$((++i))=$pid"); done ;;
    esac
    echo "${args[@]}"
}

# Non-stream c=64 again, in BENCH_ROUNDS short rounds: each round measures every target once, in
# an order rotated from round to round, so a machine that speeds up or slows down (this shared
# host's neighbours moved nginx between 36,600 and 52,200 req/s across runs) shifts the targets
# of one round alike. The throughput and p99 targets are judged on the medians over rounds.
run_rounds() {
    # shellcheck disable=SC2206
    local targets=($BENCH_TARGETS) n r i t out
    n=${#targets[@]}
    for ((r = 1; r <= BENCH_ROUNDS; r++)); do
        for ((i = 0; i < n; i++)); do
            t=${targets[$(((i + r - 1) % n))]}
            out=$RUN_DIR/rounds_c64__${t}__r$r.json
            step "rounds_c64: round $r of $BENCH_ROUNDS → $t"
            # shellcheck disable=SC2046
            "$LOADGEN" load --url "$(url_of "$t" load)" --concurrency 64 --threads "$BENCH_THREADS" \
                --warmup-secs "$BENCH_WARMUP" --duration-secs "$BENCH_ROUND_SECONDS" $(watch_args "$t") \
                --scenario rounds_c64 --target "$t" --out "$out"
            jq --argjson round "$r" '. + {round: $round}' "$out" > "$out.tmp" && mv "$out.tmp" "$out"
        done
    done
}

# jq: the median of an array of numbers (the rounds' scenarios are judged on medians).
JQ_MEDIAN='def median: sort | if length % 2 == 1 then .[length / 2 | floor] else (.[length / 2 - 1] + .[length / 2]) / 2 end;'

# One round's line (and OUT.summary): throughput, p99, errors, api-proxy's CPU per request.
round_summary() { # out round
    jq -c --argjson round "$2" '{scenario, target, round: $round, rps, p99: .latency_ms.p99, error_count,
        cpu_us_per_request: (if .requests > 0 then (.resources["api-proxy"].cpu_s * 1e7 / .requests | round / 10) else null end)}' \
        "$1" | tee "$1.summary" >&2
}

# Issue 17's targets, api-proxy against the bare forwarder in interleaved rounds (the pair back to
# back, the order swapped every round, so what the machine does between rounds hits both alike):
# non-stream throughput at c=1, 16, 64 and 256, time to first chunk at 1,000 streams, then peak
# RSS while each holds BENCH_IDLE_STREAMS idle streams. Judged on the median round of each ratio;
# api-proxy's CPU time per request is reported beside (other processes move it far less).
run_hotpath() {
    local c r t out order stream kind
    for kind in nonstream_c1 nonstream_c16 nonstream_c64 nonstream_c256 stream_c1000; do
        c=${kind##*_c}
        stream=()
        [[ $kind == stream_* ]] && stream=(--stream)
        for ((r = 1; r <= BENCH_ROUNDS; r++)); do
            order=(bare api-proxy)
            ((r % 2 == 0)) && order=(api-proxy bare)
            for t in "${order[@]}"; do
                out=$RUN_DIR/hotpath_${kind}__${t}__r$r.json
                step "hotpath: $kind, round $r of $BENCH_ROUNDS → $t"
                # shellcheck disable=SC2046
                "$LOADGEN" load --url "$(url_of "$t" load)" "${stream[@]}" --concurrency "$c" \
                    --threads "$BENCH_THREADS" --warmup-secs "$BENCH_WARMUP" --duration-secs "$BENCH_ROUND_SECONDS" \
                    $(watch_args "$t") --scenario "hotpath_$kind" --target "$t" --out "$out"
                jq -c --argjson round "$r" --arg kind "$kind" --arg t "$t" '{kind: $kind, target: $t, round: $round, rps,
                    ttfc_p50: .ttfc_ms.p50, error_count,
                    cpu_us_per_request: (if .requests > 0 and $t == "api-proxy"
                        then (.resources["api-proxy"].cpu_s * 1e7 / .requests | round / 10) else null end)}' \
                    "$out" | tee "$out.summary" >&2
            done
        done
    done
    for t in bare api-proxy; do
        local model=gpt-4o
        [[ $t == api-proxy ]] && model=bench-idle
        out=$RUN_DIR/hotpath_idle__$t.json
        step "hotpath: $BENCH_IDLE_STREAMS idle streams held ${BENCH_IDLE_HOLD}s → $t"
        # shellcheck disable=SC2046
        "$LOADGEN" idle --url "$(url_of "$t" idle)" --model "$model" --streams "$BENCH_IDLE_STREAMS" \
            --threads "$BENCH_THREADS" --hold-secs "$BENCH_IDLE_HOLD" --open-timeout-secs 30 \
            $(watch_args "$t") --scenario hotpath_idle --target "$t" --out "$out"
        jq -c --arg t "$t" '{kind: "idle", target: $t, opened, error_count,
            rss_peak_kb: (.resources[if $t == "bare" then "bare" else "api-proxy" end].rss_peak_kb)}' \
            "$out" | tee "$out.summary" >&2
    done
    # Per round api-proxy over bare; then the median round of each kind, against the targets.
    jq -s -c "$JQ_MEDIAN"'
        def r3: . * 1000 | round / 1000;
        (map(select(.kind == "idle")) | map({(.target): .}) | add) as $idle
        | (map(select(.kind != "idle")) | group_by(.kind) | map(
            group_by(.round) | map({bare: (map(select(.target == "bare")) | .[0]),
                proxy: (map(select(.target == "api-proxy")) | .[0])}) as $rounds
            | {kind: $rounds[0].bare.kind, rounds: ($rounds | length),
               rps_median: {bare: ($rounds | map(.bare.rps) | median | round),
                            api_proxy: ($rounds | map(.proxy.rps) | median | round)},
               rps_ratio_median: ($rounds | map(.proxy.rps / .bare.rps) | median | r3),
               rps_ratios: ($rounds | map(.proxy.rps / .bare.rps | r3)),
               ttfc_p50_added_ms_median: (if $rounds[0].bare.ttfc_p50 then
                   ($rounds | map(.proxy.ttfc_p50 - .bare.ttfc_p50) | median | r3) else null end),
               api_proxy_cpu_us_per_request_median: ($rounds | map(.proxy.cpu_us_per_request) | median),
               errors: ($rounds | map(.bare.error_count + .proxy.error_count) | add)}))
        | {kinds: ., idle: {opened: {bare: $idle.bare.opened, api_proxy: $idle["api-proxy"].opened},
             rss_peak_mb: {bare: ($idle.bare.rss_peak_kb / 1024 | r3), api_proxy: ($idle["api-proxy"].rss_peak_kb / 1024 | r3)},
             rss_ratio: ($idle["api-proxy"].rss_peak_kb / $idle.bare.rss_peak_kb | r3)}}' \
        "$RUN_DIR"/hotpath_*.summary | tee "$RUN_DIR/hotpath.summary.json" >&2
}

# Metrics off / on / with traces: one api-proxy per setting (they are start-up settings), all
# three started at once, then measured in BENCH_ROUNDS interleaved rounds of BENCH_ROUND_SECONDS
# (the order rotated each round) so a machine that speeds up or slows down shifts all three
# alike; judged on the median over rounds of each round's ratio, by throughput and by
# api-proxy's CPU time per request. Traces go to a local sink that keeps nothing.
run_observability() {
    local variant port out sink_port r i n
    local variants=(metrics_off metrics_on tracing_on)
    declare -A obs_port obs_pid
    sink_port=$(free_port)
    python3 "$ROOT/bench/otlp-sink.py" "$sink_port" &
    PIDS+=("$!")
    wait_port "$sink_port"
    for variant in "${variants[@]}"; do
        local extra=()
        case $variant in
        metrics_off) extra=(METRICS_ENABLED=false) ;;
        tracing_on) extra=(OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:$sink_port") ;;
        esac
        port=$(free_port)
        rm -rf "$WORK/observability_$variant"
        # shellcheck disable=SC2046
        env $(proxy_env "$WORK/observability_$variant" "$port") "${extra[@]}" "$PROXY_BIN" \
            >"$WORK/observability_$variant.log" 2>&1 &
        obs_pid[$variant]=$!
        PIDS+=("$!")
        obs_port[$variant]=$port
        wait_port "$port"
        curl -sf "http://127.0.0.1:$port/api/keys" -H "Authorization: Bearer $ADMIN_TOKEN" \
            -H 'Content-Type: application/json' \
            -d "{\"provider\": \"openai\", \"name\": \"mock\", \"api_key\": \"sk-bench-mock\", \"base_url\": \"http://127.0.0.1:$MOCK_PORT/v1\"}" >/dev/null
    done
    n=${#variants[@]}
    rm -f "$RUN_DIR"/observability_c64__*.summary
    for ((r = 1; r <= BENCH_ROUNDS; r++)); do
        for ((i = 0; i < n; i++)); do
            variant=${variants[$(((i + r - 1) % n))]}
            out=$RUN_DIR/observability_c64__${variant}__r$r.json
            step "observability: $variant, non-stream c=64 → api-proxy, round $r of $BENCH_ROUNDS"
            "$LOADGEN" load --url "http://127.0.0.1:${obs_port[$variant]}/v1/chat/completions" --concurrency 64 \
                --threads "$BENCH_THREADS" --warmup-secs "$BENCH_WARMUP" --duration-secs "$BENCH_ROUND_SECONDS" \
                --watch "api-proxy=${obs_pid[$variant]}" --scenario observability_c64 --target "$variant" --out "$out"
            round_summary "$out" "$r"
        done
    done
    # Per round, each setting over the one before it (they ran back to back); then the median.
    jq -s -c "$JQ_MEDIAN"'
        def ratio(a; b; f): map(.[a][f] / .[b][f]) | median * 1000 | round / 1000;
        group_by(.round) | map(map({key: .target, value: .}) | from_entries)
        | {rounds: length,
           metrics_on_over_off: {rps: ratio("metrics_on"; "metrics_off"; "rps"),
                                 cpu_per_request: ratio("metrics_on"; "metrics_off"; "cpu_us_per_request")},
           tracing_on_over_metrics_on: {rps: ratio("tracing_on"; "metrics_on"; "rps"),
                                        cpu_per_request: ratio("tracing_on"; "metrics_on"; "cpu_us_per_request")},
           rps_median: (map(map_values(.rps)) | {metrics_off: (map(.metrics_off) | median), metrics_on: (map(.metrics_on) | median), tracing_on: (map(.tracing_on) | median)}),
           cpu_us_per_request_median: (map(map_values(.cpu_us_per_request)) | {metrics_off: (map(.metrics_off) | median), metrics_on: (map(.metrics_on) | median), tracing_on: (map(.tracing_on) | median)}),
           tracing_rps_ratios: map(.tracing_on.rps / .metrics_on.rps * 1000 | round / 1000)}' \
        "$RUN_DIR"/observability_c64__*.summary | tee "$RUN_DIR/observability_c64.summary.json" >&2
    for variant in "${variants[@]}"; do
        kill "${obs_pid[$variant]}" 2>/dev/null || true
        wait "${obs_pid[$variant]}" 2>/dev/null || true
    done
    # Spans the exporter dropped (a full queue), if any: api-proxy logs them.
    grep -h "dropped" "$WORK/observability_tracing_on.log" >&2 || true
}

# --- scenarios: each one against every target in turn, so drift hits them all alike -------------
for scenario in $BENCH_SCENARIOS; do
    if [[ $scenario == rounds_c64 ]]; then
        run_rounds
        continue
    fi
    if [[ $scenario == hotpath ]]; then
        run_hotpath
        continue
    fi
    for target in $BENCH_TARGETS; do
        out=$RUN_DIR/${scenario}__$target.json
        # shellcheck disable=SC2046
        case $scenario in
        nonstream_c* | stream_c* | messages_stream_c*)
            c=${scenario##*_c}
            stream=()
            [[ $scenario == *stream_* ]] && stream=(--stream)
            # Anthropic's Messages API: the mock's Anthropic SSE, through api-proxy's passthrough.
            path=/v1/chat/completions model=gpt-4o
            [[ $scenario == messages_* ]] && path=/v1/messages model=$MESSAGES_MODEL
            step "$scenario → $target"
            "$LOADGEN" load --url "$(url_of "$target" load "$path")" "${stream[@]}" --concurrency "$c" \
                --model "$model" --threads "$BENCH_THREADS" --warmup-secs "$BENCH_WARMUP" \
                --duration-secs "$BENCH_SECONDS" $(watch_args "$target") --scenario "$scenario" \
                --target "$target" --out "$out"
            ;;
        calllog)
            # Call logging on, then off, back to back (api-proxy only): the `store_call_logs` setting.
            [[ $target == api-proxy ]] || continue
            if ! curl -sf "http://127.0.0.1:$PROXY_PORT/api/settings" -H "Authorization: Bearer $ADMIN_TOKEN" |
                jq -e 'has("store_call_logs")' >/dev/null; then
                CALL_LOG_SWITCH=absent
                continue
            fi
            CALL_LOG_SWITCH=present
            for logs in on off; do
                curl -sf -X PUT "http://127.0.0.1:$PROXY_PORT/api/settings" -H "Authorization: Bearer $ADMIN_TOKEN" \
                    -H 'Content-Type: application/json' \
                    -d "{\"store_call_logs\": $([[ $logs == on ]] && echo true || echo false)}" >/dev/null
                out=$RUN_DIR/calllog_c64__logs_$logs.json
                step "call logging $logs, non-stream c=64 → api-proxy"
                "$LOADGEN" load --url "$(url_of api-proxy load)" --concurrency 64 --threads "$BENCH_THREADS" \
                    --warmup-secs "$BENCH_WARMUP" --duration-secs "$BENCH_SECONDS" $(watch_args api-proxy) \
                    --scenario calllog_c64 --target "logs $logs" --out "$out"
                jq -c '{scenario, target, rps, p50: .latency_ms.p50, p99: .latency_ms.p99, error_count}' "$out" >&2
                sleep 1
            done
            curl -sf -X PUT "http://127.0.0.1:$PROXY_PORT/api/settings" -H "Authorization: Bearer $ADMIN_TOKEN" \
                -H 'Content-Type: application/json' -d '{"store_call_logs": true}' >/dev/null
            continue
            ;;
        observability)
            # One api-proxy per variant (metrics and traces are start-up settings), each with the
            # mock's key, measured in interleaved rounds at non-stream c=64.
            [[ $target == api-proxy ]] || continue
            run_observability
            continue
            ;;
        clientkey)
            # No client key, then a client key with every limit (budget, rpm, tpm, max_parallel,
            # models), all high enough never to refuse: the cost of enforcing them (api-proxy only).
            [[ $target == api-proxy ]] || continue
            CLIENT_KEY=$(curl -sf "http://127.0.0.1:$PROXY_PORT/api/client_keys" -H "Authorization: Bearer $ADMIN_TOKEN" \
                -H 'Content-Type: application/json' \
                -d '{"name": "bench", "budget_usd": 1000000000, "rpm": 100000000, "tpm": 2000000000, "max_parallel": 100000, "models": ["gpt-4o*"]}' |
                jq -r .key)
            # Interleaved rounds (none, limited; then limited, none; …) so a machine that speeds
            # up or slows down shifts both alike; judged on the medians, by throughput and by
            # api-proxy's CPU time per request (which other processes' load moves far less).
            for ((r = 1; r <= BENCH_ROUNDS; r++)); do
                order=(none limited)
                ((r % 2 == 0)) && order=(limited none)
                for keyed in "${order[@]}"; do
                    out=$RUN_DIR/clientkey_c64__${keyed}__r$r.json
                    bearer=()
                    [[ $keyed == limited ]] && bearer=(--bearer "$CLIENT_KEY")
                    step "client key: $keyed, non-stream c=64 → api-proxy, round $r of $BENCH_ROUNDS"
                    "$LOADGEN" load --url "$(url_of api-proxy load)" --concurrency 64 --threads "$BENCH_THREADS" \
                        "${bearer[@]}" --warmup-secs "$BENCH_WARMUP" --duration-secs "$BENCH_ROUND_SECONDS" $(watch_args api-proxy) \
                        --scenario clientkey_c64 --target "client key $keyed" --out "$out"
                    round_summary "$out" "$r"
                done
            done
            # Per round, limited over none (the two ran back to back); then the median round.
            jq -s -c "$JQ_MEDIAN"'
                group_by(.round) | map({none: (map(select(.target == "client key none")) | .[0]),
                    limited: (map(select(.target == "client key limited")) | .[0])})
                | {rounds: length,
                   rps_ratio_median: (map(.limited.rps / .none.rps) | median * 1000 | round / 1000),
                   cpu_ratio_median: (map(.limited.cpu_us_per_request / .none.cpu_us_per_request) | median * 1000 | round / 1000),
                   rps_ratios: map(.limited.rps / .none.rps * 1000 | round / 1000),
                   cpu_us_per_request: map([.none.cpu_us_per_request, .limited.cpu_us_per_request])}' \
                "$RUN_DIR"/clientkey_c64__*.summary | tee "$RUN_DIR/clientkey_c64.summary.json" >&2
            continue
            ;;
        fleet)
            # Its own servers, on the same binaries (api-proxy only).
            [[ $target == api-proxy ]] || continue
            step "fleet: bench/fleet.sh"
            FLEET_BUILD=0 FLEET_PROFILE=release FLEET_SECONDS=$BENCH_SECONDS FLEET_OUT=$BENCH_OUT/fleet.md \
                "$ROOT/bench/fleet.sh"
            continue
            ;;
        idle)
            out=$RUN_DIR/idle_${BENCH_IDLE_STREAMS}__$target.json
            model=gpt-4o
            [[ $target == api-proxy ]] && model=bench-idle
            step "idle: $BENCH_IDLE_STREAMS streams held ${BENCH_IDLE_HOLD}s → $target"
            "$LOADGEN" idle --url "$(url_of "$target" idle)" --model "$model" --streams "$BENCH_IDLE_STREAMS" \
                --threads "$BENCH_THREADS" --hold-secs "$BENCH_IDLE_HOLD" --open-timeout-secs 30 \
                $(watch_args "$target") --scenario "idle_$BENCH_IDLE_STREAMS" --target "$target" --out "$out"
            ;;
        *) echo "unknown scenario $scenario" >&2; exit 1 ;;
        esac
        jq -c '{scenario, target, rps, p50: .latency_ms.p50, p99: .latency_ms.p99, ttfc_p50: .ttfc_ms.p50,
                opened, error_count, errors}' "$out" >&2
        sleep 1 # let closed connections leave TIME_WAIT pressure and the proxy settle
    done
done

if [[ -n $PROXY_PID ]]; then
    "$LOADGEN" sample --pid "$PROXY_PID" --label end --out "$RUN_DIR/sample_end.json"
fi

# Stop the servers before the CPU-bound micro-benchmarks.
cleanup
PIDS=()
WORK=$(mktemp -d /tmp/api-proxy-bench.XXXXXX)

# --- criterion micro-benchmarks ------------------------------------------------------------------
if [[ $BENCH_MICRO == 1 ]]; then
    step "cargo bench -p api-proxy --bench hot_paths"
    CRITERION_HOME=$RUN_DIR/criterion cargo bench -p api-proxy --bench hot_paths -- \
        --warm-up-time 1 --measurement-time 3 --noplot ||
        echo "micro-benchmarks failed; the report leaves them out" >&2
fi

# --- report --------------------------------------------------------------------------------------
step "report"
json_str() { jq -Rn --arg s "$1" '$s'; }
nginx_version=$( (nginx -v 2>&1 || true) | sed 's|.*nginx/|nginx |')
binary_size=$(stat -c %s "$PROXY_BIN")
# server/build.rs embeds dashboard/dist when it exists at build time.
embedded="without the dashboard: dashboard/dist was not built"
[[ -d dashboard/dist ]] && embedded="dashboard/dist embedded"
case ${CALL_LOG_SWITCH:-not_run} in
present) call_log_note="Measured: non-stream c=64 through api-proxy with the store_call_logs setting on, then off (PUT /api/settings), back to back." ;;
absent) call_log_note="Not measured: this api-proxy build has no switch to turn call logging off (GET /api/settings has no store_call_logs). TODO: rerun once it has one." ;;
*) call_log_note="Not measured (the calllog scenario was not run)." ;;
esac
cat >"$RUN_DIR/meta.json" <<EOF
{
  "kind": "meta",
  "date": $(json_str "$(date -u +%Y-%m-%dT%H:%M:%SZ)"),
  "commit": $(json_str "$(git rev-parse --short HEAD 2>/dev/null || echo unknown)"),
  "dirty": $([[ -n "$(git status --porcelain 2>/dev/null)" ]] && echo true || echo false),
  "cpu": $(json_str "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"),
  "cores": $(nproc),
  "bench_seconds": $BENCH_SECONDS,
  "rounds": $BENCH_ROUNDS,
  "round_seconds": $BENCH_ROUND_SECONDS,
  "warmup_seconds": $BENCH_WARMUP,
  "loadgen_threads": $BENCH_THREADS,
  "mock_workers": $BENCH_MOCK_WORKERS,
  "proxy_workers": $(nproc),
  "nginx_workers": $NGINX_WORKERS,
  "nginx_version": $(json_str "$nginx_version"),
  "stream_chunks": $STREAM_CHUNKS,
  "stream_delay_ms": $STREAM_DELAY_MS,
  "idle_delay_s": $((IDLE_DELAY_MS / 1000)),
  "idle_hold_seconds": $BENCH_IDLE_HOLD,
  "binary_size_bytes": $binary_size,
  "binary_note": $(json_str "$embedded"),
  "call_logging_note": $(json_str "$call_log_note"),
  "notes": [
    $(json_str "Driver (bench/loadgen: one thread, hand-written HTTP/1.1 keep-alive client), mock and proxy all run on the same 2 cores, so every number includes their competition for CPU."),
    $(json_str "The mock parses each request into serde_json::Value and builds its answer with json!, as the tests need; direct numbers are therefore the mock's limit, not the kernel's."),
    $(json_str "nginx: worker_processes $NGINX_WORKERS, keepalive upstream, proxy_buffering off (required for SSE), access_log off.")
  ]
}
EOF
"$LOADGEN" report --run-dir "$RUN_DIR" --json "$BENCH_OUT/latest.json" --md "$BENCH_OUT/latest.md"
echo "wrote $BENCH_OUT/latest.md and $BENCH_OUT/latest.json" >&2
