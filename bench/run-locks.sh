#!/usr/bin/env bash
# Lock benchmark: Baton (SQLite and PostgreSQL backends) against etcd and Redis, in the same run, on this machine.
#
# Installs what is missing (etcd, redis-server, protoc: Debian packages), starts etcd, a private Redis and two
# Baton servers on loopback in a scratch directory, runs every scenario against every target (alternating the
# target order per scenario and round), prints one JSON line per measurement and a summary table with the ratios
# Baton/etcd and Baton/Redis, and stops everything it started, by PID, on exit. Safe to re-run.
#
# Usage: bash bench/run-locks.sh
# Environment (all optional):
#   DURATION_SECS=5      length of each measurement window
#   ROUNDS=3             rounds over all scenarios; the summary shows medians over rounds
#   TARGETS="baton-sqlite baton-postgres baton-postgres-2nodes etcd redis"   which targets to run
#                        (baton-postgres-2nodes: two `baton serve` nodes on one PostgreSQL, clients alternate)
#   REDIS_DURABLE=1      Redis with --appendonly yes --appendfsync always (default: no persistence at all)
#   CARGO_TARGET_DIR     for the Baton build (default /var/tmp/baton-ci-target, as .ci/run)
#   BATON_BIN            a baton binary to use instead of building one
#   BENCH_TARGET_DIR     for the bench build (default /work/target-bench)
#   RESULTS_FILE         where the JSON lines are kept (default /tmp/baton-bench-locks-<time>.jsonl)
#   KEEP_SCRATCH=1       keep the scratch directory (logs, data) after the run
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(dirname "$HERE")
DURATION_SECS=${DURATION_SECS:-5}
ROUNDS=${ROUNDS:-3}
TARGETS=${TARGETS:-"baton-sqlite baton-postgres baton-postgres-2nodes etcd redis"}
REDIS_DURABLE=${REDIS_DURABLE:-0}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-/var/tmp/baton-ci-target}
BENCH_TARGET_DIR=${BENCH_TARGET_DIR:-/work/target-bench}
RESULTS_FILE=${RESULTS_FILE:-/tmp/baton-bench-locks-$(date +%Y%m%d-%H%M%S).jsonl}
BATON_BIN=${BATON_BIN:-}
KEEP_SCRATCH=${KEEP_SCRATCH:-0}
export DEBIAN_FRONTEND=noninteractive

ETCD_URL=http://127.0.0.1:2379
REDIS_PORT=6390
BATON_SQLITE_ADDR=127.0.0.1:18080
BATON_PG_ADDR=127.0.0.1:18081
BATON_PG_SECOND_ADDR=127.0.0.1:18082
PG_HOST=127.0.0.1
PG_PORT=5432
PG_DB=baton_bench

BENCH_NAME=run-locks
# shellcheck source=lib.sh
source "$HERE/lib.sh"


# --- installs ---------------------------------------------------------------------------------------------------
# etcd-client (the Rust crate) compiles etcd's .proto files at build time with protoc.
command -v protoc >/dev/null || { log "installing protobuf-compiler (protoc, needed to build etcd-client)"; apt_install protobuf-compiler; }
if wants etcd && ! command -v etcd >/dev/null; then
    log "installing etcd"
    apt_install etcd-server etcd-client
fi
if wants redis && ! command -v redis-server >/dev/null; then
    log "installing redis-server"
    apt_install redis-server
fi

# --- ports must be free (a package's own service, or a leftover run, would skew or break the run) ----------------
need_ports=()
wants etcd && need_ports+=(2379 2380 2381)
wants redis && need_ports+=("$REDIS_PORT")
wants baton-sqlite && need_ports+=("${BATON_SQLITE_ADDR##*:}")
wants baton-postgres && need_ports+=("${BATON_PG_ADDR##*:}")
wants baton-postgres-2nodes && need_ports+=("${BATON_PG_ADDR##*:}" "${BATON_PG_SECOND_ADDR##*:}")
for port in ${need_ports[@]+"${need_ports[@]}"}; do
    port_busy "$port" && die "port $port on 127.0.0.1 is already in use (a leftover run, or a packaged service?)"
done

