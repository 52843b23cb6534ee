#!/usr/bin/env bash
# Instructions per proxied call, counted by callgrind: api-proxy runs under valgrind with
# instrumentation off; after a warm-up, instrumentation is switched on for exactly N calls of one
# fixed request (sent one at a time by loadgen) and off again, so start-up and warm-up are not
# counted. Every thread counts (the call-log writer and the key actors too).
#
#   bench/callgrind.sh [SCENARIO...]        scenarios: chat, chat_stream, messages, messages_stream
#   PROXY_BIN=… MOCK_BIN=… LOADGEN=… CALLS=500 bench/callgrind.sh chat
#   KEEP_DIR=/tmp/profile bench/callgrind.sh chat   # keeps callgrind.out.<scenario>* for
#                                                   # `callgrind_annotate --inclusive=yes`
#   OBSERVABILITY=metrics_off|metrics_on|tracing_on bench/callgrind.sh chat
#   TARGET=bare bench/callgrind.sh chat   the bare actix-web + awc forwarder (BARE_BIN) instead of
#                                         api-proxy: the stack's own share of a call
#   CLIENT_KEY=limited bench/callgrind.sh chat   calls with a client key that has every limit
#                                                (all too high to refuse): what enforcing costs
#       metrics_off: METRICS_ENABLED=false; metrics_on (the default): /metrics on, no traces;
#       tracing_on: metrics on and traces exported over OTLP/HTTP to a local sink (a Python
#       server answering 200), the exporter's thread counted too.
#
# Binaries default to target/release (build them with
# `cargo build --release -p api-proxy -p mock-upstream -p loadgen`). Needs valgrind.
set -euo pipefail
cd "$(dirname "$0")/.."

PROXY_BIN=${PROXY_BIN:-target/release/api-proxy}
MOCK_BIN=${MOCK_BIN:-target/release/mock-upstream}
LOADGEN=${LOADGEN:-target/release/loadgen}
BARE_BIN=${BARE_BIN:-$(dirname "$PROXY_BIN")/bare-forwarder}
TARGET=${TARGET:-api-proxy}
CALLS=${CALLS:-500}
KEEP_DIR=${KEEP_DIR:-}
WARMUP=${WARMUP:-50}
ADMIN_TOKEN=callgrind-admin-token-0123456789
SCENARIOS=("${@:-chat}")
OBSERVABILITY=${OBSERVABILITY:-metrics_on}
CLIENT_KEY=${CLIENT_KEY:-none}

WORK=$(mktemp -d /tmp/api-proxy-callgrind.XXXXXX)
PIDS=()
cleanup() {
    local pid
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 600); do (echo >"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return; sleep 0.1; done; echo "port $1 never opened" >&2; exit 1; }

MOCK_PORT=$(free_port)
"$MOCK_BIN" --port "$MOCK_PORT" --no-record --chunks 20 >"$WORK/mock.log" 2>&1 &
PIDS+=($!)
wait_port "$MOCK_PORT"

OBSERVABILITY_ENV=()
case $OBSERVABILITY in
metrics_on) ;;
metrics_off) OBSERVABILITY_ENV=(METRICS_ENABLED=false) ;;
tracing_on)
    SINK_PORT=$(free_port)
    python3 bench/otlp-sink.py "$SINK_PORT" &
    PIDS+=($!)
    wait_port "$SINK_PORT"
    OBSERVABILITY_ENV=(OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:$SINK_PORT")
    ;;
*) echo "unknown OBSERVABILITY $OBSERVABILITY" >&2; exit 1 ;;
esac

PROXY_PORT=$(free_port)
case $TARGET in
api-proxy)
    env "${OBSERVABILITY_ENV[@]}" HOST=127.0.0.1 PORT="$PROXY_PORT" WORKERS=1 DATABASE_PATH="$WORK/data/api-proxy.db" \
        ADMIN_TOKEN="$ADMIN_TOKEN" LOG_LEVEL=warn \
        valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$WORK/callgrind.out" \
        "$PROXY_BIN" >"$WORK/proxy.log" 2>&1 &
    ;;
