#!/usr/bin/env bash
# A throwaway PostgreSQL for the tests, for machines where none answers at 127.0.0.1:5432:
# installs Debian's `postgresql` package if its programs are missing (apt-get, through sudo when
# not root), creates a cluster in a temporary folder as an unprivileged user (initdb refuses
# root), and starts it on a free port of 127.0.0.1 with trust authentication.
#
#   eval "$(scripts/throwaway-postgres.sh start)"   prints the exports of APIPROXY_TEST_PG_URL
#                                                   (what the tests connect to) and
#                                                   APIPROXY_PG_DIR (the folder to stop)
#   scripts/throwaway-postgres.sh stop DIR          stops that server and deletes its folder
#
# Everything but the exports goes to stderr.
set -euo pipefail

log() { printf 'throwaway-postgres: %s\n' "$*" >&2; }

# initdb and pg_ctl: on PATH, or in Debian's versioned folder.
find_bin() {
    if command -v "$1" > /dev/null 2>&1; then
        command -v "$1"
        return
    fi
    local found
    found=$(ls -d /usr/lib/postgresql/*/bin/"$1" 2> /dev/null | sort -V | tail -n 1 || true)
    [[ -n "$found" ]] && printf '%s\n' "$found"
}

as_root() {
    if [[ "$(id -u)" == 0 ]]; then
        "$@"
    else
        sudo "$@"
    fi
}

# Runs a command as the cluster's owner: ourselves, or when root an unprivileged user.
owner=""
as_owner() {
    if [[ -z "$owner" ]]; then
        "$@"
    else
        runuser -u "$owner" -- "$@"
    fi
}

pick_owner() {
    if [[ "$(id -u)" != 0 ]]; then
        owner=""
    elif id postgres > /dev/null 2>&1; then
        owner=postgres
    else
        owner=nobody
    fi
}

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

start() {
    local initdb pg_ctl
    initdb=$(find_bin initdb || true)
    pg_ctl=$(find_bin pg_ctl || true)
    if [[ -z "$initdb" || -z "$pg_ctl" ]]; then
        log "installing Debian's postgresql package"
        as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
        as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql >&2
        initdb=$(find_bin initdb)
        pg_ctl=$(find_bin pg_ctl)
    fi
    pick_owner
    local dir port
    dir=$(mktemp -d "${TMPDIR:-/tmp}/api-proxy-pg.XXXXXX")
    if [[ -n "$owner" ]]; then
        chown "$owner" "$dir"
    fi
    port=$(free_port)
    log "initdb into $dir (as ${owner:-$(id -un)})"
    as_owner "$initdb" -D "$dir/data" -U postgres --auth=trust -E UTF8 --no-sync > "$dir/initdb.log" 2>&1 || {
        cat "$dir/initdb.log" >&2
        exit 1
    }
    # Tests only: no fsync, the socket in the folder (not /var/run), TCP on loopback only.
    as_owner "$pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
        -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=300" \
        start > /dev/null || {
        cat "$dir/server.log" >&2
        exit 1
    }
    log "PostgreSQL on 127.0.0.1:$port"
    printf 'export APIPROXY_TEST_PG_URL=%q\n' "postgres://postgres@127.0.0.1:$port/postgres"
    printf 'export APIPROXY_PG_DIR=%q\n' "$dir"
}

stop() {
    local dir=${1:?usage: throwaway-postgres.sh stop DIR}
    [[ -d "$dir/data" ]] || return 0
    pick_owner
    as_owner "$(find_bin pg_ctl)" -D "$dir/data" -m immediate -w stop > /dev/null 2>&1 || true
    rm -rf "$dir"
}

case "${1:-}" in
    start) start ;;
    stop) stop "${2:-}" ;;
    *)
        sed -n '2,11s/^# \{0,1\}//p' "$0" >&2
        exit 2
        ;;
esac
