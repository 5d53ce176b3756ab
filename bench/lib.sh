# Shared by run-locks.sh and run-jobs.sh: logging, the scratch dir and the processes to stop on exit, installs
# through apt, and starting a system and waiting until it answers. A script sets BENCH_NAME, TARGETS and
# KEEP_SCRATCH, then sources this file.

log() { printf '[%s] %s\n' "$BENCH_NAME" "$*" >&2; }
die() { log "error: $*"; exit 1; }
wants() { [[ " $TARGETS " == *" $1 "* ]]; }

SCRATCH=$(mktemp -d -t "baton-bench-$BENCH_NAME.XXXXXX")
PIDS=()

cleanup() {
    local pid
    for pid in ${PIDS[@]+"${PIDS[@]}"}; do
        kill -TERM "$pid" 2>/dev/null || true
    done
    for pid in ${PIDS[@]+"${PIDS[@]}"}; do
        for _ in $(seq 50); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.2
        done
        if kill -0 "$pid" 2>/dev/null; then
            log "PID $pid did not stop on TERM; killing it"
            kill -KILL "$pid" 2>/dev/null || true
        fi
        wait "$pid" 2>/dev/null || true
    done
    if [[ "$KEEP_SCRATCH" == 1 ]]; then
        log "scratch kept: $SCRATCH"
    else
        rm -rf "$SCRATCH"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

apt_install() {
    # Try the local package lists first; refresh them only if that fails.
    apt-get install -y "$@" >"$SCRATCH/apt.log" 2>&1 \
        || { apt-get update >>"$SCRATCH/apt.log" 2>&1 && apt-get install -y "$@" >>"$SCRATCH/apt.log" 2>&1; } \
        || { cat "$SCRATCH/apt.log" >&2; die "apt-get install $* failed"; }
}

port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# wait_until SECONDS PID NAME LOG CMD...: polls CMD until it succeeds; fails if PID dies or time runs out.
wait_until() {
    local secs=$1 pid=$2 name=$3 logfile=$4
    shift 4
    local deadline=$((SECONDS + secs))
    until "$@" >/dev/null 2>&1; do
        if ! kill -0 "$pid" 2>/dev/null; then
            tail -n 30 "$logfile" >&2 || true
            die "$name exited during start-up (log above: $logfile)"
        fi
        ((SECONDS < deadline)) || { tail -n 30 "$logfile" >&2 || true; die "$name not ready after ${secs}s"; }
        sleep 0.2
    done
    log "$name ready (PID $pid)"
}

# start_baton NAME ADDR ARGS...: `baton serve` (the binary in BATON_BIN) in its own scratch dir.
start_baton() {
    local name=$1 addr=$2
    shift 2
    mkdir -p "$SCRATCH/$name"
    (cd "$SCRATCH/$name" && exec "$BATON_BIN" serve --http-addr "$addr" "$@") >"$SCRATCH/$name.log" 2>&1 &
    PIDS+=($!)
    wait_until 60 "$!" "$name" "$SCRATCH/$name.log" curl -fsS "http://$addr/health"
}
