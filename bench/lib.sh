# Shared by the run-*.sh scripts: logging, the scratch dir and the processes to stop on exit, installs
# through apt, starting a system and waiting until it answers, and waiting for a quiet machine. A script sets
# BENCH_NAME, TARGETS and KEEP_SCRATCH, then sources this file.

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

# wait_for_quiet MAX_LOAD [MAX_SECS]: waits, polling every 30 s for up to MAX_SECS (default 600), until the 1-minute
# load average is at most MAX_LOAD, so someone else's build does not distort the figures. An empty MAX_LOAD skips
# the wait; a machine still busy at the limit is measured anyway, with a warning (the load is in the summary).
wait_for_quiet() {
    local max=$1 limit=${2:-600} waited=0 load
    [[ -n "$max" ]] || return 0
    while load=$(cut -d' ' -f1 /proc/loadavg) && awk -v l="$load" -v m="$max" 'BEGIN { exit !(l > m) }'; do
        if ((waited >= limit)); then
            log "warning: load average still $load (> $max) after ${limit}s; measuring anyway"
            return 0
        fi
        log "load average $load > $max: waiting 30 s for the machine to quieten"
        sleep 30
        waited=$((waited + 30))
    done
}

# busy_pct [SECS]: percent of all cores busy over SECS seconds (default 1), whoever is busy, from /proc/stat. Run
# between measurements, while the benchmark's own servers idle, it shows what else the machine is doing: the load
# average cannot, since it still counts the measurement that just ended.
busy_pct() {
    local a b
    read -r -a a </proc/stat
    sleep "${1:-1}"
    read -r -a b </proc/stat
    # cpu user nice system idle iowait irq softirq steal: idle time is idle + iowait.
    awk -v a="${a[*]}" -v b="${b[*]}" 'BEGIN {
        split(a, x); split(b, y); total = 0
        for (i = 2; i <= 9; i++) total += y[i] - x[i]
        idle = (y[5] - x[5]) + (y[6] - x[6])
        printf "%.0f", (total > 0 ? 100 * (total - idle) / total : 0)
    }'
}

# build_binaries: baton (unless BATON_BIN names one, or no Baton target is wanted) and this crate, in release.
# Sets BATON_BIN and BENCH_BIN.
build_binaries() {
    BENCH_BIN=$BENCH_TARGET_DIR/release/baton-bench
    # Any Baton target: baton-sqlite, baton-postgres, and the two-node ones (baton-postgres-2nodes, -cross).
    if [[ " $TARGETS " == *" baton-"* ]]; then
        if [[ -n "$BATON_BIN" ]]; then
            log "using BATON_BIN=$BATON_BIN (not building baton)"
        else
            log "building baton (release, CARGO_TARGET_DIR=$CARGO_TARGET_DIR)"
            (cd "$REPO" && cargo build --release -p baton)
            BATON_BIN=$CARGO_TARGET_DIR/release/baton
        fi
    fi
    log "building baton-bench (release, target dir $BENCH_TARGET_DIR)"
    (cd "$HERE" && CARGO_TARGET_DIR=$BENCH_TARGET_DIR cargo build --release)
}

# recreate_db DB [nocreate]: drops DB and creates it again, so old migrations or old rows cannot skew or break a
# run. Without FORCE: a database still in use (someone else's run) makes this fail instead of cutting their
# connections.
recreate_db() {
    psql -q -v ON_ERROR_STOP=1 -c "drop database if exists $1" postgres >/dev/null 2>"$SCRATCH/dropdb.log" \
        || { cat "$SCRATCH/dropdb.log" >&2; die "cannot drop database $1 (still in use?)"; }
    [[ "${2:-}" == nocreate ]] || psql -q -v ON_ERROR_STOP=1 -c "create database $1" postgres >/dev/null
}
