#!/usr/bin/env bash
# Prints the SHA-256 of everything that determines the dashboard's build (the inputs of
# `trunk build`), so that a shipped build (dashboard/prebuilt) can be checked against its sources:
#   - every file under dashboard/ (but its build outputs dist/ and prebuilt/) and shared/;
#   - Trunk.toml (the trunk and wasm-bindgen pins), .cargo/config.toml (the wasm rustflags), both
#     without comment lines;
#   - the workspace Cargo.toml's release and wasm-release profiles (not its other sections, nor
#     comments);
#   - from Cargo.lock, the packages the dashboard can reach (name, version, checksum), so a new
#     crate for the server alone does not make the shipped dashboard stale, but any change to a
#     crate the dashboard compiles does.
# Needs only coreutils, find and awk (no git, no cargo): the Docker builder runs it too.
#
#   scripts/dashboard-inputs.sh          the hash
#   scripts/dashboard-inputs.sh --list   what is hashed, one line each (to see why it changed)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export LC_ALL=C

list=0
case "${1-}" in
    "") ;;
    --list) list=1 ;;
    *)
        echo "dashboard-inputs.sh: unknown option $1 (use --list)" >&2
        exit 2
        ;;
esac

inputs() {
    # Source files, by path and content.
    find dashboard shared \
        \( -path dashboard/dist -o -path dashboard/prebuilt -o -name target \) -prune \
        -o -type f -print0 |
        sort -z | xargs -0 sha256sum | sed 's/^/file /'
    # The build settings, without their comment lines (the explanations may change freely).
    for file in Trunk.toml .cargo/config.toml; do
        printf 'settings %s %s\n' "$file" "$(grep -v '^[[:space:]]*#' "$file" | sha256sum | cut -d' ' -f1)"
    done
    # The build profiles the dashboard uses.
    awk '/^\[/ { keep = ($0 ~ /^\[profile\.(release|wasm-release)[].]/) } keep && NF && !/^#/ { print "profile " $0 }' Cargo.toml
    # The dashboard's dependency closure in Cargo.lock.
    awk '
        /^\[\[package\]\]/ { n++; in_deps = 0; next }
        n && /^name = /     { name[n] = $3; gsub(/"/, "", name[n]); by_name[name[n]] = by_name[name[n]] " " n; next }
        n && /^version = /  { ver[n] = $3; gsub(/"/, "", ver[n]); next }
        n && /^checksum = / { sum[n] = $3; gsub(/"/, "", sum[n]); next }
        n && /^dependencies = \[/ { in_deps = 1; next }
        in_deps && /^\]/    { in_deps = 0; next }
        in_deps             { d = $0; gsub(/^ *"|",?$/, "", d); deps[n] = deps[n] "\n" d; next }
        END {
            for (i = 1; i <= n; i++) if (name[i] == "dashboard") queue[++tail] = i
            if (!tail) { print "Cargo.lock has no dashboard package" > "/dev/stderr"; exit 1 }
            for (head = 1; head <= tail; head++) {
                i = queue[head]
                if (seen[i]++) continue
                print "lock " name[i] " " ver[i] " " sum[i]
                m = split(deps[i], refs, "\n")
                for (r = 1; r <= m; r++) {
                    if (refs[r] == "") continue
                    split(refs[r], parts, " ")   # "name", "name version" or "name version (source)"
                    k = split(by_name[parts[1]], cands, " ")
                    for (c = 1; c <= k; c++)
                        if (parts[2] == "" || ver[cands[c]] == parts[2]) queue[++tail] = cands[c]
                }
            }
        }' Cargo.lock | sort -u
}

if ((list)); then
    inputs
else
    inputs | sha256sum | cut -d' ' -f1
fi
