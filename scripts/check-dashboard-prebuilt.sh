#!/usr/bin/env bash
# Fails when the dashboard build shipped in the repository (dashboard/prebuilt/dist, embedded by
# ./start.sh and the Docker image) is not the build of the current sources: the hash of the
# dashboard's inputs (scripts/dashboard-inputs.sh) must equal dashboard/prebuilt/inputs.sha256,
# and every file the shipped index.html loads must be there.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

PREBUILT=dashboard/prebuilt
fix="run scripts/build-dashboard.sh --refresh-prebuilt (needs scripts/install-tools.sh --build-only) and commit $PREBUILT"

if [[ ! -f $PREBUILT/dist/index.html || ! -f $PREBUILT/inputs.sha256 ]]; then
    echo "check-dashboard-prebuilt: $PREBUILT/dist/index.html or $PREBUILT/inputs.sha256 is missing; $fix" >&2
    exit 1
fi

recorded=$(tr -d '[:space:]' < $PREBUILT/inputs.sha256)
current=$(scripts/dashboard-inputs.sh)
if [[ "$recorded" != "$current" ]]; then
    echo "check-dashboard-prebuilt: $PREBUILT is stale: the dashboard's sources changed since it was built" >&2
    echo "  (recorded inputs $recorded, current $current; scripts/dashboard-inputs.sh --list shows what is hashed)" >&2
    echo "  $fix" >&2
    exit 1
fi

# Every local script, style sheet, module and icon index.html refers to (trunk's hashed names).
missing=0
while read -r ref; do
    if [[ ! -f "$PREBUILT/dist/${ref#/}" ]]; then
        echo "check-dashboard-prebuilt: $PREBUILT/dist/index.html refers to $ref, which is missing" >&2
        missing=1
    fi
done < <(grep -o '\(href\|src\)="/[^"]*"' $PREBUILT/dist/index.html | sed 's/^[a-z]*="//; s/"$//' | sort -u)
grep -o "'/[^']*\.\(js\|wasm\)'" $PREBUILT/dist/index.html | tr -d "'" | sort -u | while read -r ref; do
    [[ -f "$PREBUILT/dist/${ref#/}" ]] || { echo "check-dashboard-prebuilt: index.html loads $ref, which is missing" >&2; exit 1; }
done || missing=1
if ((missing)); then
    echo "  $fix" >&2
    exit 1
fi
echo "dashboard/prebuilt is the build of the current sources (inputs $current)"
