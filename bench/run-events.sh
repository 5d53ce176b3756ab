#!/usr/bin/env bash
# Events benchmark: Baton (SQLite, PostgreSQL, and two PostgreSQL nodes) against Message DB, in the same run, on
# this machine and the same PostgreSQL server.
#
# Installs what is missing (protoc and npm: Debian packages; Message DB: the npm package @eventide/message-db,
# unpacked with `npm pack` into a directory kept between runs), drops and recreates the PostgreSQL databases
# baton_bench and message_store, installs Message DB into message_store with its own install.sh, starts three
# Baton servers on loopback in a scratch directory (embedded on 18080; cluster nodes A on 18081 and B on 18082,
# sharing baton_bench), runs every scenario against every target (rotating the target order per scenario and
# round), prints one JSON line per measurement and a summary table with the ratios Baton/Message DB and the
# issue's targets, and stops everything it started, by PID, on exit. Safe to re-run.
#
# Usage: bash bench/run-events.sh
# Environment (all optional):
#   DURATION_SECS=5        length of each measurement window
#   ROUNDS=3               rounds over all scenarios; the summary shows medians over rounds
#   TARGETS="baton-sqlite baton-postgres baton-postgres-cross messagedb"   which targets to run
#   SCENARIOS="append:1:1 append:8:1 append:1:100 append:8:100 subscribe:1:1"   scenario:clients:batch triples
#   INTERVAL_MS=5          subscribe: one append every this many milliseconds
#   MESSAGE_DB_VERSION=1.3.1   the @eventide/message-db package version
#   MESSAGE_DB_DIR         where the Message DB package is unpacked (default /tmp/baton-bench-events-messagedb, kept)
#   CARGO_TARGET_DIR       for the Baton build (default /var/tmp/baton-ci-target)
#   BATON_BIN              a baton binary to use instead of building one
#   BENCH_TARGET_DIR       for the bench build (default /work/target-bench)
#   RESULTS_FILE           where the JSON lines are kept (default /tmp/baton-bench-events-<time>.jsonl)
#   KEEP_SCRATCH=1         keep the scratch directory (logs, data) after the run
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(dirname "$HERE")
DURATION_SECS=${DURATION_SECS:-5}
ROUNDS=${ROUNDS:-3}
TARGETS=${TARGETS:-"baton-sqlite baton-postgres baton-postgres-cross messagedb"}
SCENARIOS=${SCENARIOS:-"append:1:1 append:8:1 append:1:100 append:8:100 subscribe:1:1"}
INTERVAL_MS=${INTERVAL_MS:-5}
MESSAGE_DB_VERSION=${MESSAGE_DB_VERSION:-1.3.1}
MESSAGE_DB_DIR=${MESSAGE_DB_DIR:-/tmp/baton-bench-events-messagedb}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-/var/tmp/baton-ci-target}
BATON_BIN=${BATON_BIN:-}
BENCH_TARGET_DIR=${BENCH_TARGET_DIR:-/work/target-bench}
RESULTS_FILE=${RESULTS_FILE:-/tmp/baton-bench-events-$(date +%Y%m%d-%H%M%S).jsonl}
KEEP_SCRATCH=${KEEP_SCRATCH:-0}
export DEBIAN_FRONTEND=noninteractive

BATON_SQLITE_ADDR=127.0.0.1:18080
BATON_PG_A_ADDR=127.0.0.1:18081
BATON_PG_B_ADDR=127.0.0.1:18082
PG_HOST=127.0.0.1
PG_PORT=5432
BATON_PG_DB=baton_bench
MESSAGE_DB=message_store

BENCH_NAME=run-events
# shellcheck source=lib.sh
source "$HERE/lib.sh"
# Targets that could not be measured, with the reason; printed with the summary, and the run then fails.
NOT_MEASURED=()
drop_target() { # drop_target TARGET REASON
    log "warning: $1 will NOT be measured: $2"
    NOT_MEASURED+=("$1: $2")
    TARGETS=$(tr ' ' '\n' <<<"$TARGETS" | grep -vx "$1" | tr '\n' ' ' || true)
}
wants_pg() { wants baton-postgres || wants baton-postgres-cross; }

