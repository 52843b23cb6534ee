#!/usr/bin/env bash
# `cargo deny check advisories` (RustSec: vulnerable, unmaintained or yanked crates in
# Cargo.lock; deny.toml says which findings are accepted and why).
# The database lives on GitHub. Where GitHub answers, cargo-deny fetches it fresh. Where it does
# not (these CI machines), the check runs against the snapshot in deny/advisory-db, made by
# scripts/update-advisory-db.sh, and fails if Cargo.lock gained a crate that has advisories the
# snapshot does not carry, or if the snapshot is more than a year old.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

DB_URL=https://github.com/rustsec/advisory-db
if timeout 20 git ls-remote --heads "$DB_URL" main > /dev/null 2>&1; then
    echo "advisory database: fetched from $DB_URL"
    exec cargo deny check advisories
fi

snapshot=deny/advisory-db
snapshot_date=$(sed -n 's/^date=//p' "$snapshot/SNAPSHOT")
age_days=$(( ($(date +%s) - $(date -d "$snapshot_date" +%s)) / 86400 ))
echo "advisory database: $DB_URL is not reachable; using the snapshot in $snapshot" \
     "($(sed -n 's/^commit=//p' "$snapshot/SNAPSHOT" | cut -c1-12), $snapshot_date, $age_days days old)"

missing=()
for name in $(sed -n 's/^name = "\(.*\)"$/\1/p' Cargo.lock | sort -u); do
    if grep -qxF "$name" "$snapshot/INDEX" && [[ ! -d $snapshot/crates/$name ]]; then
        missing+=("$name")
    fi
done
if (( ${#missing[@]} )); then
    echo "Cargo.lock now holds crates with advisories the snapshot does not carry: ${missing[*]}" >&2
    echo "run scripts/update-advisory-db.sh (with a clone of $DB_URL if GitHub is not reachable)" >&2
    exit 1
fi
if (( age_days > 365 )); then
    echo "the advisory snapshot is $age_days days old: refresh it with scripts/update-advisory-db.sh" >&2
    exit 1
fi

# cargo-deny opens the database as a git clone in <db-path>/<name>-<hash of the URL> (the hash
# is cargo-deny's, for $DB_URL) and dates it by its HEAD commit: the commit is given the
# snapshot's own date, so cargo-deny's staleness check sees the real age.
root=target/advisory-db
clone=$root/advisory-db-3157b0e258782691
rm -rf "$root"
mkdir -p "$clone"
cp -r "$snapshot/crates" "$clone/"
git -C "$clone" init --quiet
git -C "$clone" add crates
GIT_AUTHOR_DATE=$snapshot_date GIT_COMMITTER_DATE=$snapshot_date \
    git -C "$clone" -c user.name=snapshot -c user.email=snapshot@localhost \
    commit --quiet --no-gpg-sign -m "RustSec advisories, $snapshot_date"
sed "/^\[advisories\]/a db-path = \"$PWD/$root\"\nmaximum-db-staleness = \"P400D\"" \
    deny.toml > "$root/deny.toml"
cargo deny --offline --config "$root/deny.toml" check advisories
