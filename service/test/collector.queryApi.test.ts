// Collected statistics in the query API: the service's `collect` job reads a monitored
// database's pg_stat_statements, and slowQueries, queryDetail and merged_query_counts
// show a statement the application also reported once, with its collected calls, the
// source of its figures, and percentiles marked unavailable for collected calls.
import { refreshRollups } from '../src/db/rollups';
import { fingerprintQuery, hashToHex, loadParser } from '../src/ingest/fingerprint';
import type { RunningService } from '../src/service';
import { createTestDatabase, type TestDatabase } from './support/db';
import { createMonitoredDatabase, startMonitoredServer, type MonitoredDatabaseFixture, type MonitoredServer } from './support/monitoredServer';
import { column, HOUR, MINUTE, insertQueries, queryOne, times } from './support/queryData';
import { startTestService, tokenFor } from './support/service';

const TENANT = 'c011ec70-0000-4000-8000-0000000000a1';
const SELECT = (i: number) => `SELECT abalance FROM accounts WHERE aid = ${i}`;
const COUNT = (i: number) => `SELECT count(*) FROM accounts WHERE abalance > ${i}`;
const REPORTED_ONLY = '777';

let db: TestDatabase;
let server: MonitoredServer;
let monitored: MonitoredDatabaseFixture;
let service: RunningService;
let url: string;
let token: string;
let selectHash: string;
let countHash: string;
let from: number;
let roundHour: Date;

const ask = (query: Record<string, unknown>) => queryOne(url, token, query, { from, to: Date.now() + MINUTE });

beforeAll(async () => {
  await loadParser();
  selectHash = fingerprintQuery(SELECT(1)).hashDecimal;
  countHash = fingerprintQuery(COUNT(1)).hashDecimal;
  db = await createTestDatabase('collector_api');
  server = await startMonitoredServer();
  monitored = await createMonitoredDatabase(server);
  await monitored.admin.query(`CREATE TABLE accounts (aid integer PRIMARY KEY, abalance integer NOT NULL DEFAULT 0)`);
  await monitored.admin.query(`INSERT INTO accounts (aid) SELECT generate_series(1, 100)`);
  // A slow-query threshold of 1 ms makes the orders scan below slow enough for the
  // missing-index detector; the collector's login may read the tables it plans.
  await monitored.admin.query(`CREATE TABLE orders (id integer PRIMARY KEY, customer_id integer NOT NULL, note text)`);
  await monitored.admin.query(`INSERT INTO orders SELECT g, g % 5000, repeat('x', 40) FROM generate_series(1, 60000) g`);
  await monitored.admin.query(`ANALYZE orders`);
  await monitored.admin.query(`GRANT pg_read_all_data TO ${monitored.collectorRole}`);
  ({ service, url } = await startTestService(db, {
    MONITORED_DATABASE_URL: monitored.collectorUrl, MONITORED_TENANT_ID: TENANT, SLOW_QUERY_THRESHOLD_MS: '1', MISSING_INDEX_MIN_ROWS: '10000',
  }));
  token = await tokenFor(db, TENANT, ['read']);
  from = Date.now() - HOUR;

  expect(await service.scheduler.runNow('collect')).toBe(true); // the baseline
  for (let i = 1; i <= 20; i++) await monitored.admin.query(SELECT(i));
  for (let i = 1; i <= 5; i++) await monitored.admin.query(COUNT(i));
  expect(await service.scheduler.runNow('collect')).toBe(true);
  expect(service.scheduler.status().collect!.failures).toBe(0);

  // The application reported the same 20 selects (1..20 ms), and 3 calls of a statement
  // on another database, in the hour of the round that collected the selects.
  const roundAt = (await db.pool.query<{ at: Date }>(`SELECT max(last_round_at) AS at FROM collected_query_stats WHERE tenant_id = $1::uuid`, [TENANT])).rows[0]!.at;
  roundHour = new Date(Math.floor(roundAt.getTime() / HOUR) * HOUR);
  const at = times(new Date(Math.max(roundHour.getTime(), roundAt.getTime() - 25_000)), 20, 1000);
  await insertQueries(db.pool, TENANT, at.map((t, i) => ({ at: t, hash: selectHash, preview: 'SELECT abalance FROM accounts WHERE aid = $1', ms: i + 1, endpoint: '/api/accounts' })));
  await insertQueries(db.pool, TENANT, at.slice(0, 3).map((t) => ({ at: t, hash: REPORTED_ONLY, preview: 'SELECT * FROM elsewhere WHERE id = $1', ms: 5 })));
  await refreshRollups(db.pool);
});