# --- installs ---------------------------------------------------------------------------------------------------
# The bench crate builds etcd-client too (the locks benchmark), whose build script needs protoc.
command -v protoc >/dev/null || { log "installing protobuf-compiler (protoc, needed to build baton-bench)"; apt_install protobuf-compiler; }
command -v psql >/dev/null || { log "installing postgresql-client (psql, needed by Message DB's install.sh)"; apt_install postgresql-client; }
if wants messagedb; then
    command -v npm >/dev/null || { log "installing npm"; apt_install npm; }
    # Message DB ships as SQL files and shell scripts in an npm package; `npm pack` fetches it without installing
    # anything. Unpacked once, kept between runs.
    if [[ ! -f "$MESSAGE_DB_DIR/$MESSAGE_DB_VERSION/package/database/install.sh" ]]; then
        log "fetching @eventide/message-db@$MESSAGE_DB_VERSION into $MESSAGE_DB_DIR (npm pack)"
        mkdir -p "$MESSAGE_DB_DIR/$MESSAGE_DB_VERSION"
        (cd "$MESSAGE_DB_DIR/$MESSAGE_DB_VERSION" && npm pack --silent "@eventide/message-db@$MESSAGE_DB_VERSION" \
            && tar xzf "eventide-message-db-$MESSAGE_DB_VERSION.tgz") >"$SCRATCH/npm.log" 2>&1 \
            || { cat "$SCRATCH/npm.log" >&2; die "npm pack @eventide/message-db@$MESSAGE_DB_VERSION failed"; }
    fi
fi

# --- ports must be free (a leftover run would skew or break the run) ------------------------------------------------
need_ports=()
wants baton-sqlite && need_ports+=("${BATON_SQLITE_ADDR##*:}")
wants baton-postgres && need_ports+=("${BATON_PG_A_ADDR##*:}")
wants baton-postgres-cross && need_ports+=("${BATON_PG_A_ADDR##*:}" "${BATON_PG_B_ADDR##*:}")
for port in ${need_ports[@]+"${need_ports[@]}"}; do
    port_busy "$port" && die "port $port on 127.0.0.1 is already in use (a leftover run?)"
done

# --- PostgreSQL: fresh databases for Baton and Message DB -------------------------------------------------------------
export PGHOST=$PG_HOST PGPORT=$PG_PORT PGUSER=postgres
psql_q() { psql -tAc "$1" postgres; }
if wants_pg || wants messagedb; then
    if ! pg_isready -q 2>/dev/null; then
        for t in baton-postgres baton-postgres-cross messagedb; do
            wants "$t" && drop_target "$t" "no PostgreSQL at $PG_HOST:$PG_PORT"
        done
    else
        if wants_pg; then
            log "recreating database $BATON_PG_DB"
            recreate_db "$BATON_PG_DB"
        fi
        if wants messagedb; then
            # install.sh creates the database itself (createdb, which fails if it exists) and the message_store
            # role (kept if it exists), then the schema, functions, indexes, views and privileges.
            log "installing Message DB $MESSAGE_DB_VERSION into a fresh database $MESSAGE_DB"
            recreate_db "$MESSAGE_DB" nocreate
            DATABASE_NAME=$MESSAGE_DB bash "$MESSAGE_DB_DIR/$MESSAGE_DB_VERSION/package/database/install.sh" \
                >"$SCRATCH/messagedb-install.log" 2>&1 \
                || { cat "$SCRATCH/messagedb-install.log" >&2; die "Message DB's install.sh failed"; }
        fi
    fi
fi

# --- builds ---------------------------------------------------------------------------------------------------------
BENCH_BIN=$BENCH_TARGET_DIR/release/baton-bench
if wants baton-sqlite || wants_pg; then
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

