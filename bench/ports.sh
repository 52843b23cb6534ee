# Shared by bench/run.sh and bench/soak.sh (sourced, not run).

# A free loopback port: bash's /dev/tcp connect fails when nothing listens there.
free_port() {
    local port
    while :; do
        port=$((20000 + RANDOM % 12000))
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            echo "$port"
            return
        fi
    done
}

# Waits (up to 10 s) until something listens on 127.0.0.1:$1.
wait_port() {
    local port=$1 i
    for ((i = 0; i < 500; i++)); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then return 0; fi
        sleep 0.02
    done
    echo "nothing listens on 127.0.0.1:$port" >&2
    return 1
}