# --- PostgreSQL for baton-postgres ---------------------------------------------------------------------------------
if wants baton-postgres || wants baton-postgres-2nodes; then
    if ! pg_isready -h "$PG_HOST" -p "$PG_PORT" -q 2>/dev/null; then
        log "warning: no PostgreSQL at $PG_HOST:$PG_PORT; skipping baton-postgres and baton-postgres-2nodes"
        TARGETS=${TARGETS//baton-postgres-2nodes/}
        TARGETS=${TARGETS//baton-postgres/}
    elif [[ "$(psql -h "$PG_HOST" -p "$PG_PORT" -U postgres -tAc "select 1 from pg_database where datname = '$PG_DB'")" != 1 ]]; then
        log "creating database $PG_DB"
        psql -h "$PG_HOST" -p "$PG_PORT" -U postgres -c "create database $PG_DB" >/dev/null
    fi
fi

# --- builds ---------------------------------------------------------------------------------------------------------
build_binaries

# --- start the systems ----------------------------------------------------------------------------------------------

if wants etcd; then
    mkdir -p "$SCRATCH/etcd"
    etcd --name b1 --data-dir "$SCRATCH/etcd" \
        --listen-client-urls "$ETCD_URL" --advertise-client-urls "$ETCD_URL" \
        --listen-peer-urls http://127.0.0.1:2380 --initial-advertise-peer-urls http://127.0.0.1:2380 \
        --initial-cluster b1=http://127.0.0.1:2380 --listen-metrics-urls http://127.0.0.1:2381 \
        >"$SCRATCH/etcd.log" 2>&1 &
    PIDS+=($!)
    wait_until 60 "$!" etcd "$SCRATCH/etcd.log" curl -fsS http://127.0.0.1:2381/health
fi

if wants redis; then
    mkdir -p "$SCRATCH/redis"
    if [[ "$REDIS_DURABLE" == 1 ]]; then
        REDIS_LABEL=redis-aof
        redis_persist=(--appendonly yes --appendfsync always)
        log "Redis: AOF with fsync on every write (durable)"
    else
        REDIS_LABEL=redis
        redis_persist=(--appendonly no)
        log "Redis: no persistence at all (NOT durable; REDIS_DURABLE=1 for appendfsync always)"
    fi
    redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --save "" "${redis_persist[@]}" --dir "$SCRATCH/redis" \
        >"$SCRATCH/redis.log" 2>&1 &
    PIDS+=($!)
    wait_until 30 "$!" redis "$SCRATCH/redis.log" redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping
fi

wants baton-sqlite && start_baton baton-sqlite "$BATON_SQLITE_ADDR" --data-dir "$SCRATCH/baton-sqlite/data"
PG_URL="postgres://postgres@$PG_HOST:$PG_PORT/$PG_DB?sslmode=disable"
if wants baton-postgres || wants baton-postgres-2nodes; then
    start_baton baton-postgres "$BATON_PG_ADDR" --database-url "$PG_URL" --node-id bench-a
fi
# The second node of the same cluster: baton-postgres-2nodes sends every other client to it.
wants baton-postgres-2nodes && start_baton baton-postgres-b "$BATON_PG_SECOND_ADDR" --database-url "$PG_URL" --node-id bench-b

# --- run ------------------------------------------------------------------------------------------------------------
bench_args() { # the baton-bench arguments of one target
    case $1 in
        baton-sqlite) echo "--target baton --url http://$BATON_SQLITE_ADDR --label baton-sqlite" ;;
        baton-postgres) echo "--target baton --url http://$BATON_PG_ADDR --label baton-postgres" ;;
        baton-postgres-2nodes)
            echo "--target baton --url http://$BATON_PG_ADDR,http://$BATON_PG_SECOND_ADDR --label baton-postgres-2nodes" ;;
        etcd) echo "--target etcd --url $ETCD_URL --label etcd" ;;
        redis) echo "--target redis --url redis://127.0.0.1:$REDIS_PORT --label $REDIS_LABEL" ;;
        *) die "unknown target $1" ;;
    esac
}

read -r -a targets <<<"$TARGETS"
((${#targets[@]} > 0)) || die "no targets to run"
: >"$RESULTS_FILE"
log "targets: ${targets[*]}; ${ROUNDS} round(s) of ${DURATION_SECS}s windows; results: $RESULTS_FILE"
failures=0
turn=0
for round in $(seq "$ROUNDS"); do
    # handoff-2: the contended scenario with 2 clients. On baton-postgres-2nodes the clients sit on different
    # nodes, so every hand-off wakes a waiter on the other node: the cross-node wake-up, from release to grant.
    for scenario in uncontended contended handoff-2 keepalive; do
        # Rotate the target order every scenario, so no target always runs first or last.
        n=${#targets[@]}
        for i in $(seq 0 $((n - 1))); do
            target=${targets[$(((i + turn) % n))]}
            log "round $round/$ROUNDS: $scenario on $target"
            # shellcheck disable=SC2046 # word splitting of bench_args is intended
            case $scenario in
                handoff-2) scenario_args=(--scenario contended --clients 2) ;;
                *) scenario_args=(--scenario "$scenario") ;;
            esac
            if ! "$BENCH_BIN" locks $(bench_args "$target") "${scenario_args[@]}" \
                --duration-secs "$DURATION_SECS" | tee -a "$RESULTS_FILE"; then
                log "warning: $scenario on $target failed"
                failures=$((failures + 1))
            fi
        done
        turn=$((turn + 1))
    done
done

# --- summary --------------------------------------------------------------------------------------------------------
echo
echo "== Lock benchmark, $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "   ${ROUNDS} round(s), ${DURATION_SECS}s per measurement; etcd $(etcd --version 2>/dev/null | head -1 | awk '{print $3}'); redis $(redis-server --version 2>/dev/null | awk '{print $3}' | sed 's/^v=//')"
if [[ "$REDIS_DURABLE" == 1 ]]; then
    echo "   durability: etcd fsyncs every lock/unlock; Redis appendfsync always; Baton as configured by its backend"
else
    echo "   durability: etcd fsyncs every lock/unlock; Redis NOT durable (no AOF, no RDB); Baton as configured by its backend"
fi
echo
"$BENCH_BIN" summary "$RESULTS_FILE"
echo
log "JSON lines kept in $RESULTS_FILE"
if ((failures > 0)); then
    die "$failures measurement run(s) failed (see warnings above)"
fi
