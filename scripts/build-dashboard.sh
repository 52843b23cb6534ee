#!/usr/bin/env bash
# Builds the web dashboard (dashboard/, a Yew app) into dashboard/dist with trunk, offline: the
# pinned trunk and wasm-bindgen-cli must be installed (scripts/install-tools.sh), nothing is
# downloaded. A later `cargo build -p api-proxy` embeds dashboard/dist into the binary.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"

trunk build --release --offline "$@"
for file in dashboard/dist/*; do
    printf '  %8d  %s\n' "$(wc -c < "$file")" "$file"
done
