#!/usr/bin/env bash
# Claims benchmark: Baton's claims API (SQLite and PostgreSQL backends) against a transaction-based claim on etcd,
# claims/s at 16 clients, in the same run, on this machine.
#
# Installs what is missing (etcd, protoc, psql: Debian packages), drops and recreates the PostgreSQL database
# baton_bench, starts etcd and two Baton servers on loopback in a scratch directory, runs every scenario against
# every target (rotating the target order per scenario and round), prints one JSON line per measurement and a
# summary table with the ratio Baton/etcd and the issue's target, and stops everything it started, by PID, on exit.
# Safe to re-run.
#
# Usage: bash bench/run-claims.sh
# Environment (all optional):
#   DURATION_SECS=5        length of each measurement window
#   ROUNDS=3               rounds over all scenarios; the summary shows medians over rounds
#   TARGETS="baton-sqlite baton-postgres etcd"   which targets to run
#   SCENARIOS="claim-done:16 claim:16"   scenario:clients pairs (claim-done: claim + done = one op; claim: alone)
#   HTTP=raw               Baton's load generator: raw (request bytes on a socket per client), hyper or reqwest
#   MAX_LOAD=2.5           wait (up to 10 min) for the 1-minute load average to fall to this before measuring;
#                          empty: do not wait
#   CARGO_TARGET_DIR       for the Baton build (default /var/tmp/baton-ci-target)
#   BATON_BIN              a baton binary to use instead of building one
#   BENCH_TARGET_DIR       for the bench build (default /work/target-bench)
#   RESULTS_FILE           where the JSON lines are kept (default /tmp/baton-bench-claims-<time>.jsonl)
#   KEEP_SCRATCH=1         keep the scratch directory (logs, data) after the run
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(dirname "$HERE")
DURATION_SECS=${DURATION_SECS:-5}
ROUNDS=${ROUNDS:-3}
TARGETS=${TARGETS:-"baton-sqlite baton-postgres etcd"}
SCENARIOS=${SCENARIOS:-"claim-done:16 claim:16"}
HTTP=${HTTP:-raw}
MAX_LOAD=${MAX_LOAD-2.5}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-/var/tmp/baton-ci-target}
BATON_BIN=${BATON_BIN:-}
BENCH_TARGET_DIR=${BENCH_TARGET_DIR:-/work/target-bench}
RESULTS_FILE=${RESULTS_FILE:-/tmp/baton-bench-claims-$(date +%Y%m%d-%H%M%S).jsonl}
KEEP_SCRATCH=${KEEP_SCRATCH:-0}
export DEBIAN_FRONTEND=noninteractive

ETCD_URL=http://127.0.0.1:2379
BATON_SQLITE_ADDR=127.0.0.1:18080
BATON_PG_ADDR=127.0.0.1:18081
PG_HOST=127.0.0.1
PG_PORT=5432
PG_DB=baton_bench

BENCH_NAME=run-claims
# shellcheck source=lib.sh
source "$HERE/lib.sh"
# Targets that could not be measured, with the reason; printed with the summary, and the run then fails.
NOT_MEASURED=()
drop_target() { # drop_target TARGET REASON
    log "warning: $1 will NOT be measured: $2"
    NOT_MEASURED+=("$1: $2")
    TARGETS=$(tr ' ' '\n' <<<"$TARGETS" | grep -vx "$1" | tr '\n' ' ' || true)
}

# --- installs ---------------------------------------------------------------------------------------------------
# etcd-client (the Rust crate) compiles etcd's .proto files at build time with protoc.
command -v protoc >/dev/null || { log "installing protobuf-compiler (protoc, needed to build etcd-client)"; apt_install protobuf-compiler; }
command -v psql >/dev/null || { log "installing postgresql-client (psql)"; apt_install postgresql-client; }
if wants etcd && ! command -v etcd >/dev/null; then
    log "installing etcd"
    apt_install etcd-server etcd-client
