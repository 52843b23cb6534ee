#!/usr/bin/env bash
# The soak run: api-proxy (release) under mixed traffic for a bounded time, with upstream errors,
# watched for growth. Two keys point at one mock that answers every SOAK_FAIL_EVERY-th chat request
# with a 500 (so failover runs all the time); one load generator sends non-stream requests and
# another streams, both at SOAK_CONCURRENCY. Every SOAK_SAMPLE seconds the script reads
# `GET /api/runtime` (RSS, open descriptors, threads, connections, calls in flight).
#
# Verdicts, written to bench/results/soak.{md,json}:
#   - RSS at the end within 10% of RSS after the warm-up (both under load);
#   - open descriptors and threads at the end no more than after the warm-up (both under load);
#   - once the load stops: no client connection and no call left open, and no more descriptors
#     than under load. (Idle upstream keep-alive connections stay in awc's pool until the next
#     request reuses or expires them, so the count does not drop all the way to the idle one.)
#
# Settings (environment): SOAK_SECONDS=600 (load time, warm-up included), SOAK_WARMUP=60,
# SOAK_SAMPLE=10, SOAK_CONCURRENCY=16, SOAK_FAIL_EVERY=25, SOAK_BUILD=1 (0: use target/release),
# BENCH_OUT=bench/results.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$PWD

SOAK_SECONDS=${SOAK_SECONDS:-600}
SOAK_WARMUP=${SOAK_WARMUP:-60}
SOAK_SAMPLE=${SOAK_SAMPLE:-10}
SOAK_CONCURRENCY=${SOAK_CONCURRENCY:-16}
SOAK_FAIL_EVERY=${SOAK_FAIL_EVERY:-25}
SOAK_BUILD=${SOAK_BUILD:-1}
BENCH_OUT=${BENCH_OUT:-bench/results}
ADMIN_TOKEN=soak-admin-token-0123456789
((SOAK_WARMUP + 2 * SOAK_SAMPLE <= SOAK_SECONDS)) || {
    echo "SOAK_SECONDS must leave room for the warm-up and two samples" >&2
    exit 2
}

step() { printf '\n==> %s\n' "$*" >&2; }

mkdir -p "$BENCH_OUT"
BENCH_OUT=$(cd "$BENCH_OUT" && pwd)
WORK=$(mktemp -d /tmp/api-proxy-soak.XXXXXX)
PIDS=()
cleanup() {
    local pid
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
    rm -rf "$WORK"
}
trap cleanup EXIT

if [[ $SOAK_BUILD == 1 ]]; then
    step "cargo build --release -p api-proxy -p mock-upstream -p loadgen"
    cargo build --release -p api-proxy -p mock-upstream -p loadgen
fi
PROXY_BIN=$ROOT/target/release/api-proxy
MOCK_BIN=$ROOT/target/release/mock-upstream
LOADGEN=$ROOT/target/release/loadgen

# shellcheck source=bench/ports.sh
source "$ROOT/bench/ports.sh"

step "mock upstream (every ${SOAK_FAIL_EVERY}th chat request fails) and api-proxy"
MOCK_PORT=$(free_port)
"$MOCK_BIN" --port "$MOCK_PORT" --no-record --chunks 20 --delay-ms 5 --fail-every "$SOAK_FAIL_EVERY" \
    >"$WORK/mock.log" 2>&1 &
PIDS+=($!)
wait_port "$MOCK_PORT"
PROXY_PORT=$(free_port)
HOST=127.0.0.1 PORT=$PROXY_PORT DATABASE_PATH="$WORK/data/api-proxy.db" ADMIN_TOKEN=$ADMIN_TOKEN \
    LOG_LEVEL=warn "$PROXY_BIN" >"$WORK/api-proxy.log" 2>&1 &
PIDS+=($!)
wait_port "$PROXY_PORT"
BASE=http://127.0.0.1:$PROXY_PORT
for name in a b; do
    curl -sf "$BASE/api/keys" -H "Authorization: Bearer $ADMIN_TOKEN" -H 'Content-Type: application/json' \
        -d "{\"provider\": \"openai\", \"name\": \"$name\", \"api_key\": \"sk-soak-$name\", \"base_url\": \"http://127.0.0.1:$MOCK_PORT/v1\"}" \
        >/dev/null
done

runtime() { curl -sf "$BASE/api/runtime" -H "Authorization: Bearer $ADMIN_TOKEN"; }
field() { # json name
    sed -E "s/.*\"$2\":(null|[0-9]+).*/\1/" <<<"$1"
}
IDLE=$(runtime)

step "load: non-stream and stream at concurrency $SOAK_CONCURRENCY each, ${SOAK_SECONDS}s"
for mode in nonstream stream; do
    flag=()
    [[ $mode == stream ]] && flag=(--stream)
    "$LOADGEN" load --url "$BASE/v1/chat/completions" "${flag[@]}" --concurrency "$SOAK_CONCURRENCY" \
        --warmup-secs 0 --duration-secs "$SOAK_SECONDS" --out "$WORK/$mode.json" &
    LOAD_PIDS+=($!)
done
PIDS+=("${LOAD_PIDS[@]}")

