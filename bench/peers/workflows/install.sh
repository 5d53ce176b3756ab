#!/usr/bin/env bash
# Installs the DBOS peer for the workflows benchmark: a Python venv with `dbos` (DBOS Transact for Python, which
# brings psycopg and SQLAlchemy) at ${VENV_DIR:-/tmp/baton-bench-dbos-venv}. Idempotent: a venv that already
# imports dbos is left as it is; a half-made one is completed. Prints the installed dbos version on the last line.
#
# Usage: bash bench/peers/workflows/install.sh
# Environment (optional):
#   VENV_DIR=/tmp/baton-bench-dbos-venv   where the venv goes (kept between runs)
#   DBOS_VERSION=                         a pip version spec to pin, e.g. "==1.14.0" (default: the newest)
set -euo pipefail

VENV_DIR=${VENV_DIR:-/tmp/baton-bench-dbos-venv}
DBOS_VERSION=${DBOS_VERSION:-}
PY="$VENV_DIR/bin/python"

if [[ ! -x "$PY" ]]; then
    # Debian's python3 ships venv in a separate package; without it `python3 -m venv` fails half-way.
    if ! python3 -c 'import ensurepip' 2>/dev/null; then
        echo "install.sh: python3 has no ensurepip; on Debian: apt-get install python3-venv" >&2
        exit 1
    fi
    python3 -m venv "$VENV_DIR"
fi

if ! "$PY" -c 'import dbos' 2>/dev/null; then
    "$PY" -m pip install --quiet --disable-pip-version-check "dbos${DBOS_VERSION}"
fi

"$PY" -c 'import importlib.metadata as m; print("dbos", m.version("dbos"))'
