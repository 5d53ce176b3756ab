// BullMQ (Redis) job driver for `baton-bench jobs --target bullmq`: the scenarios of common.mjs through BullMQ's
// own client. Enqueue: `Queue.add` (one job) and `Queue.addBulk` (a batch). Workers: one `Worker` with
// `concurrency: N`, whose processor does nothing; a completion counts at the Worker's `completed` event, which
// BullMQ emits once `moveToCompleted` has been acknowledged by Redis. Everything else is BullMQ's default
// (lock duration 30 s, completed jobs kept). Every measurement starts and ends by obliterating its queue.
//
// Usage: node bullmq.mjs --scenario e2e --concurrency 10 --duration-secs 5 --url redis://127.0.0.1:6390 \
//          --label bullmq --node-modules /tmp/.../node_modules
// It never starts Redis; bench/run-jobs.sh does.

import { main, peerRequire, peerVersion } from './common.mjs';

const QUEUE = 'baton-bench-jobs';

function connection(opts) {
  const url = new URL(opts.url);
  // maxRetriesPerRequest: null is what BullMQ requires of a Worker's connection.
  return { host: url.hostname, port: Number(url.port || 6379), maxRetriesPerRequest: null };
}

const bullmq = (opts) => peerRequire(opts)('bullmq');

async function obliterate(opts) {
  const { Queue } = bullmq(opts);
  const queue = new Queue(QUEUE, { connection: connection(opts) });
  await queue.waitUntilReady();
  await queue.obliterate({ force: true });
  await queue.close();
}

/** What the Redis server promises about an acknowledged write, read from its own configuration. */
async function durability(opts) {
  const Redis = peerRequire(opts)('ioredis');
  const redis = new Redis(connection(opts));
  try {
    const [, appendonly] = await redis.config('GET', 'appendonly');
    const [, appendfsync] = await redis.config('GET', 'appendfsync');
    if (appendonly !== 'yes') return 'Redis without AOF: NOT durable, a crash loses acknowledged jobs';
    return appendfsync === 'always'
      ? 'Redis AOF appendfsync=always: durable'
      : `Redis AOF appendfsync=${appendfsync}: a crash may lose up to ~1 s of acknowledged jobs`;
  } finally {
    redis.disconnect();
  }
}

const peer = {
  async prepare(opts) {
    await obliterate(opts);
    const workers = ['e2e', 'pickup'].includes(opts.scenario) ? `, one Worker with concurrency ${opts.concurrency}` : '';
    return { note: `bullmq ${peerVersion(opts, 'bullmq')}${workers}; ${await durability(opts)}` };
  },

  async connect(opts) {
    const { Queue } = bullmq(opts);
    const queue = new Queue(QUEUE, { connection: connection(opts) });
    await queue.waitUntilReady();
    return {
      enqueueOne: (data) => queue.add('noop', data),
      enqueueBatch: (batch) => queue.addBulk(batch.map((data) => ({ name: 'noop', data }))),
      close: () => queue.close(),
    };
  },

  async startWorkers(opts, concurrency, hooks) {
    const { Worker } = bullmq(opts);
    let failure = null;
    const worker = new Worker(
      QUEUE,
      async (job) => {
        hooks.onJob(job.data);
      },
      { connection: connection(opts), concurrency, autorun: true },
    );
    worker.on('completed', () => hooks.onComplete());
    worker.on('failed', (job, err) => {
      failure ??= new Error(`bullmq job ${job?.id} failed: ${err?.message}`);
    });
    worker.on('error', (err) => {
      failure ??= err;
      console.error(`bullmq worker error: ${err?.message ?? err}`);
    });
    await worker.waitUntilReady();
    return {
      async close() {
        await worker.close();
        if (failure) throw failure;
      },
    };
  },

  async cleanup(opts) {
    await obliterate(opts);
  },
};

main(peer, import.meta.url).catch((err) => {
  console.error(`bullmq driver: ${err?.stack ?? err}`);
  process.exit(1);
});