SAMPLES=$WORK/samples.tsv
printf 't_s\trss_bytes\topen_fds\tthreads\tconnections\tin_flight\n' >"$SAMPLES"
WARM= END=
for ((t = SOAK_SAMPLE; t <= SOAK_SECONDS - SOAK_SAMPLE; t += SOAK_SAMPLE)); do
    sleep "$SOAK_SAMPLE"
    now=$(runtime)
    printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$t" "$(field "$now" rss_bytes)" "$(field "$now" open_fds)" \
        "$(field "$now" threads)" "$(field "$now" connections)" "$(field "$now" in_flight)" >>"$SAMPLES"
    if [[ -z $WARM ]] && ((t >= SOAK_WARMUP)); then WARM=$now; fi
    END=$now
    echo "t=${t}s rss=$(($(field "$now" rss_bytes) / 1048576)) MB fds=$(field "$now" open_fds) connections=$(field "$now" connections)" >&2
done
for pid in "${LOAD_PIDS[@]}"; do wait "$pid"; done

# After the load: the clients are gone (the one connection left is this script's own request).
step "after the load"
AFTER=
after_ok() {
    (($(field "$AFTER" connections) <= 1 && $(field "$AFTER" in_flight) == 0 &&
        $(field "$AFTER" open_fds) <= $(field "$WARM" open_fds)))
}
for ((i = 0; i < 30; i++)); do
    AFTER=$(runtime)
    if after_ok; then break; fi
    sleep 1
done

requests() { sed -E 's/.*"requests": ([0-9]+).*/\1/;t;d' "$1" | head -1; }
errors() { sed -E 's/.*"error_count": ([0-9]+).*/\1/;t;d' "$1" | head -1; }
NS_OK=$(requests "$WORK/nonstream.json") NS_ERR=$(errors "$WORK/nonstream.json")
ST_OK=$(requests "$WORK/stream.json") ST_ERR=$(errors "$WORK/stream.json")

verdict() { if (("$1")); then echo PASS; else echo MISS; fi; }
rss_w=$(field "$WARM" rss_bytes) rss_e=$(field "$END" rss_bytes)
fds_w=$(field "$WARM" open_fds) fds_e=$(field "$END" open_fds)
thr_w=$(field "$WARM" threads) thr_e=$(field "$END" threads)
RSS_OK=$(verdict "rss_e * 10 <= rss_w * 11")
FDS_OK=$(verdict "fds_e <= fds_w && thr_e <= thr_w")
if after_ok; then AFTER_OK=PASS; else AFTER_OK=MISS; fi
mb() { awk -v b="$1" 'BEGIN { printf "%.1f", b / 1048576 }'; }

{
    echo "# api-proxy soak run"
    echo
    echo "Run $(date -u +%Y-%m-%dT%H:%M:%SZ) on commit \`$(git rev-parse --short HEAD 2>/dev/null || echo unknown)\`;" \
        "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //') ($(nproc) cores). \`bench/soak.sh\`:" \
        "${SOAK_SECONDS} s of load (warm-up ${SOAK_WARMUP} s), non-stream and stream (20 chunks × 5 ms) at" \
        "concurrency ${SOAK_CONCURRENCY} each, two keys on one mock that fails every ${SOAK_FAIL_EVERY}th chat request with a 500."
    echo
    echo "| check | after warm-up | at the end | result |"
    echo "|---|---:|---:|---|"
    echo "| RSS within 10% | $(mb "$rss_w") MB | $(mb "$rss_e") MB | $RSS_OK |"
    echo "| open descriptors / threads do not grow | $fds_w / $thr_w | $fds_e / $thr_e | $FDS_OK |"
    echo "| after the load: client connections, calls in flight, descriptors (before the load: $(field "$IDLE" open_fds); the rest are idle upstream connections kept in awc's pool) | | $(field "$AFTER" connections), $(field "$AFTER" in_flight), $(field "$AFTER" open_fds) | $AFTER_OK |"
    echo
    echo "Requests: non-stream $NS_OK answered ($NS_ERR errors), stream $ST_OK completed ($ST_ERR errors)."
    echo "An error here is a request whose every attempt met an injected 500; the proxy answered it with an"
    echo "OpenAI-shaped error."
    echo
    echo "## Samples (every ${SOAK_SAMPLE} s)"
    echo
    echo "| t (s) | RSS (MB) | open fds | threads | connections | in flight |"
    echo "|---:|---:|---:|---:|---:|---:|"
    tail -n +2 "$SAMPLES" | while IFS=$'\t' read -r t rss fds thr conn fl; do
        echo "| $t | $(mb "$rss") | $fds | $thr | $conn | $fl |"
    done
} >"$BENCH_OUT/soak.md"
{
    printf '{"seconds": %s, "warmup_s": %s, "concurrency": %s, "fail_every": %s,\n' \
        "$SOAK_SECONDS" "$SOAK_WARMUP" "$SOAK_CONCURRENCY" "$SOAK_FAIL_EVERY"
    printf ' "idle": %s,\n "warm": %s,\n "end": %s,\n "after": %s,\n' "$IDLE" "$WARM" "$END" "$AFTER"
    printf ' "nonstream": {"ok": %s, "errors": %s}, "stream": {"ok": %s, "errors": %s},\n' \
        "$NS_OK" "$NS_ERR" "$ST_OK" "$ST_ERR"
    printf ' "verdicts": {"rss": "%s", "fds_threads": "%s", "after": "%s"}}\n' "$RSS_OK" "$FDS_OK" "$AFTER_OK"
} >"$BENCH_OUT/soak.json"
cat "$BENCH_OUT/soak.md"
