// Composition of the running service: pool, ingest queue, HTTP routes, scheduler, and
// an orderly shutdown (stop accepting, finish batches in flight, close the pool).
import type { FastifyInstance } from 'fastify';
import { Collector } from './collector/collector';
import type { Config } from './config';
import { mergeCollectedIntoCache } from './db/collectedStats';
import { applySettings } from './db/health';
import { expireIdempotencyKeys } from './db/idempotencyKeys';
import { maintainPartitions } from './db/partitions';
import { createPool, type Pool } from './db/pool';
import { refreshRollups } from './db/rollups';
import { Authenticator } from './http/auth';
import { registerIngestRoutes } from './http/ingestRoutes';
import { registerQueryRoutes } from './http/queryRoutes';
import { ServiceMetrics } from './http/metrics';
import { registerStatusRoutes } from './http/statusRoutes';
import { loadParser } from './ingest/fingerprint';
import { GroupCommitQueue } from './ingest/groupCommit';
import { IngestWorkers } from './ingest/ingestWorkers';
import { createResourceSampler } from './jobs/resourceSampler';
import { Scheduler, type JobDefinition } from './jobs/scheduler';
import type { OptimizerSettings } from './optimizer/detector';
import { optimizeJob } from './optimizer/engine';
import { registerOtlpRoutes } from './otlp/routes';
import { createHttpServer } from './server';
import { errorBody } from './http/errors';

/** Hours back whose cache rows the refresh job merges collected calls into again. */
const CACHE_MERGE_HOURS = 2;

export interface RunningService {
  app: FastifyInstance;
  /** Ingest, token lookups, jobs. */
  pool: Pool;
  /** The query API's reads. */
  readPool: Pool;
  queue: GroupCommitQueue;
  scheduler: Scheduler;
  metrics: ServiceMetrics;
  url: string;
  stop(): Promise<void>;
}

export interface ServiceOptions {
  /** Extra jobs or replacements (tests). */
  jobs?: JobDefinition[];
  log?: (line: string) => void;
  startScheduler?: boolean;
  /** Delay before a failed job is retried (tests shorten it); default JOB_RETRY_MS. */
  jobRetryMs?: number;
}

/** The optimization engine's settings, from the configuration. */
export function optimizerSettings(config: Config): OptimizerSettings {
  return {
    windowMinutes: config.optimizerWindowMinutes,
    maxRawRows: config.optimizerMaxRawRows,
    monitoredSchema: config.monitoredSchema,
    latencyTargetMs: config.latencyTargetMs,
    slowQueryThresholdMs: config.slowQueryThresholdMs,
    nPlusOneMinQueries: config.nPlusOneMinQueries,
    nPlusOneMinTotalMs: config.nPlusOneMinTotalMs,
    errorRateThreshold: config.errorRateThresholdPercent / 100,
    missingIndexMinRows: config.missingIndexMinRows,
    retentionDays: config.retentionDays,
    shareDatabaseFindings: config.shareDatabaseFindings,
  };
}

