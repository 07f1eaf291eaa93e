// Soak benchmark (not a test): the service in its own process for a bounded time at a
// steady ingest rate, with dashboard refreshes alongside, as a deployment sees them.
// Reports per minute the p50/p95 latency of ingest and of dashboard queries, errors, and
// the service's resident memory (RSS, from /proc), which should stay flat; at the end it
// checks that every acknowledged record is stored. Figures go to
// service/bench/reports/soak.md.
//
//   npm run bench -w service -- soakBench [--soak-minutes 10] [--soak-rate 2000]
//
// Ingest is open-loop: a batch is due every batch/rate seconds whether or not earlier
// ones were answered, so a slow service shows as latency and backlog, not as a lower
// offered rate. Dashboard refreshes send every panel's request at once, as Grafana does.
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { query as querySchema } from '../src/contract/query';
import { createPool } from '../src/db/pool';
import { createToken } from '../src/db/tokens';
import { openBenchDatabase, percentile, startServiceProcess, writeReport, type ServiceProcess } from './benchSupport';

const REPORT = path.resolve(__dirname, 'reports/soak.md');
const TENANTS = ['50a50000-0000-4000-8000-000000000001', '50a50000-0000-4000-8000-000000000002', '50a50000-0000-4000-8000-000000000003'];
const RECORDS_PER_BATCH = 100;
const DASHBOARD_REFRESH_MS = 10_000;
const RSS_SAMPLE_MS = 5_000;
/** Batches in flight beyond this are not sent (counted as backlog): the service is behind. */
const MAX_IN_FLIGHT = 200;
/** Service settings of the run; the rest are the defaults. */
const SERVICE_ENV = { REFRESH_INTERVAL_MS: '60000' };

const ENDPOINTS = ['/api/orders', '/api/orders/:id', '/api/customers/:id', '/api/invoices', '/api/jobs/:id/status',
  '/api/inventory/items', '/api/quotes', '/api/print-queue', '/api/reports/daily', '/api/auth/session'];
const QUERIES = [
  "SELECT id, status, total FROM orders WHERE customer_id = 4521 AND created_at > '2026-11-01' ORDER BY created_at DESC LIMIT 50",
  'SELECT * FROM customers WHERE id = 88123',
  "UPDATE print_jobs SET status = 'done', finished_at = now() WHERE id = 77812",
  'SELECT i.id, i.sku, i.qty_on_hand FROM inventory_items i JOIN warehouses w ON w.id = i.warehouse_id WHERE w.region = 3 AND i.qty_on_hand < 10',
  "INSERT INTO audit_log (actor, action, target) VALUES ('u-1', 'login', 'session')",
];

/** The panels of a dashboard refresh, in the wire format of src/contract/query.ts. */
const PANELS: Array<Array<Record<string, unknown>>> = [
  [{ refId: 'A', queryType: 'overview' }],
  [{ refId: 'A', queryType: 'healthSeries' }],
  [{ refId: 'A', queryType: 'latencyPercentiles', percentiles: [50, 95, 99] }],
  [{ refId: 'A', queryType: 'throughput' }],
  [{ refId: 'A', queryType: 'slowQueries', orderBy: 'total', limit: 10 }],
  [{ refId: 'A', queryType: 'endpoints', orderBy: 'p95', limit: 10 }],
  [{ refId: 'A', queryType: 'resources' }],
  [{ refId: 'A', queryType: 'recommendations' }, { refId: 'B', queryType: 'annotations', source: 'recommendations' }],
  [{ refId: 'A', queryType: 'variable', variable: 'endpoints' }],
];

type Kind = 'api' | 'query' | 'resource';
const PATHS: Record<Kind, string> = { api: '/v1/ingest/api-requests', query: '/v1/ingest/queries', resource: '/v1/ingest/resources' };
const TABLES: Record<Kind, string> = { api: 'api_performance_log', query: 'query_performance_log', resource: 'system_resource_metrics' };

