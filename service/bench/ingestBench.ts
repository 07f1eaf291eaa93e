// Ingest benchmark (not a test): sustained HTTP ingest with acknowledge-after-commit
// against raw COPY of the same rows into the same tables, the incremental refresh of
// five minutes of data at 1 k records/s, the refresh after a 30-day backfill, and bytes
// on disk per record. Everything runs
// side by side in one run on one throwaway PostgreSQL; figures go to
// service/bench/reports/ingest.md.
//
//   node service/bin/run-ts.js service/bench/ingestBench.ts [--records N]
import type { PoolClient } from 'pg';
import os from 'node:os';
import path from 'node:path';
import { writeRecords } from '../src/db/ingestCopy';
import { createPool, type Pool } from '../src/db/pool';
import { refreshRollups } from '../src/db/rollups';
import { createToken } from '../src/db/tokens';
import { loadParser } from '../src/ingest/fingerprint';
import { BatchTexts, encodeRecord, type FieldError, type RecordKind } from '../src/ingest/records';
import { openBenchDatabase, startServiceProcess, writeReport } from './benchSupport';

/** The service's defaults (LATENCY_TARGET_MS, SLOW_QUERY_THRESHOLD_MS): how rows are classified in their deltas. */
const DELTAS = { apdexTargetMs: 100, slowQueryThresholdMs: 1000 };

/** One kind's lines into the raw logs with their rollup deltas, as the group commit writes them. */
function writeLines(client: PoolClient, kind: 'api' | 'query' | 'resource', lines: Array<string | Uint8Array>): Promise<void> {
  return writeRecords(client, { api: [], query: [], resource: [], [kind]: lines }, DELTAS);
}

const REPORT = path.resolve(__dirname, 'reports/ingest.md');
const TENANTS = ['a0000000-0000-4000-8000-000000000001', 'a0000000-0000-4000-8000-000000000002', 'a0000000-0000-4000-8000-000000000003'];

const ENDPOINTS = ['/api/orders', '/api/orders/:id', '/api/customers/:id', '/api/invoices', '/api/jobs/:id/status',
  '/api/inventory/items', '/api/quotes', '/api/print-queue', '/api/reports/daily', '/api/auth/session'];
const QUERIES = [
  "SELECT id, status, total FROM orders WHERE customer_id = 4521 AND created_at > '2026-11-01' ORDER BY created_at DESC LIMIT 50",
  'SELECT * FROM customers WHERE id = 88123',
  "UPDATE print_jobs SET status = 'done', finished_at = now() WHERE id = 77812",
  'SELECT i.id, i.sku, i.qty_on_hand FROM inventory_items i JOIN warehouses w ON w.id = i.warehouse_id WHERE w.region = 3 AND i.qty_on_hand < 10',
  "INSERT INTO audit_log (actor, action, target) VALUES ('u-1', 'login', 'session')",
  'SELECT count(*) FROM invoices WHERE due_date < now() AND paid = false AND tenant_id = 5',
];