export async function startService(config: Config, databaseUrl: string, options: ServiceOptions = {}): Promise<RunningService> {
  const log = options.log ?? ((line: string) => process.stderr.write(line + '\n'));
  await loadParser();
  // Two pools out of DATABASE_POOL_MAX connections: heavy reads of the query API cannot
  // take the connections that ingest, token lookups and the jobs need.
  const pool = createPool(databaseUrl, { max: config.poolMax - config.queryPoolMax, idleTimeoutMs: config.poolIdleTimeoutMs, applicationName: 'agog-perf service' });
  const readPool = createPool(databaseUrl, { max: config.queryPoolMax, idleTimeoutMs: config.poolIdleTimeoutMs, applicationName: 'agog-perf service reads' });
  await applySettings(pool, { apdexTargetMs: config.latencyTargetMs, slowQueryThresholdMs: config.slowQueryThresholdMs });
  const queue = new GroupCommitQueue(pool, {
    flushIntervalMs: config.flushIntervalMs,
    flushMaxRecords: config.flushMaxRecords,
    queueMaxRecords: config.queueMaxRecords,
    queueMaxBytes: config.queueMaxBytes,
    maxConcurrentFlushes: config.maxConcurrentFlushes,
    deltas: { apdexTargetMs: config.latencyTargetMs, slowQueryThresholdMs: config.slowQueryThresholdMs },
  });
  const metrics = new ServiceMetrics();
  const auth = new Authenticator(pool);

  // The collector of monitored databases' pg_stat_statements: off unless configured.
  const collector = config.monitoredDatabases.length > 0
    ? new Collector(pool, config.monitoredDatabases, {
      slowQueryThresholdMs: config.slowQueryThresholdMs, retentionDays: config.retentionDays, intervalMs: config.collectIntervalMs,
    })
    : undefined;
  const jobs: JobDefinition[] = [
    {
      name: 'refresh',
      intervalMs: config.refreshIntervalMs,
      run: async () => {
        const result = await refreshRollups(pool);
        metrics.refreshDurationMs = result.durationMs;
        // The refresh rewrites an hour's cache row from reported calls alone; the collected
        // calls of the last hours are merged in (again) after it.
        for (const tenantId of new Set(config.monitoredDatabases.map((d) => d.tenantId))) {
          await mergeCollectedIntoCache(pool, tenantId, new Date(Date.now() - CACHE_MERGE_HOURS * 3_600_000), new Date(Date.now() + 60_000));
        }
        return result;
      },
    },
    {
      name: 'maintain',
      intervalMs: config.maintenanceIntervalMs,
      run: async () => {
        const partitions = await maintainPartitions(pool, { monthsAhead: config.partitionMonthsAhead, retentionDays: config.retentionDays });
        return { partitions, idempotencyKeysExpired: await expireIdempotencyKeys(pool) };
      },
    },
  ];
  if (config.optimizerIntervalMs > 0) {
    jobs.push({
      name: 'optimize',
      intervalMs: config.optimizerIntervalMs,
      run: () => optimizeJob(pool, optimizerSettings(config), collector && ((tenantId) => collector.poolForTenant(tenantId))),
    });
  }
  if (config.resourceSampleIntervalMs > 0 && config.metricsEnabled) {
    jobs.push({
      name: 'sample-resources',
      intervalMs: config.resourceSampleIntervalMs,
      everyReplica: true,
      run: createResourceSampler({ pool, queue, tenantId: config.serviceTenantId, poolMax: config.poolMax, source: 'agog-service' }),
    });
  }
  if (collector) jobs.push({ name: 'collect', intervalMs: config.collectIntervalMs, run: () => collector.collectAll() });
  for (const extra of options.jobs ?? []) {
    const at = jobs.findIndex((j) => j.name === extra.name);
    if (at >= 0) jobs[at] = extra;
    else jobs.push(extra);
  }
  const scheduler = new Scheduler(pool, jobs, metrics, log, options.jobRetryMs);

  const app = createHttpServer({ log });
  // During shutdown, keep-alive connections must not carry new requests: answer those
  // with 503 and close the connection, so clients move to another replica.
  let closing = false;
  app.addHook('onRequest', async (_request, reply) => {
    if (!closing) return;
    reply.header('connection', 'close').header('retry-after', '1');
    return reply.code(503).send(errorBody('shutting_down', 'the service is shutting down; retry against another replica'));
  });
  app.addHook('onSend', async (_request, reply) => {
    if (closing) reply.header('connection', 'close');
  });
  const workers = new IngestWorkers(config.ingestWorkers);
  registerIngestRoutes(app, { config, queue, auth, metrics, workers });
  registerOtlpRoutes(app, { config, queue, auth, metrics });
  registerStatusRoutes(app, { pool, queue, metrics, scheduler, auth });
  registerQueryRoutes(app, {
    pool: readPool,
    auth,
    limits: { tenantConcurrency: config.queryTenantConcurrency, tenantQueue: config.queryTenantQueue, requestTimeoutMs: config.queryRequestTimeoutMs },
    settings: { latencyTargetMs: config.latencyTargetMs, slowQueryThresholdMs: config.slowQueryThresholdMs },
  });
  await app.listen({ host: config.host, port: config.port });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  if ((options.startScheduler ?? config.schedulerEnabled)) scheduler.start();

  let stopping: Promise<void> | undefined;
  return {
    app, pool, readPool, queue, scheduler, metrics,
    url: `http://${config.host}:${port}`,
    stop() {
      stopping ??= (async () => {
        // Stop accepting; requests in flight finish (their batches commit first).
        closing = true;
        const closed = app.close();
        await scheduler.stop();
        await closed;
        await queue.drain();
        await workers.close();
        await collector?.close();
        await readPool.end();
        await pool.end();
      })();
      return stopping;
    },
  };
}
