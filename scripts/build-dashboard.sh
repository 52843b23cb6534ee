#!/usr/bin/env bash
# Builds the web dashboard (dashboard/, a Yew app) into dashboard/dist with trunk, offline: the
# pinned trunk and wasm-bindgen-cli must be installed (scripts/install-tools.sh), nothing is
# downloaded. A later `cargo build -p api-proxy` embeds dashboard/dist into the binary.
#
#   scripts/build-dashboard.sh                     into dashboard/dist (a local build)
#   scripts/build-dashboard.sh --refresh-prebuilt  also replaces the build shipped in the repository,
#                                                  dashboard/prebuilt/ (dist/ and inputs.sha256); commit it
#
# Without a local build, api-proxy embeds dashboard/prebuilt/dist, so that ./start.sh and the
# Docker image need no trunk. scripts/check-dashboard-prebuilt.sh (in scripts/test.sh) fails when
# the dashboard's sources changed and dashboard/prebuilt did not: after a change to dashboard/ or
# shared/ (or the crates they use), run this with --refresh-prebuilt.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"

refresh=0
trunk_args=()
for arg in "$@"; do
    case "$arg" in
        --refresh-prebuilt) refresh=1 ;;
        -h | --help)
            sed -n '2,13s/^# \{0,1\}//p' "$0"
            exit 0
            ;;
        *) trunk_args+=("$arg") ;;
    esac
done

# What the build is made from, taken before it, so an edit during the build makes it stale.
inputs=$(scripts/dashboard-inputs.sh)
trunk build --release --offline ${trunk_args[@]+"${trunk_args[@]}"}
# Which sources this local build is of (scripts/build-release.sh reads it; not embedded).
printf '%s\n' "$inputs" > dashboard/dist/.inputs.sha256
for file in dashboard/dist/*; do
    printf '  %8d  %s\n' "$(wc -c < "$file")" "$file"
done

if ((refresh)); then
    rm -rf dashboard/prebuilt/dist
    mkdir -p dashboard/prebuilt
    cp -r dashboard/dist dashboard/prebuilt/dist
    rm -f dashboard/prebuilt/dist/.inputs.sha256
    printf '%s\n' "$inputs" > dashboard/prebuilt/inputs.sha256
    echo "dashboard/prebuilt refreshed (inputs $inputs); commit dashboard/prebuilt"
fi