afterAll(async () => {
  await service?.stop();
  await monitored?.drop();
  await server?.stop();
  await db?.drop();
});

async function collectedCalls(hash: string): Promise<{ calls: number; totalMs: number }> {
  const { rows } = await db.pool.query(`SELECT sum(calls)::float8 AS calls, sum(total_ms) AS total_ms FROM collected_query_stats WHERE tenant_id = $1::uuid AND resolution = '5m' AND query_hash = $2::bigint`, [TENANT, hash]);
  return { calls: rows[0].calls, totalMs: rows[0].total_ms };
}

describe('collected statistics in the query API', () => {
  it('shows a statement reported and collected once in slowQueries, with its collected calls and both sources', async () => {
    const { status, frames } = await ask({ queryType: 'slowQueries', orderBy: 'count', limit: 50 });
    expect(status).toBe(200);
    const [frame] = frames;
    const hashes = column(frame, 'queryHash') as string[];
    const row = (hash: string) => hashes.indexOf(hashToHex(hash));
    for (const hash of [selectHash, countHash, REPORTED_ONLY]) expect(row(hash)).toBeGreaterThanOrEqual(0);
    expect(hashes.filter((h) => h === hashToHex(selectHash))).toHaveLength(1);

    const select = await collectedCalls(selectHash);
    expect(select.calls).toBe(20);
    expect(column(frame, 'calls')[row(selectHash)]).toBe(20); // not 40
    expect(column(frame, 'totalMs')[row(selectHash)]).toBeCloseTo(select.totalMs, 6);
    expect(column(frame, 'source')[row(selectHash)]).toBe('both');
    expect(column(frame, 'p95Ms')[row(selectHash)]).toBeGreaterThan(15); // of the reported 1..20 ms

    expect(column(frame, 'calls')[row(countHash)]).toBe(5);
    expect(column(frame, 'source')[row(countHash)]).toBe('collected');
    expect(column(frame, 'p95Ms')[row(countHash)]).toBeNull();
    expect(column(frame, 'sharedBlksHit')[row(countHash)]).toBeGreaterThan(0);
    expect(column(frame, 'query')[row(countHash)]).toBe('SELECT count(*) FROM accounts WHERE abalance > $1');

    expect(column(frame, 'calls')[row(REPORTED_ONLY)]).toBe(3);
    expect(column(frame, 'source')[row(REPORTED_ONLY)]).toBe('reported');
    expect(column(frame, 'sharedBlksHit')[row(REPORTED_ONLY)]).toBeNull();
    expect(frame!.schema.meta?.notices?.map((n) => n.text)).toEqual([expect.stringMatching(/^p95 is unavailable for calls collected from pg_stat_statements/)]);
  });

  it('ranks by the merged figures, asking for more reported fingerprints when the collected ones push them out', async () => {
    // By count, the reported top 1 is the select (20 reported calls), which is collected;
    // the reported-only statement must still be found for the second place.
    const { frames } = await ask({ queryType: 'slowQueries', orderBy: 'count', limit: 2 });
    expect(column(frames[0], 'queryHash')).toEqual([hashToHex(selectHash), hashToHex(countHash)]);
    const byTotal = await ask({ queryType: 'slowQueries', orderBy: 'count', limit: 3 });
    expect((column(byTotal.frames[0], 'queryHash') as string[]).slice(0, 3)).toEqual([hashToHex(selectHash), hashToHex(countHash), hashToHex(REPORTED_ONLY)]);
  });

  it('ranks one endpoint\'s fingerprints by reported calls only: collected statistics know no endpoints', async () => {
    const { frames } = await ask({ queryType: 'slowQueries', endpoint: '/api/accounts' });
    expect(column(frames[0], 'queryHash')).toEqual([hashToHex(selectHash)]);
    expect(column(frames[0], 'calls')).toEqual([20]);
    expect(column(frames[0], 'source')).toEqual(['reported']);
  });

  it('shows the collected calls and the source in queryDetail', async () => {
    const { frames } = await ask({ queryType: 'queryDetail', queryHash: hashToHex(selectHash) });
    const latency = frames.find((f) => f.schema.name === 'latency');
    const detail = frames.find((f) => f.schema.name === 'query');
    expect(column(detail, 'calls')).toEqual([20]);
    expect(column(detail, 'source')).toEqual(['both']);
    expect((column(latency, 'avgMs') as Array<number | null>).some((v) => v !== null)).toBe(true);
    expect(latency!.schema.meta?.notices?.map((n) => n.text)).toContainEqual(expect.stringMatching(/^p95 is unavailable for calls collected/));

    const collectedOnly = await ask({ queryType: 'queryDetail', queryHash: hashToHex(countHash) });
    const only = collectedOnly.frames.find((f) => f.schema.name === 'query');
    expect(column(only, 'calls')).toEqual([5]);
    expect(column(only, 'source')).toEqual(['collected']);
    expect(column(only, 'p95Ms')).toEqual([null]);
  });

  it('merges the collected calls into the hourly cache after the refresh job, counting the select once', async () => {
    expect(await service.scheduler.runNow('refresh')).toBe(true);
    const { rows } = await db.pool.query(
      `SELECT total_queries::float8 AS queries FROM performance_metrics_cache WHERE tenant_id = $1::uuid AND hour_bucket = $2::timestamptz`,
      [TENANT, roundHour]);
    const collectedInHour = await db.pool.query(
      `SELECT sum(calls)::float8 AS calls FROM collected_query_stats WHERE tenant_id = $1::uuid AND resolution = '1h' AND bucket = $2::timestamptz`,
      [TENANT, roundHour]);
    // Every collected call of the hour, and the 3 reported calls of the statement not
    // collected; the 20 reported selects are the collected ones.
    expect(rows[0].queries).toBe(collectedInHour.rows[0].calls + 3);
  });

  it('counts each statement once in merged_query_counts, which the alert rules read', async () => {
    const { rows } = await db.pool.query(
      `SELECT calls::float8 AS calls FROM merged_query_counts(now() - interval '1 hour', now() + interval '1 minute') WHERE tenant_id = $1::uuid`, [TENANT]);
    const all = await db.pool.query(`SELECT sum(calls)::float8 AS calls FROM collected_query_stats WHERE tenant_id = $1::uuid AND resolution = '5m'`, [TENANT]);
    // Every collected call, and the 3 reported calls of the statement not collected; the
    // 20 reported selects are the collected ones.
    expect(rows[0].calls).toBe(all.rows[0].calls + 3);
  });

  it('lets the missing-index detector plan a collected statement on the monitored database', async () => {
    for (let i = 1; i <= 8; i++) await monitored.admin.query(`SELECT * FROM orders WHERE customer_id = ${i}`);
    expect(await service.scheduler.runNow('collect')).toBe(true);
    const ordersHash = fingerprintQuery('SELECT * FROM orders WHERE customer_id = 1').hashDecimal;
    const { rows: collectedRows } = await db.pool.query(
      `SELECT sum(slow_calls)::int AS slow FROM collected_query_stats WHERE tenant_id = $1::uuid AND resolution = '5m' AND query_hash = $2::bigint`, [TENANT, ordersHash]);
    expect(collectedRows[0].slow).toBeGreaterThan(0);
    // The product's own database has no orders table: only the monitored one can plan it.
    expect(await service.scheduler.runNow('optimize')).toBe(true);
    const { rows } = await db.pool.query(
      `SELECT table_name, action, evidence FROM optimization_recommendations WHERE tenant_id = $1::uuid AND kind = 'missingIndex'`, [TENANT]);
    expect(rows.map((r) => r.table_name)).toEqual(['public.orders']);
    expect(rows[0].action).toMatch(/^CREATE INDEX CONCURRENTLY "?orders_customer_id_idx"? ON "?public"?\."?orders"? \("?customer_id"?\);$/);
    expect(rows[0].evidence).toMatchObject({ queryHash: hashToHex(ordersHash), query: 'SELECT * FROM orders WHERE customer_id = $1', calls: 8 });

    // Without the right to read the table the statement cannot be planned: no advice, and
    // the optimizer's run still succeeds.
    await monitored.admin.query(`REVOKE pg_read_all_data FROM ${monitored.collectorRole}`);
    expect(await service.scheduler.runNow('optimize')).toBe(true);
    const after = await db.pool.query(
      `SELECT count(*)::int AS n FROM optimization_recommendations WHERE tenant_id = $1::uuid AND kind = 'missingIndex' AND resolved_at IS NULL`, [TENANT]);
    expect(after.rows[0].n).toBe(0);
  });
});
