#!/usr/bin/env bash
# Refreshes deny/advisory-db, the RustSec advisories that scripts/check-advisories.sh checks
# Cargo.lock against where GitHub (and so the live database) cannot be reached.
#   scripts/update-advisory-db.sh [CHECKOUT]
# CHECKOUT: a clone of github.com/rustsec/advisory-db; without it, one is cloned.
# Keeps the advisories of the crates in Cargo.lock (all of them, every target), the list of
# every crate the database has advisories for (INDEX: how the check notices a crate added
# since), and the commit and date it came from (SNAPSHOT). Run it again after adding a
# dependency, and whenever GitHub is reachable: a snapshot only knows what was published
# before it was taken.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

source_db=${1:-}
if [[ -z $source_db ]]; then
    tmp=$(mktemp -d)
    trap 'rm -rf "$tmp"' EXIT
    source_db=$tmp/advisory-db
    git clone --quiet --depth 1 https://github.com/rustsec/advisory-db "$source_db"
fi
[[ -d $source_db/crates ]] || { echo "$source_db holds no crates/ folder: not an advisory-db clone" >&2; exit 1; }

out=deny/advisory-db
rm -rf "$out"
mkdir -p "$out/crates"
ls "$source_db/crates" > "$out/INDEX"
kept=0
for name in $(sed -n 's/^name = "\(.*\)"$/\1/p' Cargo.lock | sort -u); do
    if [[ -d $source_db/crates/$name ]]; then
        cp -r "$source_db/crates/$name" "$out/crates/"
        kept=$((kept + 1))
    fi
done
# The advisories are CC0: the licence travels with them.
cp "$source_db/LICENSE.txt" "$out/LICENSE.txt"
git -C "$source_db" log -1 --format='commit=%H%ndate=%cI' > "$out/SNAPSHOT"
echo "deny/advisory-db: advisories for $kept crates of Cargo.lock, from $(paste -sd' ' "$out/SNAPSHOT")"
