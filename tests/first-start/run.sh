#!/usr/bin/env bash
# A newcomer's first start, measured. Clones this repository (its committed HEAD) into a temporary
# folder and, as on a fresh machine with only a Rust toolchain:
#   - an empty target folder, a fresh CARGO_HOME and CARGO_INSTALL_ROOT (the registry's download
#     cache is shared, so crates are not downloaded again; everything is compiled),
#   - a PATH with the toolchain (cargo, rustc, rustup) but no trunk and no wasm-bindgen,
# then runs `./start.sh -d` and checks that / serves the dashboard (index.html and the WebAssembly it
# loads) and that /v1/models answers. Then a second `./start.sh -d` with nothing changed, and one
# after a one-line change in server/src. Each step's wall-clock and CPU time (user + system, from
# /usr/bin/time) is reported, not asserted: CPU time is the number that holds on a busy machine.
#
#   tests/first-start/run.sh            FIRST_START_KEEP=1 keeps the temporary folder
#
# Not part of scripts/test.sh: it compiles everything from scratch (see docs/first-start.md).
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
real_cargo_home=${CARGO_HOME:-$HOME/.cargo}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/api-proxy-first-start-XXXXXX")
clone=$tmp/api-proxy
cleanup() {
    if [[ -f $clone/data/api-proxy.pid ]]; then
        (cd "$clone" && ./stop.sh > /dev/null 2>&1) || true
    fi
    if [[ "${FIRST_START_KEEP:-0}" == 1 ]]; then
        echo "kept $tmp"
    else
        rm -rf "$tmp"
    fi
}
trap cleanup EXIT

fail() {
    echo "first-start: FAILED: $*" >&2
    exit 1
}

# The toolchain alone on PATH: rustup's proxies, linked one by one, not the folder they share
# with `cargo install`ed tools.
mkdir -p "$tmp/bin" "$tmp/cargo-home" "$tmp/install-root"
for tool in cargo rustc rustup rustdoc; do
    ln -s "$(command -v "$tool")" "$tmp/bin/$tool"
done
ln -s "$real_cargo_home/registry" "$tmp/cargo-home/registry"
[[ -f $real_cargo_home/config.toml ]] && cp "$real_cargo_home/config.toml" "$tmp/cargo-home/"
clean_path=$tmp/bin
IFS=: read -ra dirs <<< "$PATH"
for dir in "${dirs[@]}"; do
    [[ -z "$dir" || -x "$dir/trunk" || -x "$dir/wasm-bindgen" || -x "$dir/cargo" ]] && continue
    clean_path+=":$dir"
done
run_env=(env -u CARGO_TARGET_DIR -u CARGO_BUILD_TARGET_DIR -u RUSTC_WRAPPER
    CARGO_HOME="$tmp/cargo-home" CARGO_INSTALL_ROOT="$tmp/install-root" PATH="$clean_path"
    PORT=0 HOST=127.0.0.1)
if "${run_env[@]}" bash -c 'command -v trunk || command -v wasm-bindgen' > /dev/null; then
    fail "trunk or wasm-bindgen is still on the PATH"
fi

git clone --quiet --no-hardlinks "$REPO" "$clone"
echo "first-start: clone of $(git -C "$clone" log -1 --format='%h %s') in $clone"
echo "first-start: $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg), $(cargo --version)"

declare -a report
# `./start.sh -d` in the clone, timed; checks what a newcomer would look at first.
start_and_check() {
    local label=$1 out times wall cpu url
    out=$tmp/$label.out
    times=$tmp/$label.time
    echo "first-start: $label: ./start.sh -d ..."
    if ! (cd "$clone" && "${run_env[@]}" /usr/bin/time -o "$times" -f '%e %U %S' ./start.sh -d > "$out" 2>&1); then
        tail -n 40 "$out" >&2
        fail "$label: ./start.sh -d failed"
    fi
    read -r wall user sys < "$times"
    cpu=$(awk -v u="$user" -v s="$sys" 'BEGIN { printf "%.0f", u + s }')
    url=$(sed -n 's/^ *URL: *\(http[^ ]*\).*/\1/p' "$out" | head -n 1)
    [[ -n "$url" ]] || fail "$label: start.sh printed no URL: $(cat "$out")"
    grep -q 'admin token:' "$out" || fail "$label: start.sh did not say where the admin token is"
    grep -q "curl -s $url/api/keys" "$out" || fail "$label: start.sh printed no curl that adds a key"

    local index wasm
    index=$(curl -fsS "$url/") || fail "$label: GET / failed"
    [[ "$index" == *"<html"* ]] || fail "$label: / is not the dashboard: ${index:0:300}"
    wasm=$(grep -o '/[^"'"'"' ]*_bg\.wasm' <<< "$index" | head -n 1)
    [[ -n "$wasm" ]] || fail "$label: the dashboard's index.html loads no WebAssembly"
    [[ "$(curl -fsS -o /dev/null -w '%{http_code} %{content_type}' "$url$wasm")" == "200 application/wasm" ]] ||
        fail "$label: $wasm is not served as application/wasm"
    curl -fsS "$url/v1/models" | grep -q '"object": *"list"' || fail "$label: /v1/models did not answer a list"

    (cd "$clone" && ./stop.sh > /dev/null)
    printf 'first-start: %-28s %7.1f s wall %7s s CPU   ok (dashboard at /, /v1/models)\n' "$label" "$wall" "$cpu"
    report+=("$(printf '| %s | %.0f s | %s s |' "$label" "$wall" "$cpu")")
}

start_and_check "first start"
start_and_check "second start (no change)"
echo '// A one-line change (tests/first-start/run.sh).' >> "$clone/server/src/cli.rs"
start_and_check "after a one-line change"

echo
echo "| step (./start.sh -d) | wall clock | CPU (user + sys) |"
echo "|---|---|---|"
printf '%s\n' "${report[@]}"
