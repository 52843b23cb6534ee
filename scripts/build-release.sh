#!/usr/bin/env bash
# Builds the api-proxy binary with the dashboard embedded: what ./start.sh runs, and what the
# Dockerfile's builder stage runs (so the image's build is the one tested natively, by
# tests/first-start/run.sh). Needs a Rust toolchain only: the dashboard comes from the build
# shipped in the repository (dashboard/prebuilt) unless its sources changed.
#
#   scripts/build-release.sh [--profile start|release]
#
#   start    (default) what ./start.sh runs: release optimisations without LTO, parallel code
#            generation and incremental builds, so a first build takes minutes and a rebuild after
#            a change seconds. The binary: target/start/api-proxy.
#   release  the fully optimised build (fat LTO, one codegen unit): the Docker image.
#            The binary: target/release/api-proxy.
#
# Which dashboard is embedded (server/build.rs embeds dashboard/dist if it has an index.html,
# else dashboard/prebuilt/dist):
#   - dashboard/dist when it is a local build of the current sources;
#   - else dashboard/prebuilt/dist when it is the build of the current sources (a stale
#     dashboard/dist, a build output, is removed);
#   - else (dashboard/ or shared/ edited): a new local build with trunk when the pinned trunk and
#     wasm-bindgen are installed (scripts/install-tools.sh --build-only), or what is there with a
#     warning.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"

profile=start
while (($#)); do
    case "$1" in
        --profile)
            profile=${2-}
            shift
            ;;
        --profile=*) profile=${1#--profile=} ;;
        -h | --help)
            sed -n '2,22s/^# \{0,1\}//p' "$0"
            exit 0
            ;;
        *)
            echo "build-release.sh: unknown option $1 (use --profile start|release or --help)" >&2
            exit 2
            ;;
    esac
    shift
done
if [[ "$profile" != start && "$profile" != release ]]; then
    echo "build-release.sh: --profile must be start or release, not '$profile'" >&2
    exit 2
fi

# The pinned dashboard tools, installed and usable offline (what build-dashboard.sh needs).
dashboard_tools() {
    local bindgen_version
    bindgen_version=$(sed -n 's/^wasm_bindgen *= *"\([0-9.]*\)".*/\1/p' Trunk.toml)
    command -v trunk > /dev/null &&
        [[ "$(wasm-bindgen --version 2> /dev/null)" == "wasm-bindgen $bindgen_version" ]] &&
        rustup target list --installed 2> /dev/null | grep -qx wasm32-unknown-unknown
}

inputs=$(scripts/dashboard-inputs.sh)
shipped=$(tr -d '[:space:]' 2> /dev/null < dashboard/prebuilt/inputs.sha256 || true)
local_build=$(tr -d '[:space:]' 2> /dev/null < dashboard/dist/.inputs.sha256 || true)
if [[ -f dashboard/dist/index.html && "$local_build" == "$inputs" ]]; then
    echo "dashboard: the local build in dashboard/dist (current)"
elif [[ "$shipped" == "$inputs" ]]; then
    if [[ -e dashboard/dist ]]; then
        echo "dashboard: removing dashboard/dist, a local build of other sources"
        rm -rf dashboard/dist
    fi
    echo "dashboard: the shipped build in dashboard/prebuilt/dist (current)"
elif dashboard_tools; then
    echo "dashboard: dashboard/ or shared/ changed since the shipped build; building it with trunk"
    scripts/build-dashboard.sh
else
    embedded=dashboard/prebuilt/dist
    [[ -f dashboard/dist/index.html ]] && embedded=dashboard/dist
    echo "warning: dashboard/ or shared/ changed since the dashboard in $embedded was built; it is" \
        "embedded as it is. To build yours, install the tools (scripts/install-tools.sh --build-only)" \
        "and run this again, or scripts/build-dashboard.sh --refresh-prebuilt" >&2
fi

cargo build --locked --profile "$profile" -p api-proxy
echo "built ${CARGO_TARGET_DIR:-target}/$profile/api-proxy"
