#!/usr/bin/env bash
# Fuzzes every operation of the REST API, as its OpenAPI document describes it, against a real embedded
# `baton serve`, and fails if any answer is a server error (5xx): bad input must get a 4xx with the error
# envelope, never a 500. Uses schemathesis (from PyPI, into a venv kept between runs).
#
# Usage: bash scripts/fuzz-api.sh
# Environment (all optional):
#   BATON_BIN        a baton binary to use instead of building one (cargo build --release -p baton)
#   MAX_EXAMPLES=30  generated cases per operation and phase
#   VENV_DIR         where schemathesis goes (default /tmp/baton-fuzz-venv, kept)
#   ADDR             where the server listens (default 127.0.0.1:18097)
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
MAX_EXAMPLES=${MAX_EXAMPLES:-30}
VENV_DIR=${VENV_DIR:-/tmp/baton-fuzz-venv}
ADDR=${ADDR:-127.0.0.1:18097}
SCRATCH=$(mktemp -d)
SERVER_PID=

stop() {
    if [[ -n $SERVER_PID ]]; then
        kill "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
    fi
    rm -rf "$SCRATCH"
}
trap stop EXIT

if [[ -z ${BATON_BIN:-} ]]; then
    (cd "$REPO" && cargo build --release -p baton)
    BATON_BIN=${CARGO_TARGET_DIR:-$REPO/target}/release/baton
fi
if [[ ! -x $VENV_DIR/bin/st ]]; then
    python3 -m venv "$VENV_DIR"
    "$VENV_DIR/bin/pip" install --quiet schemathesis
fi

"$BATON_BIN" serve --http-addr "$ADDR" --data-dir "$SCRATCH/data" >"$SCRATCH/server.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 100); do
    curl -sf "http://$ADDR/ready" >/dev/null && break
    sleep 0.1
done
curl -sf "http://$ADDR/ready" >/dev/null || { cat "$SCRATCH/server.log"; exit 1; }

# Long polls and blocking reads wait at most their own (bounded) wait; the timeout leaves room for them. Run from
# the scratch dir, where schemathesis keeps its cache.
cd "$SCRATCH"
"$VENV_DIR/bin/st" run "http://$ADDR/api/v1/openapi.json" \
    --checks not_a_server_error --max-examples "$MAX_EXAMPLES" --workers 2 --request-timeout 30
if grep -qi 'panicked' "$SCRATCH/server.log"; then
    echo "the server panicked:" >&2
    grep -i -A5 'panicked' "$SCRATCH/server.log" >&2
    exit 1
fi
