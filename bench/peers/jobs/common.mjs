// The harness shared by the peer job drivers (bullmq.mjs, graphile.mjs): argument parsing, the four scenarios,
// and the one JSON result line. It mirrors bench/src/jobs/baton.rs, so that every target runs the same
// workload; see bench/src/jobs/mod.rs for the scenario definitions and bench/README.md for the fairness notes.
//
// A driver supplies a `peer` object:
//   prepare(opts)               -> { note }  main thread, before the measurement (schema, clean-up, durability)
//   connect(opts)               -> { enqueueOne(payload), enqueueBatch(payloads), close() }, connection open
//   startWorkers(opts, n, hooks)-> { close() } once its workers wait for jobs; hooks.onJob(payload) at the start
//                                  of the processing function, hooks.onComplete() once a completion is recorded
//   cleanup(opts)               main thread, after the measurement
//
// Node runs one event loop per thread, and Baton's driver (Rust, tokio) uses every core, so the load generators
// here use worker threads as well: enqueue clients are spread over min(C, cores) threads, and in e2e the
// producer runs in its own thread beside the workers. pickup runs in one thread, so one clock times both ends.
// This file does not start or stop Redis or PostgreSQL.

import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';

/** In e2e the producer pauses while this many jobs wait (same cap as the Rust driver). */
export const BACKLOG_CAP = 20000;
/** pickup: how long after the window the workers may take to receive the last jobs. */
const PICKUP_GRACE_MS = 5000;
const SCENARIOS = ['enqueue-single', 'enqueue-batch', 'e2e', 'pickup'];