fi

# --- ports must be free (a packaged service, or a leftover run, would skew or break the run) --------------------
need_ports=()
wants etcd && need_ports+=(2379 2380 2381)
wants baton-sqlite && need_ports+=("${BATON_SQLITE_ADDR##*:}")
wants baton-postgres && need_ports+=("${BATON_PG_ADDR##*:}")
for port in ${need_ports[@]+"${need_ports[@]}"}; do
    port_busy "$port" && die "port $port on 127.0.0.1 is already in use (a leftover run, or a packaged service?)"
done

# --- PostgreSQL: a fresh database for cluster-mode Baton ---------------------------------------------------------
export PGHOST=$PG_HOST PGPORT=$PG_PORT PGUSER=postgres
psql_q() { psql -tAc "$1" postgres; }
if wants baton-postgres; then
    if ! pg_isready -q 2>/dev/null; then
        drop_target baton-postgres "no PostgreSQL at $PG_HOST:$PG_PORT"
    else
        log "recreating database $PG_DB"
        recreate_db "$PG_DB"
    fi
fi

# --- builds ---------------------------------------------------------------------------------------------------------
build_binaries

# --- start the systems ----------------------------------------------------------------------------------------------
declare -A SERVER_PID=()
if wants etcd; then
    mkdir -p "$SCRATCH/etcd"
    etcd --name b1 --data-dir "$SCRATCH/etcd" \
        --listen-client-urls "$ETCD_URL" --advertise-client-urls "$ETCD_URL" \
        --listen-peer-urls http://127.0.0.1:2380 --initial-advertise-peer-urls http://127.0.0.1:2380 \
        --initial-cluster b1=http://127.0.0.1:2380 --listen-metrics-urls http://127.0.0.1:2381 \
        >"$SCRATCH/etcd.log" 2>&1 &
    PIDS+=($!)
    SERVER_PID[etcd]=$!
    wait_until 60 "$!" etcd "$SCRATCH/etcd.log" curl -fsS http://127.0.0.1:2381/health
fi
if wants baton-sqlite; then
    start_baton baton-sqlite "$BATON_SQLITE_ADDR" --data-dir "$SCRATCH/baton-sqlite/data"
    SERVER_PID[baton-sqlite]=${PIDS[-1]}
fi
if wants baton-postgres; then
    start_baton baton-postgres "$BATON_PG_ADDR" --database-url "postgres://postgres@$PG_HOST:$PG_PORT/$PG_DB?sslmode=disable" \
        --data-dir "$SCRATCH/baton-postgres/data"
    SERVER_PID[baton-postgres]=${PIDS[-1]}
fi

# --- run ------------------------------------------------------------------------------------------------------------
bench_args() { # the baton-bench arguments of one target
    case $1 in
        baton-sqlite) echo "--target baton --url http://$BATON_SQLITE_ADDR --label baton-sqlite --http $HTTP" ;;
        baton-postgres) echo "--target baton --url http://$BATON_PG_ADDR --label baton-postgres --http $HTTP" ;;
        etcd) echo "--target etcd --url $ETCD_URL --label etcd" ;;
        *) die "unknown target $1" ;;
    esac
}

# A Baton without the claims API answers 404: say so once, up front, instead of once per measurement.
for target in baton-sqlite baton-postgres; do
    wants "$target" || continue
    # shellcheck disable=SC2046 # word splitting of bench_args is intended
    if ! "$BENCH_BIN" claims $(bench_args "$target") --clients 1 --duration-secs 1 --warmup-secs 0 \
        >/dev/null 2>"$SCRATCH/preflight-$target.log"; then
        (($(wc -l <"$SCRATCH/preflight-$target.log") > 1)) && cat "$SCRATCH/preflight-$target.log" >&2
        drop_target "$target" "preflight failed: $(tail -n 1 "$SCRATCH/preflight-$target.log")"
    fi
