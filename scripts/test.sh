#!/usr/bin/env bash
# Every test of the project, in the order a reviewer would run them:
#   formatting, lints, the shipped dashboard build against its sources, the dependency policy
#   (cargo deny), unit + integration tests, then end-to-end tests with the official openai SDKs
#   (Python and Node), schemathesis against the OpenAPI description and the dashboard's
#   end-to-end tests in headless Chromium.
# Not here: tests/first-start/run.sh (a from-scratch build, see docs/first-start.md).
# Installs what it needs (a Python venv at .venv; the wasm target, trunk, wasm-bindgen-cli,
# cargo-deny, Chromium and playwright-core through scripts/install-tools.sh) and skips that when
# it is already up to date.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

step() { printf '\n==> %s\n' "$*"; }

REQUIREMENTS=tests/e2e/requirements.txt
VENV=.venv
STAMP="$VENV/.requirements.sha256"

step "Python venv for the end-to-end tests ($VENV)"
if [[ ! -x "$VENV/bin/python" ]]; then
    python3 -m venv "$VENV"
fi
# The stamp covers requirements.txt and the venv's Python, so either changing reinstalls.
wanted="$( { sha256sum "$REQUIREMENTS"; "$VENV/bin/python" --version; } | sha256sum | cut -d' ' -f1)"
if [[ "$(cat "$STAMP" 2>/dev/null || true)" != "$wanted" ]]; then
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r "$REQUIREMENTS"
    printf '%s\n' "$wanted" > "$STAMP"
else
    echo "up to date"
fi

step "scripts/install-tools.sh (wasm target, trunk, wasm-bindgen-cli, Chromium, playwright-core, cargo-deny)"
scripts/install-tools.sh

step "cargo fmt --all --check"
cargo fmt --all --check

step "cargo clippy --workspace --all-targets -- -D warnings"
cargo clippy --workspace --all-targets -- -D warnings

step "cargo clippy -p dashboard --target wasm32-unknown-unknown -- -D warnings"
cargo clippy -p dashboard --target wasm32-unknown-unknown -- -D warnings

step "cargo fetch --locked (every platform's crates: cargo deny reads them all, offline)"
# A build downloads only this platform's crates; cargo deny's metadata needs the others too
# (windows-sys and the like), and on a fresh machine they are not in the registry cache yet.
cargo fetch --locked

step "scripts/check-dashboard-prebuilt.sh (the shipped dashboard build is the build of dashboard/ and shared/)"
scripts/check-dashboard-prebuilt.sh

step "cargo deny --offline check licenses bans sources (deny.toml)"
cargo deny --offline check licenses bans sources

step "scripts/check-advisories.sh (cargo deny check advisories: RustSec, live or the deny/advisory-db snapshot)"
scripts/check-advisories.sh

step "PostgreSQL for the tests (APIPROXY_TEST_PG_URL; a throwaway one when 127.0.0.1:5432 does not answer)"
# The tests of several instances on one PostgreSQL database need one; they are never skipped.
pg_answers() {
    if command -v pg_isready > /dev/null 2>&1; then
        pg_isready -q -h 127.0.0.1 -p 5432
    else
        (exec 3<> /dev/tcp/127.0.0.1/5432) 2> /dev/null
    fi
}
if [[ -n "${APIPROXY_TEST_PG_URL:-}" ]]; then
    echo "using APIPROXY_TEST_PG_URL"
elif pg_answers; then
    echo "using the one at 127.0.0.1:5432"
else
    eval "$(scripts/throwaway-postgres.sh start)"
    trap 'scripts/throwaway-postgres.sh stop "$APIPROXY_PG_DIR"' EXIT
fi

step "cargo test --workspace"
cargo test --workspace

step "scripts/build-dashboard.sh (trunk build --release --offline into dashboard/dist)"
# Before the api-proxy build, which embeds dashboard/dist.
scripts/build-dashboard.sh

step "cargo build -p api-proxy -p mock-upstream"
cargo build -p api-proxy -p mock-upstream

step "pytest tests/e2e (official openai SDK against api-proxy and mock-upstream)"
# No __pycache__ folders in the work tree.
export PYTHONDONTWRITEBYTECODE=1
SCHEMATHESIS_TESTS=tests/e2e/test_openapi_schemathesis.py
"$VENV/bin/python" -m pytest -q tests/e2e --ignore="$SCHEMATHESIS_TESTS"

step "schemathesis against GET /api/openapi.json (api-proxy and mock-upstream; about 30 s)"
"$VENV/bin/python" -m pytest -q "$SCHEMATHESIS_TESTS"

step "node --test tests/e2e-node/ (official openai Node SDK against api-proxy and mock-upstream)"
wanted=$(sed -n 's/.*"openai": *"\([^"]*\)".*/\1/p' tests/e2e-node/package.json)
installed=$(sed -n 's/^ *"version": *"\([^"]*\)".*/\1/p' tests/e2e-node/node_modules/openai/package.json 2> /dev/null || true)
if [[ "$installed" != "$wanted" ]]; then
    (cd tests/e2e-node && npm ci --no-audit --no-fund)
fi
node --test tests/e2e-node/

step "node --test tests/dashboard/ (the dashboard in headless Chromium, against api-proxy)"
node --test tests/dashboard/