function positiveInt(name, raw) {
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} must be a positive integer, not ${raw}`);
  return n;
}

/** The options of this run: parsed from argv in the main thread, handed over in worker threads. */
export function options() {
  if (!isMainThread) return workerData.opts;
  const { values } = parseArgs({
    options: {
      scenario: { type: 'string' },
      concurrency: { type: 'string', default: '16' },
      'duration-secs': { type: 'string', default: '5' },
      'batch-size': { type: 'string', default: '100' },
      'pickup-interval-ms': { type: 'string', default: '5' },
      'graphile-mode': { type: 'string', default: 'default' },
      url: { type: 'string' },
      label: { type: 'string' },
      'node-modules': { type: 'string', default: process.env.BATON_BENCH_NODE_MODULES },
    },
  });
  if (!SCENARIOS.includes(values.scenario)) throw new Error(`--scenario must be one of ${SCENARIOS.join(', ')}`);
  if (!values.url) throw new Error('--url is required');
  if (!values['node-modules']) throw new Error('--node-modules (or BATON_BENCH_NODE_MODULES) is required');
  if (!['default', 'tuned'].includes(values['graphile-mode'])) throw new Error('--graphile-mode: default or tuned');
  return {
    scenario: values.scenario,
    concurrency: positiveInt('concurrency', values.concurrency),
    durationMs: positiveInt('duration-secs', values['duration-secs']) * 1000,
    batchSize: Math.min(positiveInt('batch-size', values['batch-size']), 1000),
    pickupIntervalMs: positiveInt('pickup-interval-ms', values['pickup-interval-ms']),
    graphileMode: values['graphile-mode'],
    url: values.url,
    label: values.label,
    nodeModules: values['node-modules'],
  };
}

/** `require` resolving from the scratch node_modules the run script installed (not from this repo). */
export function peerRequire(opts) {
  return createRequire(join(dirname(opts.nodeModules), 'resolve-from-here.js'));
}

/** The installed version of a package, read from its package.json. */
export function peerVersion(opts, name) {
  return peerRequire(opts)(join(opts.nodeModules, name, 'package.json')).version;
}

/** Nearest-rank percentile of sorted milliseconds, as the Rust side computes it. */
function percentile(sorted, pct) {
  if (sorted.length === 0) return 0;
  const rank = Math.ceil((pct / 100) * sorted.length);
  return sorted[Math.min(Math.max(rank, 1), sorted.length) - 1];
}

const round = (v, digits) => Math.round(v * 10 ** digits) / 10 ** digits;

/** Entry point of a driver script, in the main thread and in its worker threads alike. */
export async function main(peer, selfUrl) {
  const opts = options();
  if (!isMainThread) return threadMain(peer, opts);
  const { note } = await peer.prepare(opts);
  let outcome;
  try {
    switch (opts.scenario) {
      case 'enqueue-single':
      case 'enqueue-batch':
        outcome = await enqueue(opts, selfUrl);
        break;
      case 'e2e':
        outcome = await endToEnd(peer, opts, selfUrl);
        break;
      case 'pickup':
        outcome = await pickup(peer, opts);
        break;
    }
  } finally {
    await peer.cleanup(opts);
  }
  const secs = opts.durationMs / 1000;
  const line = {
    target: opts.label,
    scenario: opts.scenario,
    concurrency: opts.concurrency,
    duration_secs: secs,
    jobs_per_sec: round(outcome.jobs / secs, 1),
    jobs: outcome.jobs,
  };
  if (outcome.latencies?.length) {
    const sorted = Float64Array.from(outcome.latencies).sort();
    line.p50_ms = round(percentile(sorted, 50), 3);
    line.p99_ms = round(percentile(sorted, 99), 3);
  }
  if (outcome.batch) line.batch = outcome.batch;
  if (outcome.enqueued !== undefined) line.enqueued_per_sec = round(outcome.enqueued / secs, 1);
  if (outcome.backlogEnd !== undefined) line.backlog_end = outcome.backlogEnd;
  if (outcome.sent !== undefined) line.sent = outcome.sent;
  if (outcome.missing !== undefined) line.missing = outcome.missing;
  line.note = [outcome.note, note].filter(Boolean).join('; ');
  // Exit at once: client libraries may keep timers alive after close().
  process.stdout.write(`${JSON.stringify(line)}\n`, () => process.exit(0));
}

/** Starts a worker thread running this same driver in `role`; `ready`, `go()` and `result` sequence it. */
function spawnThread(selfUrl, data) {
  const worker = new Worker(new URL(selfUrl), { workerData: data });
  let onReady;
  let failReady;
  const ready = new Promise((resolve, reject) => {
    onReady = resolve;
    failReady = reject;
  });
  const result = new Promise((resolve, reject) => {
    worker.on('message', (msg) => (msg.ready ? onReady() : resolve(msg)));
    worker.on('error', (err) => {
      failReady(err);
      reject(err);
    });
    worker.on('exit', (code) => {
      const err = new Error(`${data.role} thread exited with code ${code} before its result`);
      failReady(err);
      reject(err);
    });
  });
  return { ready, result, go: () => worker.postMessage('go') };
}

/** Waits for the main thread's start signal. */
function waitForGo() {
  return new Promise((resolve) => parentPort.once('message', resolve));
}

/** The body of a worker thread: `enqueue` clients, or the e2e `producer`. */
async function threadMain(peer, opts) {
  const { role } = workerData;
  if (role === 'enqueue') {
    const perRequest = opts.scenario === 'enqueue-batch' ? opts.batchSize : 1;
    const clients = await Promise.all(Array.from({ length: workerData.clients }, () => peer.connect(opts)));
    parentPort.postMessage({ ready: true });
    await waitForGo();
    const deadline = performance.now() + opts.durationMs;
    const latencies = [];
    await Promise.all(
      clients.map(async (client, idx) => {
        const c = workerData.firstClient + idx;
        let n = 0;
        while (performance.now() < deadline) {
          const t0 = performance.now();
          if (perRequest === 1) {
            await client.enqueueOne({ c, n });
          } else {
            await client.enqueueBatch(Array.from({ length: perRequest }, (_, i) => ({ c, n: n + i })));
          }
          n += perRequest;
          const t1 = performance.now();
          if (t1 <= deadline) latencies.push(t1 - t0);
        }
      }),
    );
    await Promise.all(clients.map((client) => client.close()));
    parentPort.postMessage({ latencies });
  } else if (role === 'producer') {
    // counters: [enqueued, completed] shared with the main thread, which counts completions.
    const counters = new Int32Array(workerData.counters);
    const client = await peer.connect(opts);
    parentPort.postMessage({ ready: true });
    await waitForGo();
    const deadline = performance.now() + opts.durationMs;
    let n = 0;
    let inWindow = 0;
    while (performance.now() < deadline) {
      if (Atomics.load(counters, 0) - Atomics.load(counters, 1) >= BACKLOG_CAP) {
        await sleep(1);
        continue;
      }
      await client.enqueueBatch(Array.from({ length: opts.batchSize }, (_, i) => ({ n: n + i })));
      n += opts.batchSize;
      Atomics.add(counters, 0, opts.batchSize);
      if (performance.now() <= deadline) inWindow += opts.batchSize;
    }
    await client.close();
    parentPort.postMessage({ enqueued: inWindow });
  } else {
    throw new Error(`unknown thread role ${role}`);
  }
}

async function enqueue(opts, selfUrl) {
  const perRequest = opts.scenario === 'enqueue-batch' ? opts.batchSize : 1;
  const threads = Math.min(opts.concurrency, availableParallelism());
  const spawned = [];
  let first = 0;
  for (let t = 0; t < threads; t++) {
    const clients = Math.floor(opts.concurrency / threads) + (t < opts.concurrency % threads ? 1 : 0);
    spawned.push(spawnThread(selfUrl, { role: 'enqueue', opts, clients, firstClient: first }));
    first += clients;
  }
  await Promise.all(spawned.map((s) => s.ready));
  spawned.forEach((s) => s.go());
  const results = await Promise.all(spawned.map((s) => s.result));
  const latencies = results.flatMap((r) => r.latencies);
  return {
    jobs: latencies.length * perRequest,
    latencies,
    batch: perRequest > 1 ? perRequest : undefined,
    note: `${threads} client thread(s)`,
  };
}

async function endToEnd(peer, opts, selfUrl) {
  const counters = new Int32Array(new SharedArrayBuffer(8));
  let deadline = Infinity;
  let completedInWindow = 0;
  const workers = await peer.startWorkers(opts, opts.concurrency, {
    onJob() {},
    onComplete() {
      Atomics.add(counters, 1, 1);
      if (performance.now() <= deadline) completedInWindow += 1;
    },
  });
  const producer = spawnThread(selfUrl, { role: 'producer', opts, counters: counters.buffer });
  await producer.ready;
  deadline = performance.now() + opts.durationMs;
  producer.go();
  const { enqueued } = await producer.result;
  const completed = completedInWindow;
  await workers.close();
  return { jobs: completed, batch: opts.batchSize, enqueued, backlogEnd: enqueued - completed };
}

async function pickup(peer, opts) {
  const capacity = Math.floor(opts.durationMs / opts.pickupIntervalMs) + 1;
  const sentAt = new Float64Array(capacity); // performance.now() at each enqueue's start; 0 = not sent
  const latencies = [];
  let received = 0;
  let bad = null;
  const workers = await peer.startWorkers(opts, opts.concurrency, {
    onJob(payload) {
      const now = performance.now();
      const seq = payload?.seq;
      if (!Number.isInteger(seq) || seq < 0 || seq >= capacity || sentAt[seq] === 0) {
        bad ??= new Error(`pickup job with no valid seq: ${JSON.stringify(payload)}`);
        return;
      }
      latencies.push(now - sentAt[seq]);
      received += 1;
    },
    onComplete() {},
  });
  const client = await peer.connect(opts);
  // Job i is sent at base + i × interval, or at once when the previous enqueue ran late.
  const base = performance.now();
  let sent = 0;
  for (let seq = 0; seq < capacity; seq++) {
    const due = base + seq * opts.pickupIntervalMs;
    if (due >= base + opts.durationMs) break;
    const wait = due - performance.now();
    if (wait > 0) await sleep(wait);
    sentAt[seq] = performance.now();
    await client.enqueueOne({ seq });
    sent += 1;
  }
  const giveUp = performance.now() + PICKUP_GRACE_MS;
  while (received < sent && performance.now() < giveUp) await sleep(5);
  await client.close();
  await workers.close();
  if (bad) throw bad;
  return { jobs: received, latencies, sent, missing: sent - received };
}
