#!/usr/bin/env bash
# Workflows benchmark: a 3-step no-op durable workflow on Baton's engine embedded in process (SQLite with durable
# commits, and PostgreSQL) against DBOS Transact for Python on the same PostgreSQL, in the same run.
#
# Installs what is missing (psql: a Debian package; dbos: into a venv, see bench/peers/workflows/install.sh),
# builds baton-bench, runs every scenario on every target (rotating the target order per scenario and round, each
# measurement on a freshly created database or data dir), prints one JSON line per measurement and a summary
# table with the ratio Baton/DBOS. Safe to re-run.
#
# Usage: bash bench/run-workflows.sh
# Environment (all optional):
#   DURATION_SECS=5        length of each measurement window
#   ROUNDS=3               rounds over all scenarios; the summary shows medians over rounds
#   TARGETS="baton-sqlite baton-postgres dbos"
#   SCENARIOS="sequential:1 inflight:32"   scenario:workflows in flight
#   BENCH_TARGET_DIR       for the bench build (default /work/target-bench)
#   VENV_DIR               DBOS's venv (default /tmp/baton-bench-dbos-venv, kept)
#   RESULTS_FILE           where the JSON lines are kept (default /tmp/baton-bench-workflows-<time>.jsonl)
#   MAX_LOAD               wait for the 1-minute load average to drop to this before measuring (default 1.5)
#   KEEP_SCRATCH=1         keep the scratch directory
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(dirname "$HERE")
DURATION_SECS=${DURATION_SECS:-5}
ROUNDS=${ROUNDS:-3}
TARGETS=${TARGETS:-"baton-sqlite baton-postgres dbos"}
SCENARIOS=${SCENARIOS:-"sequential:1 inflight:32"}
BENCH_TARGET_DIR=${BENCH_TARGET_DIR:-/work/target-bench}
export VENV_DIR=${VENV_DIR:-/tmp/baton-bench-dbos-venv}
RESULTS_FILE=${RESULTS_FILE:-/tmp/baton-bench-workflows-$(date +%Y%m%d-%H%M%S).jsonl}
MAX_LOAD=${MAX_LOAD:-1.5}
KEEP_SCRATCH=${KEEP_SCRATCH:-0}
export DEBIAN_FRONTEND=noninteractive
export PGHOST=127.0.0.1 PGPORT=5432 PGUSER=postgres
BATON_DB=baton_bench_workflows
DBOS_DB=baton_bench_dbos

BENCH_NAME=run-workflows
# shellcheck source=lib.sh
source "$HERE/lib.sh"

command -v psql >/dev/null || { log "installing postgresql-client (psql)"; apt_install postgresql-client; }
# baton-bench links etcd-client for the lock benchmark, whose build script needs protoc.
command -v protoc >/dev/null || { log "installing protobuf-compiler (protoc, needed to build etcd-client)"; apt_install protobuf-compiler; }
pg_isready -q || die "no PostgreSQL at $PGHOST:$PGPORT (both Baton-on-PostgreSQL and DBOS need it)"
if wants dbos; then
    log "installing DBOS (if missing) into $VENV_DIR"
    bash "$HERE/peers/workflows/install.sh" >&2
fi
# Baton runs inside baton-bench here (embedded), so only the bench is built.
BENCH_BIN=$BENCH_TARGET_DIR/release/baton-bench
log "building baton-bench (release, target dir $BENCH_TARGET_DIR)"
(cd "$HERE" && CARGO_TARGET_DIR=$BENCH_TARGET_DIR cargo build --release)

measure() { # measure TARGET SCENARIO CLIENTS ROUND
    local target=$1 scenario=$2 clients=$3 round=$4
    case $target in
        baton-sqlite)
            rm -rf "$SCRATCH/baton-sqlite"
            "$BENCH_BIN" workflows --backend sqlite --data-dir "$SCRATCH/baton-sqlite" --scenario "$scenario" \
                --clients "$clients" --duration-secs "$DURATION_SECS" --round "$round" ;;
        baton-postgres)
            recreate_db "$BATON_DB"
            "$BENCH_BIN" workflows --backend postgres --database-url "postgres://postgres@$PGHOST:$PGPORT/$BATON_DB?sslmode=disable" \
                --scenario "$scenario" --clients "$clients" --duration-secs "$DURATION_SECS" --round "$round" ;;
        dbos)
            "$VENV_DIR/bin/python" "$HERE/peers/workflows/dbos_bench.py" \
                --database-url "postgresql://postgres@$PGHOST:$PGPORT/$DBOS_DB?sslmode=disable" --scenario "$scenario" \
                --concurrency "$clients" --duration-secs "$DURATION_SECS" --round "$round" 2>"$SCRATCH/dbos.log" \
                || { tail -n 20 "$SCRATCH/dbos.log" >&2; return 1; } ;;
        *) die "unknown target $target" ;;
    esac
}

read -r -a targets <<<"$TARGETS"
read -r -a scenarios <<<"$SCENARIOS"
wait_for_quiet "$MAX_LOAD"
: >"$RESULTS_FILE"
log "targets: ${targets[*]}; scenarios: ${scenarios[*]}; ${ROUNDS} round(s) of ${DURATION_SECS}s windows"
failures=0
turn=0
for round in $(seq "$ROUNDS"); do
    for spec in "${scenarios[@]}"; do
        IFS=: read -r scenario clients <<<"$spec"
        [[ "$scenario" =~ ^(sequential|inflight)$ && "$clients" =~ ^[0-9]+$ ]] \
            || die "SCENARIOS entries are sequential|inflight:clients, not '$spec'"
        n=${#targets[@]}
        for i in $(seq 0 $((n - 1))); do
            target=${targets[$(((i + turn) % n))]}
            log "round $round/$ROUNDS: $scenario ($clients in flight) on $target (load average $(cut -d' ' -f1 /proc/loadavg))"
            if ! measure "$target" "$scenario" "$clients" "$round" | tee -a "$RESULTS_FILE"; then
                log "warning: $scenario on $target failed"
                failures=$((failures + 1))
            fi
        done
        turn=$((turn + 1))
    done
done
recreate_db "$BATON_DB" nocreate
recreate_db "$DBOS_DB" nocreate

echo
echo "== Workflows benchmark, $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "   ${ROUNDS} round(s), ${DURATION_SECS}s per measurement; a workflow = start + 3 no-op steps + result, in process"
echo "   versions: $(psql -tAc 'show server_version' postgres | sed 's/^/PostgreSQL /' | cut -d' ' -f1-2); dbos $("$VENV_DIR/bin/python" -c 'import importlib.metadata as m; print(m.version("dbos"))' 2>/dev/null || echo '?'); baton $(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo '?')"
echo "   durability: baton-sqlite: WAL, sqlite_synchronous=full (WAL synced before an answer); PostgreSQL (both): synchronous_commit=$(psql -tAc 'show synchronous_commit' postgres) fsync=$(psql -tAc 'show fsync' postgres)"
echo
"$BENCH_BIN" summary "$RESULTS_FILE"
log "JSON lines kept in $RESULTS_FILE"
((failures == 0)) || die "$failures measurement run(s) failed (see warnings above)"
