#!/usr/bin/env bash
# Installs what the dashboard's build and browser tests need. Idempotent, and quick when all of it
# is already there (it checks versions, it does not reinstall):
#   - the wasm32-unknown-unknown Rust target;
#   - trunk, at Trunk.toml's `trunk-version` (the one pin of trunk);
#   - wasm-bindgen-cli, at Trunk.toml's `[tools] wasm_bindgen`, which must equal the wasm-bindgen
#     in Cargo.lock (checked here), so that trunk never downloads anything;
#   - unless --build-only: Debian's Chromium and a CJK font (for readable Chinese screenshots),
#     playwright-core in tests/dashboard/node_modules (pinned by its package-lock.json), and
#     cargo-deny (the dependency policy in deny.toml), at the version pinned below.
#
#   scripts/install-tools.sh               build and test tools (scripts/test.sh)
#   scripts/install-tools.sh --build-only  only what building the dashboard needs (dashboard work;
#                                          ./start.sh uses the shipped build and needs none of it)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

build_only=0
for arg in "$@"; do
    case "$arg" in
        --build-only) build_only=1 ;;
        -h | --help)
            sed -n '2,14s/^# \{0,1\}//p' "$0"
            exit 0
            ;;
        *)
            echo "install-tools.sh: unknown option $arg (use --build-only or --help)" >&2
            exit 2
            ;;
    esac
done

export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"

# The pins, from Trunk.toml, checked against Cargo.lock.
trunk_version=$(sed -n 's/^trunk-version *= *"[=^~]\{0,1\}\([0-9.]*\)".*/\1/p' Trunk.toml)
bindgen_version=$(sed -n 's/^wasm_bindgen *= *"\([0-9.]*\)".*/\1/p' Trunk.toml)
locked_bindgen=$(awk '$0 == "name = \"wasm-bindgen\"" { getline; gsub(/^version = "|"$/, ""); print; exit }' Cargo.lock)
if [[ -z "$trunk_version" || -z "$bindgen_version" ]]; then
    echo "install-tools.sh: Trunk.toml must pin trunk-version and [tools] wasm_bindgen" >&2
    exit 1
fi
if [[ "$bindgen_version" != "$locked_bindgen" ]]; then
    echo "install-tools.sh: Trunk.toml pins wasm-bindgen $bindgen_version but Cargo.lock has ${locked_bindgen:-none};" \
        "set [tools] wasm_bindgen = \"$locked_bindgen\" in Trunk.toml" >&2
    exit 1
fi

if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
    rustup target add wasm32-unknown-unknown
fi

if [[ "$(trunk --version 2>/dev/null)" != "trunk $trunk_version" ]]; then
    cargo install --locked "trunk@$trunk_version"
fi

# Not --locked: wasm-bindgen-cli's own lockfile may pin crates this toolchain rejects.
if [[ "$(wasm-bindgen --version 2>/dev/null)" != "wasm-bindgen $bindgen_version" ]]; then
    cargo install --force "wasm-bindgen-cli@$bindgen_version"
fi

if ((build_only)); then
    exit 0
fi

as_root() {
    if [[ $EUID -eq 0 ]]; then "$@"; else sudo "$@"; fi
}
if [[ ! -x /usr/bin/chromium || -z "$(fc-list :lang=zh 2> /dev/null || true)" ]]; then
    as_root apt-get update
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium fonts-wqy-microhei
fi

wanted=$(sed -n 's/.*"playwright-core": *"\([^"]*\)".*/\1/p' tests/dashboard/package.json)
installed=$(sed -n 's/^ *"version": *"\([^"]*\)".*/\1/p' tests/dashboard/node_modules/playwright-core/package.json 2> /dev/null || true)
if [[ "$installed" != "$wanted" ]]; then
    (cd tests/dashboard && npm ci --no-audit --no-fund)
fi

# The dependency policy check (deny.toml). Built from crates.io, like trunk: several minutes once.
cargo_deny_version=0.20.2
if [[ "$(cargo deny --version 2>/dev/null)" != "cargo-deny $cargo_deny_version" ]]; then
    cargo install --locked "cargo-deny@$cargo_deny_version"
fi
