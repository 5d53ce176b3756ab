#!/usr/bin/env python3
"""DBOS Transact (Python) peer for the workflows benchmark: a 3-step no-op durable workflow on PostgreSQL.

The workload matches the Baton side: one workflow calling three steps, step i returning i, every workflow and
step checkpointed in PostgreSQL before the next one runs. Scenarios:

  sequential  one workflow at a time, started and awaited back to back; one client.
  inflight    --concurrency workflows kept in flight (closed loop: each client starts its next workflow as soon
              as its previous one returns).

Window (as bench/src/closed_loop.rs): all clients run an untimed ~1 s warm-up, then a window of
--duration-secs; a workflow counts, and its latency is kept, only if it starts and completes inside the window,
and ops_per_sec = counted / duration. Percentiles are nearest-rank over the sorted latencies. The first failed
workflow ends the run (exit 1): nothing is retried.

Durability: DBOS's defaults, unchanged. With a PostgreSQL system database DBOS commits the workflow's status row
(with its inputs) when it starts, one operation_outputs row per step as the step returns (before the next step
runs), and the final status with the output at the end: five committed write transactions per workflow (about
5.3 WAL flushes per workflow in pg_stat_wal here). Nothing is buffered or batched in the client, so a crash
replays from the last checkpoint. Commits are as durable as the server makes them: DBOS sets neither
synchronous_commit nor fsync, and this script reports both on stderr (PostgreSQL's defaults: on).

Connection pool: DBOS's default is 20 connections and no overflow (sys_db_pool_size). A workflow runs about 15
statements (status insert, a check and a write per step, status update, ...) in separate transactions, each
checking a connection out of the pool, so with more clients than connections the clients queue on the pool and
the tail grows (p99 about 3x at 32 in flight, throughput about the same). As for graphile-worker's pool in the
jobs benchmark, the default here is therefore max(20, clients + 4), the 4 for DBOS's own background threads;
--pool-size overrides it.

Output: exactly one JSON line on stdout per measurement; DBOS's own logs and this script's notes go to stderr.
Run it with the venv from install.sh: $VENV_DIR/bin/python bench/peers/workflows/dbos_bench.py --scenario ...
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.metadata
import json
import math
import sys
import threading
import time
from typing import Callable, List

import psycopg
from psycopg import sql
from sqlalchemy.engine import make_url

from dbos import DBOS, DBOSConfig

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/baton_bench_dbos"
WARMUP_SECS = 1.0
# A client still busy this long after the window fails the run, as in closed_loop.rs.
GRACE_SECS = 40.0


# The workflow and its steps are registered at import, before DBOS() exists: DBOS keeps decorated functions in a
# global registry and binds them at launch. Two flavours of the same workflow: the sync one runs on the calling
# thread; the async one runs on the event loop, DBOS doing its blocking database calls on its thread pool.
@DBOS.step()
def step(i: int) -> int:
    return i


@DBOS.workflow()
def three_steps() -> int:
    return step(1) + step(2) + step(3)


@DBOS.step()
async def step_async(i: int) -> int:
    return i


@DBOS.workflow()
async def three_steps_async() -> int:
    return await step_async(1) + await step_async(2) + await step_async(3)


def recreate_database(url: str) -> None:
    """Drops and creates the benchmark database so every run starts from an empty DBOS schema."""
    target = make_url(url)
    name = target.database
    if not name or name == "postgres":
        raise SystemExit(f"refusing to drop database {name!r}: give --database-url a dedicated database")
    # psycopg takes libpq URLs only: drop any SQLAlchemy driver suffix (postgresql+psycopg://).
    admin = target.set(drivername="postgresql", database="postgres").render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as conn:
        # FORCE ends sessions left over from an earlier, killed run; without it the drop would fail.
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        settings = {
            key: conn.execute(sql.SQL("SHOW {}").format(sql.Identifier(key))).fetchone()[0]
            for key in ("synchronous_commit", "fsync")
        }
        server = conn.execute("SHOW server_version").fetchone()[0]
    note(f"recreated database {name}; PostgreSQL {server}, " + ", ".join(f"{k}={v}" for k, v in settings.items()))


def launch_dbos(url: str, pool_size: int) -> None:
    config: DBOSConfig = {
        "name": "baton-bench-dbos",
        # Required: without it DBOS silently uses a SQLite file in the working directory. (DBOS_SYSTEM_DATABASE_URL
        # is read only on DBOS Cloud and by the dbos CLI, not by DBOS() here.)
        "system_database_url": url,
        # DBOS logs at INFO by default (launch banner, a Conductor sign-up link); keep warnings and errors.
        "log_level": "WARNING",
        "sys_db_pool_size": pool_size,
    }
    DBOS(config=config)
    # Creates the dbos schema (migrations) in the fresh database and starts DBOS's background threads.
    DBOS.launch()


class Window:
    """The clock for one measurement: warm-up end and window end, on time.perf_counter()."""

    def __init__(self, duration: float) -> None:
        self.start = time.perf_counter() + WARMUP_SECS
        self.deadline = self.start + duration

    def keep(self, t0: float, t1: float) -> bool:
        return t0 >= self.start and t1 <= self.deadline


def check_result(result: int) -> None:
    if result != 6:
        raise RuntimeError(f"workflow returned {result!r}, expected 6")


def client_loop(window: Window, run_one: Callable[[], int], latencies: List[float]) -> None:
    # Calling the decorated workflow function directly is DBOS's documented synchronous way to run a workflow
    # durably: it runs on this thread and returns its result. DBOS.start_workflow + handle.get_result() does the
    # same database work plus a hand-off to DBOS's executor pool and back; measured here (dbos 3.4.0,
    # sequential) the two are within noise of each other (~110-125 workflows/s), so the simpler one is used.
    while True:
        t0 = time.perf_counter()
        if t0 >= window.deadline:
            return
        check_result(run_one())
        t1 = time.perf_counter()
        if window.keep(t0, t1):
            latencies.append(t1 - t0)


def run_threads(clients: int, duration: float) -> List[float]:
    """`clients` threads, each running the sync workflow back to back."""
    window = Window(duration)
    per_client: List[List[float]] = [[] for _ in range(clients)]
    errors: List[BaseException] = []

    def body(latencies: List[float]) -> None:
        try:
            client_loop(window, three_steps, latencies)
        except BaseException as e:  # noqa: BLE001 - reported by the main thread, which fails the run
            errors.append(e)

    threads = [threading.Thread(target=body, args=(lat,), daemon=True) for lat in per_client]
    for t in threads:
        t.start()
    grace_end = window.deadline + GRACE_SECS
    for t in threads:
        t.join(max(0.0, grace_end - time.perf_counter()))
    if errors:
        raise errors[0]
    if any(t.is_alive() for t in threads):
        raise RuntimeError(f"clients still busy {GRACE_SECS:.0f} s after the window closed")
    return [x for lat in per_client for x in lat]


async def run_async(clients: int, duration: float) -> List[float]:
    """`clients` asyncio tasks on one event loop, each awaiting the async workflow back to back."""
    window = Window(duration)
    per_client: List[List[float]] = [[] for _ in range(clients)]

    async def body(latencies: List[float]) -> None:
        # Awaiting the async workflow function directly: the asyncio twin of the direct sync call above.
        while True:
            t0 = time.perf_counter()
            if t0 >= window.deadline:
                return
            check_result(await three_steps_async())
            t1 = time.perf_counter()
            if window.keep(t0, t1):
                latencies.append(t1 - t0)

    tasks = [asyncio.ensure_future(body(lat)) for lat in per_client]
    timeout = window.deadline + GRACE_SECS - time.perf_counter()
    done, pending = await asyncio.wait(tasks, timeout=timeout, return_when=asyncio.FIRST_EXCEPTION)
    for task in pending:
        task.cancel()
    for task in done:
        task.result()  # re-raises the first failure
    if pending:
        raise RuntimeError(f"clients still busy {GRACE_SECS:.0f} s after the window closed")
    return [x for lat in per_client for x in lat]


def percentile_ms(sorted_secs: List[float], pct: float) -> float:
    """Nearest rank, as bench/src/report.rs: the ceil(pct% * n)-th smallest."""
    if not sorted_secs:
        return 0.0
    rank = math.ceil(pct / 100.0 * len(sorted_secs))
    return sorted_secs[min(max(rank, 1), len(sorted_secs)) - 1] * 1000.0


def note(msg: str) -> None:
    print(f"dbos_bench: {msg}", file=sys.stderr, flush=True)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--database-url", default=DEFAULT_URL, help="dropped and recreated before DBOS starts")
    p.add_argument("--duration-secs", type=float, default=5.0)
    p.add_argument("--scenario", choices=["sequential", "inflight"], required=True)
    p.add_argument("--concurrency", type=int, default=32, help="workflows in flight (inflight only)")
    p.add_argument("--round", type=int, default=0)
    p.add_argument(
        "--api",
        choices=["sync", "async"],
        default="sync",
        help="sync: threads calling the sync workflow (the default: faster here, see README); "
        "async: asyncio tasks awaiting the async workflow",
    )
    p.add_argument(
        "--pool-size", type=int, default=None, help="DBOS sys_db_pool_size (default: max(20, clients + 4))"
    )
    args = p.parse_args()
    if args.duration_secs <= 0:
        p.error("--duration-secs must be positive")
    clients = 1 if args.scenario == "sequential" else args.concurrency
    if clients < 1:
        p.error("--concurrency must be at least 1")

    pool_size = args.pool_size if args.pool_size is not None else max(20, clients + 4)
    if pool_size < 1:
        p.error("--pool-size must be at least 1")

    recreate_database(args.database_url)
    launch_dbos(args.database_url, pool_size)
    try:
        note(
            f"dbos {importlib.metadata.version('dbos')}, scenario {args.scenario}, {clients} client(s), "
            f"api {args.api}, pool {pool_size}, warm-up {WARMUP_SECS:.0f} s, window {args.duration_secs:g} s"
        )
        if args.api == "async":
            latencies = asyncio.run(run_async(clients, args.duration_secs))
        else:
            latencies = run_threads(clients, args.duration_secs)
    finally:
        DBOS.destroy()
    latencies.sort()
    print(
        json.dumps(
            {
                "bench": "workflows",
                "target": "dbos",
                "backend": "postgres",
                "scenario": args.scenario,
                "clients": clients,
                "round": args.round,
                "ops": len(latencies),
                "ops_per_sec": round(len(latencies) / args.duration_secs, 1),
                "p50_ms": round(percentile_ms(latencies, 50.0), 3),
                "p99_ms": round(percentile_ms(latencies, 99.0), 3),
            }
        ),
        flush=True,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