bare)
    env HOST=127.0.0.1 valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$WORK/callgrind.out" \
        "$BARE_BIN" --port "$PROXY_PORT" --workers 1 --upstream "http://127.0.0.1:$MOCK_PORT" \
        --idle-upstream "http://127.0.0.1:$MOCK_PORT" >"$WORK/proxy.log" 2>&1 &
    ;;
*) echo "unknown TARGET $TARGET (api-proxy or bare)" >&2; exit 1 ;;
esac
PIDS+=($!)
wait_port "$PROXY_PORT"
# valgrind may start its tool as a child of the `valgrind` command: callgrind_control needs the
# tool's pid. The two find each other by files named after $USER and $HOST (api-proxy's HOST
# here), so callgrind_control gets the same.
PROXY_PID=$(pgrep -n -f -- "--callgrind-out-file=$WORK/callgrind.out")
control() { HOST=127.0.0.1 callgrind_control "$@" "$PROXY_PID" >/dev/null; }

add_key() { # provider name models-json
    curl -sf "http://127.0.0.1:$PROXY_PORT/api/keys" -H "Authorization: Bearer $ADMIN_TOKEN" \
        -H 'Content-Type: application/json' \
        -d "{\"provider\": \"$1\", \"name\": \"$2\", \"api_key\": \"sk-callgrind-$2\", \"base_url\": \"http://127.0.0.1:$MOCK_PORT/v1\"$3}" >/dev/null
}
if [[ $TARGET == api-proxy ]]; then
    add_key openai openai ""
    add_key anthropic anthropic ', "models": ["claude-sonnet-4-5"]'
fi
BEARER=()
case $CLIENT_KEY in
none) ;;
limited)
    key=$(curl -sf "http://127.0.0.1:$PROXY_PORT/api/client_keys" -H "Authorization: Bearer $ADMIN_TOKEN" \
        -H 'Content-Type: application/json' \
        -d '{"name": "callgrind", "budget_usd": 1000000000, "rpm": 100000000, "tpm": 2000000000, "max_parallel": 100000, "models": ["gpt-4o*", "claude-*"]}' |
        jq -r .key)
    BEARER=(--bearer "$key")
    ;;
*) echo "unknown CLIENT_KEY $CLIENT_KEY (none or limited)" >&2; exit 1 ;;
esac

run() { # url model stream? requests
    local stream=()
    [[ $3 == stream ]] && stream=(--stream)
    "$LOADGEN" load --url "$1" --model "$2" "${stream[@]}" "${BEARER[@]}" --concurrency 1 --threads 1 \
        --warmup-secs 0 --requests "$4" --duration-secs 600 --timeout-secs 60 --out "$WORK/load.json"
    jq -e '.error_count == 0' "$WORK/load.json" >/dev/null || { echo "errors: $(cat "$WORK/load.json")" >&2; exit 1; }
}

for scenario in "${SCENARIOS[@]}"; do
    case $scenario in
    chat) url=/v1/chat/completions model=gpt-4o mode=plain ;;
    chat_stream) url=/v1/chat/completions model=gpt-4o mode=stream ;;
    messages) url=/v1/messages model=claude-sonnet-4-5 mode=plain ;;
    messages_stream) url=/v1/messages model=claude-sonnet-4-5 mode=stream ;;
    *) echo "unknown scenario $scenario" >&2; exit 1 ;;
    esac
    run "http://127.0.0.1:$PROXY_PORT$url" "$model" "$mode" "$WARMUP"
    control --zero
    control --instr=on
    run "http://127.0.0.1:$PROXY_PORT$url" "$model" "$mode" "$CALLS"
    control --instr=off
    rm -f "$WORK"/callgrind.out*
    control --dump="$scenario"
    # The instructions of every thread, summed over the dump's files.
    total=$(cat "$WORK"/callgrind.out* | awk '/^totals:/ {s += $2} END {print s}')
    if [[ -n $KEEP_DIR ]]; then
        mkdir -p "$KEEP_DIR"
        for f in "$WORK"/callgrind.out*; do cp "$f" "$KEEP_DIR/$(basename "$f" | sed "s/^callgrind.out/callgrind.out.$scenario/")"; done
    fi
    echo "$scenario ($OBSERVABILITY, client key: $CLIENT_KEY): $((total / CALLS)) instructions per call ($CALLS calls, $TARGET)"
done