# --- start the systems ----------------------------------------------------------------------------------------------
PG_URL="postgres://postgres@$PG_HOST:$PG_PORT/$BATON_PG_DB?sslmode=disable"
wants baton-sqlite && start_baton baton-sqlite "$BATON_SQLITE_ADDR" --data-dir "$SCRATCH/baton-sqlite/data"
# Node A first: it runs the migrations, so node B starts against a migrated database.
wants_pg && start_baton baton-pg-a "$BATON_PG_A_ADDR" --database-url "$PG_URL" --node-id node-a \
    --data-dir "$SCRATCH/baton-pg-a"
wants baton-postgres-cross && start_baton baton-pg-b "$BATON_PG_B_ADDR" --database-url "$PG_URL" --node-id node-b \
    --data-dir "$SCRATCH/baton-pg-b"

# --- run ------------------------------------------------------------------------------------------------------------
bench_args() { # the baton-bench arguments of one target
    case $1 in
        baton-sqlite) echo "--target baton --url http://$BATON_SQLITE_ADDR --label baton-sqlite" ;;
        baton-postgres) echo "--target baton --url http://$BATON_PG_A_ADDR --label baton-postgres" ;;
        baton-postgres-cross) echo "--target baton --url http://$BATON_PG_A_ADDR --subscribe-url http://$BATON_PG_B_ADDR --label baton-postgres-cross" ;;
        messagedb) echo "--target messagedb --url postgres://postgres@$PG_HOST:$PG_PORT/$MESSAGE_DB --label messagedb" ;;
        *) die "unknown target $1" ;;
    esac
}
# Which target runs which scenario: the cross-node pair only differs in where the subscriber reads; Message DB
# has no push subscription (its consumers poll), so it has no delivery latency to measure.
runs_scenario() { # runs_scenario TARGET SCENARIO
    case "$1:$2" in
        baton-postgres-cross:append | messagedb:subscribe) return 1 ;;
        *) return 0 ;;
    esac
}

# A Baton without the events API answers 404: say so once, up front, instead of once per measurement.
for target in baton-sqlite baton-postgres baton-postgres-cross; do
    wants "$target" || continue
    # shellcheck disable=SC2046 # word splitting of bench_args is intended
    if ! "$BENCH_BIN" events $(bench_args "$target") --scenario subscribe --duration-secs 1 \
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
        IFS=: read -r scenario clients batch <<<"$spec"
        [[ "$scenario" =~ ^(append|subscribe)$ && "$clients" =~ ^[0-9]+$ && "$batch" =~ ^[0-9]+$ ]] \
            || die "SCENARIOS entries are append|subscribe:clients:batch, not '$spec'"
        # Rotate the target order every scenario, so no target always runs first or last.
        n=${#targets[@]}
        for i in $(seq 0 $((n - 1))); do
            target=${targets[$(((i + turn) % n))]}
            runs_scenario "$target" "$scenario" || continue
            log "round $round/$ROUNDS: $scenario ($clients clients, batch $batch) on $target"
            # shellcheck disable=SC2046 # word splitting of bench_args is intended
            if ! "$BENCH_BIN" events $(bench_args "$target") --scenario "$scenario" --clients "$clients" \
                --batch "$batch" --duration-secs "$DURATION_SECS" --interval-ms "$INTERVAL_MS" | tee -a "$RESULTS_FILE"; then
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
echo "== Events benchmark, $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "   ${ROUNDS} round(s), ${DURATION_SECS}s per measurement; scenarios ${scenarios[*]}; subscribe: one append every ${INTERVAL_MS} ms"
echo "   versions: $(psql_q 'show server_version' 2>/dev/null | sed 's/^/PostgreSQL /' | cut -d' ' -f1-2); Message DB npm package $MESSAGE_DB_VERSION (database $(cat "$MESSAGE_DB_DIR/$MESSAGE_DB_VERSION/package/database/VERSION.txt" 2>/dev/null || echo ?)); baton $(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo '?') (working tree)"
echo "   durability:"
echo "     baton-sqlite:   SQLite WAL, sqlite_synchronous=full (Baton's default): WAL synced before an answer"
echo "     baton-postgres, messagedb: the same PostgreSQL, $(pg_settings)"
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