function log(line: string): void {
  process.stderr.write(`[soak bench] ${line}\n`);
}

function option(argv: string[], name: string, fallback: number): number {
  const at = argv.indexOf(name);
  if (at < 0) return fallback;
  const value = Number(argv[at + 1]);
  if (!Number.isFinite(value) || value <= 0) throw new Error(`${name} expects a positive number, got "${argv[at + 1]}"`);
  return value;
}

/** Six batches in ten carry requests, three queries, one resource samples. */
function kindOf(batch: number): Kind {
  const slot = batch % 10;
  return slot < 6 ? 'api' : slot < 9 ? 'query' : 'resource';
}

function records(kind: Kind, batch: number): Record<string, unknown>[] {
  const now = Date.now();
  return Array.from({ length: RECORDS_PER_BATCH }, (_, i) => {
    const n = batch * RECORDS_PER_BATCH + i;
    if (kind === 'api') {
      return {
        timestamp: now, endpoint: ENDPOINTS[n % ENDPOINTS.length], method: n % 5 === 0 ? 'POST' : 'GET',
        statusCode: n % 97 === 0 ? 503 : n % 31 === 0 ? 404 : 200,
        responseTimeMs: Math.round(Math.exp(3 + ((n * 7919) % 1000) / 400) * 100) / 100, responseSizeBytes: 200 + (n % 5000),
        requestId: `soak-${n}`,
      };
    }
    if (kind === 'query') {
      return {
        timestamp: now, query: QUERIES[n % QUERIES.length]!.replace(/\d+/, String(n % 100_000)),
        executionTimeMs: Math.round(Math.exp(((n * 104729) % 1000) / 180) * 100) / 100, rows: n % 50,
        endpoint: ENDPOINTS[n % ENDPOINTS.length], requestId: `soak-${Math.floor(n / 3)}`,
      };
    }
    return { timestamp: now, cpuUsagePercent: 20 + (n % 60), memoryUsedMb: 1000 + (n % 500), memoryTotalMb: 8192, activeConnections: n % 30, poolMax: 30, source: `node-${n % 20}` };
  });
}

/** Resident set size of a process, in bytes (Linux /proc); NaN once it is gone. */
function rssOf(pid: number): number {
  let status: string;
  try {
    status = readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return NaN;
  }
  const kb = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
  return kb ? Number(kb[1]) * 1024 : NaN;
}

interface Minute {
  ingestMs: number[];
  queryMs: number[];
  recordsAcknowledged: number;
  errors: Record<string, number>;
  backlogSkipped: number;
  rss: number[];
}

function newMinute(): Minute {
  return { ingestMs: [], queryMs: [], recordsAcknowledged: 0, errors: {}, backlogSkipped: 0, rss: [] };
}

const mib = (bytes: number) => (bytes / 2 ** 20).toFixed(1);
const ms = (value: number) => (Number.isFinite(value) ? value.toFixed(1) : '–');