function log(line: string): void {
  process.stderr.write(`[ingest bench] ${line}\n`);
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

function apiRecords(count: number, startMs: number, spanMs: number, seed: number): Record<string, unknown>[] {
  const records: Record<string, unknown>[] = [];
  for (let i = 0; i < count; i++) {
    const n = seed + i;
    records.push({
      timestamp: new Date(startMs + Math.floor((i / count) * spanMs)).toISOString(),
      endpoint: ENDPOINTS[n % ENDPOINTS.length],
      method: n % 5 === 0 ? 'POST' : 'GET',
      statusCode: n % 97 === 0 ? 503 : n % 31 === 0 ? 404 : 200,
      responseTimeMs: Math.round(Math.exp(3 + ((n * 7919) % 1000) / 400) * 100) / 100,
      responseSizeBytes: 200 + (n % 5000),
      requestId: `r-${n}`,
    });
  }
  return records;
}

function queryRecords(count: number, startMs: number, spanMs: number, seed: number): Record<string, unknown>[] {
  const records: Record<string, unknown>[] = [];
  for (let i = 0; i < count; i++) {
    const n = seed + i;
    records.push({
      timestamp: startMs + Math.floor((i / count) * spanMs),
      query: QUERIES[n % QUERIES.length]!.replace(/\d+/, String(n % 100000)),
      // 1 to 257 ms, and one query in a hundred slow (1 to 3 s).
      executionTimeMs: n % 100 === 99 ? 1000 + ((n * 7919) % 2000) : Math.round(Math.exp(((n * 104729) % 1000) / 180) * 100) / 100,
      rows: n % 50,
      endpoint: ENDPOINTS[n % ENDPOINTS.length],
      requestId: `r-${Math.floor(n / 3)}`,
    });
  }
  return records;
}

function encode(kind: RecordKind, records: Record<string, unknown>[], tenantId: string): string[] {
  const errors: FieldError[] = [];
  const ctx = { tenantId, limits: { minTimeMs: 0, maxTimeMs: Date.now() + 86_400_000 }, slowQueryThresholdMs: 1000 };
  // As the service writes them: query text on slow rows and once per fingerprint per batch.
  const texts = new BatchTexts();
  const lines = records.map((r, i) => texts.line(encodeRecord(kind, r, i, ctx, errors)!));
  if (errors.length) throw new Error(`bench data invalid: ${JSON.stringify(errors[0])}`);
  return lines;
}

async function tableBytes(pool: Pool, parent: string): Promise<{ bytes: number; rows: number }> {
  await pool.query(`VACUUM ANALYZE ${parent}`);
  const result = await pool.query<{ bytes: string; rows: string }>(
    `SELECT coalesce(sum(pg_total_relation_size(i.inhrelid)), 0) AS bytes,
            (SELECT count(*) FROM ${parent}) AS rows
       FROM pg_inherits i WHERE i.inhparent = $1::regclass`,
    [parent],
  );
  return { bytes: Number(result.rows[0]!.bytes), rows: Number(result.rows[0]!.rows) };
}

async function truncateAll(pool: Pool): Promise<void> {
  await pool.query(`TRUNCATE api_performance_log, query_performance_log, system_resource_metrics,
    api_rollup_pending, query_rollup_pending, resource_rollup_pending, api_metrics_rollup, query_metrics_rollup,
    query_fingerprints, query_endpoints, resource_metrics_rollup, performance_metrics_cache`);
}

export async function main(argv: string[] = []): Promise<number> {
  const recordsArg = argv.indexOf('--records');
  const total = recordsArg >= 0 ? Number(argv[recordsArg + 1]) : 600_000;
  const batchSize = 5_000;
  const clientsArg = argv.indexOf('--clients');
  const clients = clientsArg >= 0 ? Number(argv[clientsArg + 1]) : 8;
  await loadParser();
  const loadAtStart = os.loadavg()[0]!;

  const database = await openBenchDatabase('ingest', log);
  const dbUrl = database.url;
  const version = database.version;
  const pool = createPool(dbUrl, { max: 4 });
  const lines: string[] = [];
  try {
    // ---- Data: the same records for both paths ---------------------------------
    const now = Date.now();
    const span = 10 * 60_000;
    log(`generating ${total} API request records`);
    const records = apiRecords(total, now - span, span, 0);
    const batches: Buffer[] = [];
    for (let i = 0; i < records.length; i += batchSize) batches.push(Buffer.from(JSON.stringify(records.slice(i, i + batchSize))));
    const copyBatches: string[][] = [];
    for (let i = 0; i < records.length; i += batchSize) copyBatches.push(encode('api', records.slice(i, i + batchSize), TENANTS[(i / batchSize) % TENANTS.length]!));

    const token = (await createToken(pool, { tenantId: null, scopes: ['admin'] })).token;
    const rounds = 3;
    const httpRates: number[] = [];
    const copyRates: number[] = [];
    for (let round = 1; round <= rounds; round++) {
      // Raw COPY: one connection, one transaction per batch, same tables, with the rows' rollup deltas.
      await truncateAll(pool);
      let started = process.hrtime.bigint();
      const client = await pool.connect();
      try {
        for (const batch of copyBatches) {
          await client.query('BEGIN');
          await writeLines(client, 'api', batch);
          await client.query('COMMIT');
        }
      } finally {
        client.release();
      }
      const copySeconds = Number(process.hrtime.bigint() - started) / 1e9;
      copyRates.push(total / copySeconds);

      // HTTP: the service in its own process; clients send pre-serialized batches and
      // count a batch only when its 200 (sent after commit) arrives.
      await truncateAll(pool);
      const service = await startServiceProcess(dbUrl, {
        SCHEDULER_ENABLED: 'false', RESOURCE_SAMPLE_INTERVAL_MS: '0', INGEST_BODY_LIMIT_BYTES: String(64 * 1024 * 1024),
      });
      let next = 0;
      started = process.hrtime.bigint();
      await Promise.all(Array.from({ length: clients }, async (_, c) => {
        while (true) {
          const i = next++;
          if (i >= batches.length) return;
          const response = await fetch(`${service.url}/v1/ingest/api-requests`, {
            method: 'POST',
            headers: { 'content-type': 'application/json', authorization: `Bearer ${token}`, 'x-tenant-id': TENANTS[i % TENANTS.length]! },
            body: batches[i],
          });
          if (response.status !== 200) throw new Error(`client ${c}: HTTP ${response.status} ${await response.text()}`);
          await response.arrayBuffer();
        }
      }));
      const httpSeconds = Number(process.hrtime.bigint() - started) / 1e9;
      httpRates.push(total / httpSeconds);
      await service.stop();
      const stored = Number((await pool.query(`SELECT count(*) AS n FROM api_performance_log`)).rows[0].n);
      if (stored !== total) throw new Error(`HTTP round stored ${stored} of ${total} rows`);
      log(`round ${round}: raw COPY ${Math.round(total / copySeconds)} rec/s, HTTP ${Math.round(total / httpSeconds)} rec/s`);
    }

    // ---- Bytes on disk per record ------------------------------------------------
    log('loading query records for the size measurement');
    const queryData = queryRecords(total, now - span, span, 0);
    const qc = await pool.connect();
    try {
      for (let i = 0; i < queryData.length; i += batchSize) {
        await qc.query('BEGIN');
        await writeLines(qc, 'query', encode('query', queryData.slice(i, i + batchSize), TENANTS[0]!));
        await qc.query('COMMIT');
      }
    } finally {
      qc.release();
    }
    const apiSize = await tableBytes(pool, 'api_performance_log');
    const querySize = await tableBytes(pool, 'query_performance_log');
    await refreshRollups(pool);
    // Side by side: the same rows with the text on every row (the layout of the seed schema).
    await pool.query(`CREATE TABLE bench_query_log_text_on_every_row (LIKE query_performance_log INCLUDING CONSTRAINTS)`);
    await pool.query(
      `INSERT INTO bench_query_log_text_on_every_row
       SELECT l."timestamp", l.query_hash, l.tenant_id, l.execution_time_ms, l.rows_returned, l.endpoint, l.request_id,
              coalesce(l.query_preview, f.query_preview)
         FROM query_performance_log l JOIN query_fingerprints f USING (tenant_id, query_hash)`);
    await pool.query(`CREATE INDEX ON bench_query_log_text_on_every_row USING brin ("timestamp") WITH (pages_per_range = 32)`);
    await pool.query(`VACUUM ANALYZE bench_query_log_text_on_every_row`);
    const everyRow = await pool.query<{ bytes: string; rows: string }>(
      `SELECT pg_total_relation_size('bench_query_log_text_on_every_row') AS bytes, count(*) AS rows FROM bench_query_log_text_on_every_row`);
    await pool.query(`DROP TABLE bench_query_log_text_on_every_row`);
    const textStats = (await pool.query<{ with_text: string; slow: string; avg_chars: number }>(
      `SELECT count(*) FILTER (WHERE l.query_preview IS NOT NULL) AS with_text,
              count(*) FILTER (WHERE l.execution_time_ms >= 1000) AS slow,
              avg(length(f.query_preview))::float8 AS avg_chars
         FROM query_performance_log l JOIN query_fingerprints f USING (tenant_id, query_hash)`)).rows[0]!;
    const everyRowBytes = Number(everyRow.rows[0]!.bytes) / Number(everyRow.rows[0]!.rows);

    // ---- Incremental refresh of 5 minutes at 1 k records/s ---------------------------
    const refreshMs: number[] = [];
    const refreshRounds = 5;
    for (let round = 0; round < refreshRounds; round++) {
      const windowStart = now + round * 300_000;
      // 1 k records/s for 300 s: 600 requests, 380 queries and 20 resource samples a second.
      const client = await pool.connect();
      try {
        await client.query('BEGIN');
        await writeLines(client, 'api', encode('api', apiRecords(180_000, windowStart - 86_400_000, 300_000, round * 1e6), TENANTS[round % 3]!));
        await writeLines(client, 'query', encode('query', queryRecords(114_000, windowStart - 86_400_000, 300_000, round * 1e6), TENANTS[round % 3]!));
        await client.query('COMMIT');
      } finally {
        client.release();
      }
      const resources = Array.from({ length: 6_000 }, (_, i) => ({
        timestamp: windowStart - 86_400_000 + i * 50, cpuUsagePercent: 30 + (i % 40), memoryUsedMb: 1000 + (i % 500),
        memoryTotalMb: 8192, activeConnections: i % 30, poolMax: 30, source: `node-${i % 20}`,
      }));
      const rc = await pool.connect();
      try {
        await rc.query('BEGIN');
        await writeLines(rc, 'resource', encode('resource', resources, TENANTS[round % 3]!));
        await rc.query('COMMIT');
      } finally {
        rc.release();
      }
      const result = await refreshRollups(pool);
      refreshMs.push(result.durationMs);
      log(`refresh round ${round + 1}: ${result.durationMs.toFixed(1)} ms for 300 000 new records (${result.rowsWritten} cache rows)`);
    }

    // ---- Backfill: 30 days of 1 M records, then one refresh ------------------------
    // As an application sending a month of history would: batches of 5000 records through
    // the write path of the group commit, nothing refreshed until all are in.
    const backfill = { requests: 600_000, queries: 380_000, resources: 20_000 };
    const backfillDays = 30;
    const backfillEnd = now - 2 * 86_400_000;
    const backfillStart = backfillEnd - backfillDays * 86_400_000;
    await pool.query(`SELECT count(*) FROM maintain_performance_partitions(3, interval '400 days', $1::timestamptz)`, [new Date(backfillStart)]);
    log(`backfill: writing ${backfill.requests + backfill.queries + backfill.resources} records over ${backfillDays} days`);
    const bc = await pool.connect();
    try {
      const write = async (kind: RecordKind, records: Record<string, unknown>[]) => {
        for (let i = 0; i < records.length; i += 5000) {
          await bc.query('BEGIN');
          await writeLines(bc, kind, encode(kind, records.slice(i, i + 5000), TENANTS[(i / 5000) % 3]!));
          await bc.query('COMMIT');
        }
      };
      await write('api', apiRecords(backfill.requests, backfillStart, backfillEnd - backfillStart, 7e6));
      await write('query', queryRecords(backfill.queries, backfillStart, backfillEnd - backfillStart, 7e6));
      await write('resource', Array.from({ length: backfill.resources }, (_, i) => ({
        timestamp: backfillStart + Math.floor((i / backfill.resources) * (backfillEnd - backfillStart)), cpuUsagePercent: 30 + (i % 40),
        memoryUsedMb: 1000 + (i % 500), memoryTotalMb: 8192, activeConnections: i % 30, poolMax: 30, source: `node-${i % 20}`,
      })));
    } finally {
      bc.release();
    }
    const backfillPending = Number((await pool.query(
      `SELECT (SELECT count(*) FROM api_rollup_pending) + (SELECT count(*) FROM query_rollup_pending) + (SELECT count(*) FROM resource_rollup_pending) AS n`)).rows[0].n);
    const backfillRefresh = await refreshRollups(pool);
    log(`backfill refresh: ${(backfillRefresh.durationMs / 1000).toFixed(1)} s for ${backfillPending} pending deltas`);

    const httpMedian = median(httpRates);
    const copyMedian = median(copyRates);
    lines.push(
      '# Ingest benchmark',
      '',
      `Run ${new Date().toISOString()} on ${os.cpus().length} cores (${os.cpus()[0]?.model ?? 'unknown CPU'}), ` +
        `${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}, PostgreSQL ${version}` +
        `${database.embedded ? ' (embedded, default settings)' : ''}.`,
      '',
      `Load average (1 min) at the start and the end of the run: ${loadAtStart.toFixed(2)} and ${os.loadavg()[0]!.toFixed(2)}; ` +
        'anything above 0 is other work sharing the two cores, which slows the HTTP path (it needs both cores) more than raw COPY (one).',
      '',
      '## Sustained ingest, acknowledged after commit',
      '',
      `${total} API request records, ${batchSize} per request, ${clients} concurrent HTTP clients; the service in its own process.`,
      'Raw COPY: the same rows, pre-encoded, one transaction per batch on one connection, into the same tables, with their rollup deltas as the group commit writes them.',
      `Rounds alternate COPY and HTTP; ${rounds} rounds, medians.`,
      '',
      '| path | records/s per round | median records/s |',
      '|---|---|---|',
      `| raw COPY | ${copyRates.map((r) => Math.round(r)).join(', ')} | ${Math.round(copyMedian)} |`,
      `| HTTP ingest | ${httpRates.map((r) => Math.round(r)).join(', ')} | ${Math.round(httpMedian)} |`,
      '',
      `HTTP / raw COPY: **${(httpMedian / copyMedian).toFixed(2)}** (target ≥ 0.6). HTTP median: **${Math.round(httpMedian)} records/s** (target ≥ 100 000).`,
      '',
      '## Incremental refresh of 5 minutes at 1 k records/s',
      '',
      `Each round adds 300 000 records (180 000 requests, 114 000 queries, 6 000 resource samples) and then runs refresh_performance_metrics_incremental(); ${refreshRounds} rounds.`,
      '',
      `Durations (ms): ${refreshMs.map((m) => m.toFixed(1)).join(', ')}. Median **${median(refreshMs).toFixed(1)} ms** (target ≤ 100 ms).`,
      '',
      '## Refresh after a 30-day backfill of 1 M records',
      '',
      `${backfill.requests} requests, ${backfill.queries} queries and ${backfill.resources} resource samples over ${backfillDays} days, written in transactions of 5000 records (each with its rows' rollup deltas, as the group commit writes them: ${backfillPending} pending delta rows), then one refresh_performance_metrics_incremental().`,
      '',
      `Refresh: **${(backfillRefresh.durationMs / 1000).toFixed(1)} s** (target ≤ 30 s).`,
      '',
      '## Bytes on disk per record (table and indexes, after VACUUM)',
      '',
      '| table | rows | bytes | bytes per record |',
      '|---|---|---|---|',
      `| api_performance_log | ${apiSize.rows} | ${apiSize.bytes} | **${(apiSize.bytes / apiSize.rows).toFixed(1)}** |`,
      `| query_performance_log | ${querySize.rows} | ${querySize.bytes} | **${(querySize.bytes / querySize.rows).toFixed(1)}** |`,
      '',
      'Target ≤ 150 bytes per record. The original row shapes took 293 (API) and 448 (query) bytes.',
      '',
      `Query records: ${batchSize} per batch, ${Number(textStats.slow)} of ${querySize.rows} slow (≥ 1000 ms); normalized text ` +
        `${Number(textStats.avg_chars).toFixed(0)} characters on average. A row carries the text only when slow or the first of ` +
        `its fingerprint in its batch: ${Number(textStats.with_text)} rows here. The same rows with the text on every row ` +
        `(a plain table with the same columns and BRIN index, measured in this run) take **${everyRowBytes.toFixed(1)}** bytes per record.`,
      '',
    );
    writeReport(REPORT, lines, log);
    return 0;
  } finally {
    await pool.end();
    await database.close();
  }
}