done

read -r -a targets <<<"$TARGETS"
read -r -a scenarios <<<"$SCENARIOS"
((${#targets[@]} > 0)) || die "no targets left to run"
wait_for_quiet "$MAX_LOAD"
: >"$RESULTS_FILE"
log "targets: ${targets[*]}; scenarios: ${scenarios[*]}; ${ROUNDS} round(s) of ${DURATION_SECS}s windows"
log "results: $RESULTS_FILE"
LOADS=()
BUSY=()
failures=0
turn=0
for round in $(seq "$ROUNDS"); do
    for spec in "${scenarios[@]}"; do
        IFS=: read -r scenario clients <<<"$spec"
        [[ "$scenario" =~ ^(claim-done|claim)$ && "$clients" =~ ^[0-9]+$ ]] \
            || die "SCENARIOS entries are claim-done|claim:clients, not '$spec'"
        # Rotate the target order every scenario, so no target always runs first or last.
        n=${#targets[@]}
        for i in $(seq 0 $((n - 1))); do
            target=${targets[$(((i + turn) % n))]}
            load=$(cut -d' ' -f1 /proc/loadavg)
            busy=$(busy_pct 1)
            LOADS+=("$load")
            BUSY+=("$busy")
            log "round $round/$ROUNDS: $scenario at $clients clients on $target (load average $load; the idle machine was $busy% busy)"
            # shellcheck disable=SC2046 # word splitting of bench_args is intended
            if ! "$BENCH_BIN" claims $(bench_args "$target") --scenario "$scenario" --clients "$clients" \
                --duration-secs "$DURATION_SECS" --server-pid "${SERVER_PID[$target]}" | tee -a "$RESULTS_FILE"; then
                log "warning: $scenario on $target failed"
                failures=$((failures + 1))
            fi
        done
        turn=$((turn + 1))
    done
done

# --- summary --------------------------------------------------------------------------------------------------------
pg_settings() { psql_q "select 'synchronous_commit=' || current_setting('synchronous_commit') || ' fsync=' || current_setting('fsync')" 2>/dev/null || echo unknown; }
load_range=$(printf '%s\n' "${LOADS[@]}" | sort -g | sed -n '1p;$p' | paste -sd- -)
busy_range=$(printf '%s\n' "${BUSY[@]}" | sort -g | sed -n '1p;$p' | paste -sd- -)
echo
echo "== Claims benchmark, $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg) now, $load_range (1 min) before the measurements"
echo "   other work: the machine was ${busy_range}% busy (of all cores) in the second before each measurement, between measurements: mostly work other than ours"
echo "   ${ROUNDS} round(s), ${DURATION_SECS}s per measurement; scenarios ${scenarios[*]}; every worker claims items of its own (uncontended)"
echo "   versions: etcd $(etcd --version 2>/dev/null | head -1 | awk '{print $3}'); $(psql_q 'show server_version' 2>/dev/null | sed 's/^/PostgreSQL /' | cut -d' ' -f1-2); baton ${BATON_BIN:-not run} (repository HEAD $(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo '?'))"
echo "   durability: etcd fsyncs every transaction; baton-sqlite: SQLite WAL, sqlite_synchronous=full (Baton's default, WAL synced before an answer);"
echo "     baton-postgres: PostgreSQL $(pg_settings)"
for reason in ${NOT_MEASURED[@]+"${NOT_MEASURED[@]}"}; do
    echo "   NOT MEASURED: $reason"
done
echo
"$BENCH_BIN" summary "$RESULTS_FILE"
echo
log "JSON lines kept in $RESULTS_FILE"
if ((failures > 0)); then
    die "$failures measurement run(s) failed (see warnings above)"
fi
if ((${#NOT_MEASURED[@]} > 0)); then
    die "${#NOT_MEASURED[@]} target(s) were not measured (see above)"
fi