export async function main(argv: string[] = []): Promise<number> {
  const minutes = option(argv, '--soak-minutes', 10);
  const rate = option(argv, '--soak-rate', 2000);
  const batchIntervalMs = (RECORDS_PER_BATCH / rate) * 1000;
  for (const panel of PANELS) for (const q of panel) querySchema.parse(q); // the contract still takes them

  const database = await openBenchDatabase('soak', log);
  const pool = createPool(database.url, { max: 2 });
  let service: ServiceProcess | undefined;
  try {
    const ingestTokens = await Promise.all(TENANTS.map(async (tenantId) => (await createToken(pool, { tenantId, scopes: ['ingest'] })).token));
    const readTokens = await Promise.all(TENANTS.map(async (tenantId) => (await createToken(pool, { tenantId, scopes: ['read'] })).token));
    service = await startServiceProcess(database.url, SERVICE_ENV);
    const base = service.url;
    const pid = service.pid;
    await new Promise((resolve) => setTimeout(resolve, 2000));
    const rssIdle = rssOf(pid);

    // Dashboards read /v1/query; a service without it gets /health and /v1/whoami instead.
    const probe = await fetch(`${base}/v1/query`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${readTokens[0]}` }, body: '{}' });
    await probe.arrayBuffer();
    const queryApi = probe.status !== 404;
    log(`${minutes} min at ${rate} records/s (a batch of ${RECORDS_PER_BATCH} every ${batchIntervalMs.toFixed(1)} ms); dashboards through ${queryApi ? '/v1/query' : '/health and /v1/whoami'}`);

    const perMinute: Minute[] = Array.from({ length: Math.ceil(minutes) }, newMinute);
    const acknowledged: Record<Kind, number> = { api: 0, query: 0, resource: 0 };
    const started = performance.now();
    const end = started + minutes * 60_000;
    const minuteAt = (t: number) => perMinute[Math.min(perMinute.length - 1, Math.floor((t - started) / 60_000))]!;
    const countError = (minute: Minute, what: string) => (minute.errors[what] = (minute.errors[what] ?? 0) + 1);

    let inFlight = 0;
    const pending = new Set<Promise<void>>();
    const track = (work: Promise<void>) => {
      pending.add(work);
      void work.finally(() => pending.delete(work));
    };

    const sendBatch = (batch: number) => {
      const minute = minuteAt(performance.now());
      if (inFlight >= MAX_IN_FLIGHT) {
        minute.backlogSkipped++;
        return;
      }
      const kind = kindOf(batch);
      const tenant = batch % TENANTS.length;
      const body = JSON.stringify(records(kind, batch));
      inFlight++;
      const t0 = performance.now();
      track((async () => {
        try {
          const response = await fetch(base + PATHS[kind], {
            method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${ingestTokens[tenant]}` }, body,
          });
          await response.arrayBuffer();
          const at = minuteAt(t0);
          if (response.status === 200) {
            at.ingestMs.push(performance.now() - t0);
            at.recordsAcknowledged += RECORDS_PER_BATCH;
            acknowledged[kind] += RECORDS_PER_BATCH;
          } else countError(at, `ingest ${response.status}`);
        } catch (err) {
          countError(minuteAt(t0), `ingest ${(err as Error).message}`);
        } finally {
          inFlight--;
        }
      })());
    };

    let refreshes = 0;
    const refreshDashboard = () => {
      const refresh = refreshes++;
      const tenant = refresh % TENANTS.length;
      // Mostly the last 6 hours; every fourth refresh a week (the daily rollups).
      const rangeMs = refresh % 4 === 3 ? 7 * 86_400_000 : 6 * 3_600_000;
      const requests: Array<() => Promise<Response>> = queryApi
        ? PANELS.map((queries) => () => fetch(`${base}/v1/query`, {
            method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${readTokens[tenant]}` },
            body: JSON.stringify({ range: { from: Date.now() - rangeMs, to: Date.now() }, maxDataPoints: 1000, queries }),
          }))
        : [() => fetch(`${base}/health`), () => fetch(`${base}/v1/whoami`, { headers: { authorization: `Bearer ${readTokens[tenant]}` } })];
      for (const request of requests) {
        const t0 = performance.now();
        track((async () => {
          try {
            const response = await request();
            const text = await response.text();
            const at = minuteAt(t0);
            // A query API answer can carry a per-query error inside a 200.
            if (response.status === 200 && !(queryApi && text.includes('"error"'))) at.queryMs.push(performance.now() - t0);
            else countError(at, `query ${response.status}${response.status === 200 ? ' with an error' : ''}`);
          } catch (err) {
            countError(minuteAt(t0), `query ${(err as Error).message}`);
          }
        })());
      }
    };

    const rssTimer = setInterval(() => minuteAt(performance.now()).rss.push(rssOf(pid)), RSS_SAMPLE_MS);
    const dashboardTimer = setInterval(refreshDashboard, DASHBOARD_REFRESH_MS);
    refreshDashboard();
    let batch = 0;
    let due = started;
    let lastMinuteLogged = -1;
    while (performance.now() < end) {
      if (service.exit) {
        log(`the service exited during the run (code ${service.exit.code}, signal ${service.exit.signal}); its output: ${service.output().trim()}`);
        break;
      }
      const now = performance.now();
      while (due <= now) {
        sendBatch(batch++);
        due += batchIntervalMs;
      }
      const minute = Math.floor((now - started) / 60_000);
      if (minute !== lastMinuteLogged && minute > 0) {
        const m = perMinute[minute - 1]!;
        log(`minute ${minute}: ${m.recordsAcknowledged} records acknowledged so far, ingest p95 ${ms(percentile([...m.ingestMs].sort((a, b) => a - b), 95))} ms, ` +
          `query p95 ${ms(percentile([...m.queryMs].sort((a, b) => a - b), 95))} ms, RSS ${mib(m.rss.at(-1) ?? NaN)} MiB`);
        lastMinuteLogged = minute;
      }
      await new Promise((resolve) => setTimeout(resolve, Math.max(1, due - performance.now())));
    }
    clearInterval(dashboardTimer);
    await Promise.allSettled([...pending]);
    clearInterval(rssTimer);
    const rssEnd = rssOf(pid);
    const metrics = await fetch(`${base}/metrics`).then((r) => r.text(), () => '');
    const endedEarly = service.exit;
    const code = await service.stop();
    service = undefined;

    // Every acknowledged record is stored (the service's own samples are another tenant's).
    const stored: Record<Kind, number> = { api: 0, query: 0, resource: 0 };
    for (const kind of ['api', 'query', 'resource'] as const) {
      const result = await pool.query(`SELECT count(*)::int AS n FROM ${TABLES[kind]} WHERE tenant_id = ANY($1::uuid[])`, [TENANTS]);
      stored[kind] = result.rows[0].n;
    }

    const all = (pick: (m: Minute) => number[]) => perMinute.flatMap(pick).sort((a, b) => a - b);
    const ingestAll = all((m) => m.ingestMs);
    const queryAll = all((m) => m.queryMs);
    const errors: Record<string, number> = {};
    for (const m of perMinute) for (const [what, n] of Object.entries(m.errors)) errors[what] = (errors[what] ?? 0) + n;
    const errorTotal = Object.values(errors).reduce((a, b) => a + b, 0);
    const skipped = perMinute.reduce((sum, m) => sum + m.backlogSkipped, 0);
    const metric = (name: string) => /^(\S+) (\S+)$/m.exec(metrics.split('\n').find((line) => line.startsWith(name + ' ')) ?? '')?.[2] ?? '?';
    const rssFirstMinute = perMinute[0]!.rss.at(-1) ?? NaN;
    const rssMax = Math.max(...perMinute.flatMap((m) => m.rss).filter(Number.isFinite));

    const lines = [
      '# Soak benchmark',
      '',
      `Run ${new Date().toISOString()} on ${os.cpus().length} cores (${os.cpus()[0]?.model ?? 'unknown CPU'}), shared with other work, ` +
        `Node ${process.version}, PostgreSQL ${database.version}${database.embedded ? ' (embedded, default settings)' : ''}.`,
      '',
      `${minutes} minute${minutes === 1 ? '' : 's'} at a steady ${rate} records/s (a batch of ${RECORDS_PER_BATCH} every ${batchIntervalMs.toFixed(1)} ms, open loop; ` +
        `six batches in ten of API requests, three of queries, one of resource samples; ${TENANTS.length} tenants). ` +
        `Every ${DASHBOARD_REFRESH_MS / 1000} s a dashboard refresh: ` +
        (queryApi
          ? `${PANELS.length} panel requests to /v1/query at once (${PANELS.flat().map((q) => q.queryType).join(', ')}), over the last 6 hours, every fourth over 7 days.`
          : '/health and /v1/whoami (this service has no /v1/query yet).') +
        ` The service runs as \`agog-perf serve\` in its own process with the default settings and ${Object.entries(SERVICE_ENV).map(([k, v]) => `${k}=${v}`).join(', ')}; ` +
        'its scheduler (refresh, upkeep, self-sampling) runs as in production.',
      '',
      'Latency is measured by the client from sending the request to the end of the answer; an ingest answer comes after the commit, ' +
        'so it includes the wait for the group commit (METRICS_FLUSH_INTERVAL_MS, 50 ms).',
      '',
      '## Summary',
      '',
      '| measure | value |',
      '|---|---|',
      `| records offered / acknowledged | ${batch * RECORDS_PER_BATCH} / ${ingestAll.length * RECORDS_PER_BATCH} |`,
      `| acknowledged records stored (api, query, resource) | ${stored.api}/${acknowledged.api}, ${stored.query}/${acknowledged.query}, ${stored.resource}/${acknowledged.resource} ` +
        `(${stored.api === acknowledged.api && stored.query === acknowledged.query && stored.resource === acknowledged.resource ? 'all' : '**not all**'}) |`,
      `| errors | **${errorTotal}**${errorTotal ? ` (${Object.entries(errors).map(([what, n]) => `${what}: ${n}`).join('; ')})` : ''} |`,
      `| batches not sent because ${MAX_IN_FLIGHT} were in flight | ${skipped} |`,
      `| ingest latency p50 / p95 / max (ms), whole run | ${ms(percentile(ingestAll, 50))} / ${ms(percentile(ingestAll, 95))} / ${ms(ingestAll.at(-1) ?? NaN)} |`,
      `| dashboard request latency p50 / p95 / max (ms), whole run | ${ms(percentile(queryAll, 50))} / ${ms(percentile(queryAll, 95))} / ${ms(queryAll.at(-1) ?? NaN)} (${queryAll.length} requests) |`,
      `| service RSS: idle before load / after minute 1 / end / max (MiB) | ${mib(rssIdle)} / ${mib(rssFirstMinute)} / **${mib(rssEnd)}** / ${mib(rssMax)} |`,
      `| RSS change from minute 1 to the end | ${((rssEnd - rssFirstMinute) / 2 ** 20).toFixed(1)} MiB (${(((rssEnd - rssFirstMinute) / rssFirstMinute) * 100).toFixed(1)} %) |`,
      `| group commits / failed (service /metrics) | ${metric('agog_ingest_flushes_total')} / ${metric('agog_ingest_flush_failures_total')} |`,
      endedEarly
        ? `| **the service exited during the run** | code ${endedEarly.code}, signal ${endedEarly.signal} |`
        : `| service exit code after SIGTERM | ${code} |`,
      '',
      '## Per minute',
      '',
      '| minute | records acknowledged | ingest p50 ms | ingest p95 ms | dashboard requests | dashboard p50 ms | dashboard p95 ms | errors | RSS at minute end MiB |',
      '|---|---|---|---|---|---|---|---|---|',
      ...perMinute.map((m, i) => {
        const ingest = [...m.ingestMs].sort((a, b) => a - b);
        const queries = [...m.queryMs].sort((a, b) => a - b);
        const errorCount = Object.values(m.errors).reduce((a, b) => a + b, 0);
        return `| ${i + 1} | ${m.recordsAcknowledged} | ${ms(percentile(ingest, 50))} | ${ms(percentile(ingest, 95))} | ${queries.length} | ` +
          `${ms(percentile(queries, 50))} | ${ms(percentile(queries, 95))} | ${errorCount} | ${mib(m.rss.at(-1) ?? NaN)} |`;
      }),
      '',
      'The machine has 2 cores shared with other work, so single minutes are noisy; the benchmark measures and never fails on a number.',
      '',
    ];
    writeReport(REPORT, lines, log);
    return 0;
  } finally {
    await service?.stop();
    await pool.end();
    await database.close();
  }
}
