// graphile-worker (PostgreSQL) job driver for `baton-bench jobs --target graphile`: the scenarios of common.mjs
// through graphile-worker's own API. Enqueue: `WorkerUtils.addJob` (one job) and `WorkerUtils.addJobs` (a
// batch), one WorkerUtils (its own pool) per client. Workers: `run({ concurrency: N, taskList })` with a no-op
// task; a completion counts at the `job:complete` event without an error.
//
// --graphile-mode default: graphile-worker's defaults, apart from concurrency N and the pool size it asks for
// (maxPoolSize max(10, N + 2); below that it warns). tuned: the same plus the batching options of its
// performance guide: localQueue.size 500, completeJobBatchDelay 0, failJobBatchDelay 0. Both modes set
// NO_LOG_SUCCESS (no log line per job) and log only warnings and errors.
//
// Caveat on counting: graphile-worker issues the completion write without awaiting it (batched in tuned mode)
// and emits `job:complete` right after, so completions counted at the end of the window may include the writes
// still in flight then: at most one pool's or one batch's worth, well under 1% of a 5 s count.
//
// Every measurement starts and ends by deleting the benchmark task's jobs. It never starts PostgreSQL;
// bench/run-jobs.sh does.

import { EventEmitter, once } from 'node:events';

import { main, peerRequire, peerVersion } from './common.mjs';

// Read by graphile-worker when it loads: skip the log line per completed job.
process.env.NO_LOG_SUCCESS = '1';

const TASK = 'baton_bench_noop';

const graphile = (opts) => peerRequire(opts)('graphile-worker');

function logger(opts) {
  const { Logger } = graphile(opts);
  return new Logger(() => (level, message) => {
    if (level === 'error' || level === 'warning') console.error(`graphile ${level}: ${message}`);
  });
}

async function withUtils(opts, fn) {
  const utils = await graphile(opts).makeWorkerUtils({ connectionString: opts.url, logger: logger(opts) });
  try {
    return await fn(utils);
  } finally {
    await utils.release();
  }
}

async function deleteJobs(utils) {
  await utils.withPgClient((pg) =>
    pg.query(
      `delete from graphile_worker._private_jobs j using graphile_worker._private_tasks t
        where j.task_id = t.id and t.identifier = $1`,
      [TASK],
    ),
  );
}

const poolSize = (concurrency) => Math.max(10, concurrency + 2);

function modeNote(opts) {
  if (!['e2e', 'pickup'].includes(opts.scenario)) return '(enqueue: the worker options play no part)';
  return opts.graphileMode === 'tuned'
    ? `tuned, concurrency ${opts.concurrency}, maxPoolSize ${poolSize(opts.concurrency)}: localQueue.size 500, completeJobBatchDelay 0, failJobBatchDelay 0`
    : `defaults, concurrency ${opts.concurrency}, maxPoolSize ${poolSize(opts.concurrency)} (no localQueue, no completion batching)`;
}

const peer = {
  async prepare(opts) {
    return withUtils(opts, async (utils) => {
      await utils.migrate();
      await deleteJobs(utils);
      const settings = await utils.withPgClient((pg) =>
        pg.query(`select current_setting('synchronous_commit') as sc, current_setting('fsync') as fs`),
      );
      const { sc, fs } = settings.rows[0];
      return {
        note: `graphile-worker ${peerVersion(opts, 'graphile-worker')} ${modeNote(opts)}; PostgreSQL synchronous_commit=${sc} fsync=${fs}`,
      };
    });
  },

  async connect(opts) {
    const utils = await graphile(opts).makeWorkerUtils({
      connectionString: opts.url,
      maxPoolSize: 1,
      logger: logger(opts),
    });
    await utils.withPgClient((pg) => pg.query('select 1'));
    return {
      enqueueOne: (payload) => utils.addJob(TASK, payload),
      enqueueBatch: (batch) => utils.addJobs(batch.map((payload) => ({ identifier: TASK, payload }))),
      close: () => utils.release(),
    };
  },

  async startWorkers(opts, concurrency, hooks) {
    const events = new EventEmitter();
    let failure = null;
    events.on('job:complete', ({ error }) => {
      if (error) failure ??= error;
      else hooks.onComplete();
    });
    const listening = once(events, 'pool:listen:success');
    const tuned =
      opts.graphileMode === 'tuned'
        ? { preset: { worker: { localQueue: { size: 500 }, completeJobBatchDelay: 0, failJobBatchDelay: 0 } } }
        : {};
    const runner = await graphile(opts).run({
      connectionString: opts.url,
      concurrency,
      // graphile-worker's own advice (it warns below this): 10 or concurrency + 2, whichever is larger.
      maxPoolSize: poolSize(concurrency),
      noHandleSignals: true,
      logger: logger(opts),
      events,
      taskList: {
        [TASK]: async (payload) => {
          hooks.onJob(payload);
        },
      },
      ...tuned,
    });
    // Only once LISTEN is in place does a new job wake the workers at once.
    let timer;
    await Promise.race([
      listening,
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error('graphile-worker did not LISTEN for jobs within 15 s')), 15000);
      }),
    ]).finally(() => clearTimeout(timer));
    return {
      async close() {
        await runner.stop();
        if (failure) throw failure;
      },
    };
  },

  async cleanup(opts) {
    await withUtils(opts, deleteJobs);
  },
};

main(peer, import.meta.url).catch((err) => {
  console.error(`graphile driver: ${err?.stack ?? err}`);
  process.exit(1);
});
