// Where the normalized query text is stored (baseline migration): once per fingerprint in
// query_fingerprints, on slow raw rows (the runbook's top-10 slow queries reads them) and
// on the first row of each fingerprint of each ingest request; NULL on the other rows.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { nPlusOneGroups } from '../src/db/optimizerWindow';
import { refreshRollups } from '../src/db/rollups';
import { insertRows } from './support/queryData';
import { createTestDatabase, type TestDatabase } from './support/db';
import { post, queryRecord, startTestService, tokenFor } from './support/service';
import type { RunningService } from '../src/service';

const TENANT = '66666666-6666-4666-8666-666666666666';
const ORDERS = 'SELECT * FROM orders WHERE customer_id = $1';
const ITEMS = 'SELECT * FROM order_items WHERE order_id = $1 AND qty > $2';

describe('query text stored once per fingerprint', () => {
  let db: TestDatabase;
  let service: RunningService;
  let url: string;
  let ingest: string;

  beforeAll(async () => {
    db = await createTestDatabase('ingest_query_text');
    ({ service, url } = await startTestService(db, { SLOW_QUERY_THRESHOLD_MS: '500' }));
    ingest = await tokenFor(db, TENANT, ['ingest']);
  });
  afterAll(async () => {
    await service.stop();
    await db.drop();
  });

  it('keeps the text on slow rows and on the first row of each fingerprint of a request', async () => {
    const records = [
      queryRecord({ query: 'SELECT * FROM orders WHERE customer_id = 1', executionTimeMs: 3, requestId: 'text-1' }),
      queryRecord({ query: 'SELECT * FROM orders WHERE customer_id = 2', executionTimeMs: 4, requestId: 'text-2' }),
      queryRecord({ query: 'SELECT * FROM order_items WHERE order_id = 7 AND qty > 2', executionTimeMs: 5, requestId: 'text-3' }),
      queryRecord({ query: 'SELECT * FROM orders WHERE customer_id = 3', executionTimeMs: 700, requestId: 'text-4' }),
      queryRecord({ query: 'SELECT * FROM order_items WHERE order_id = 8 AND qty > 1', executionTimeMs: 6, requestId: 'text-5' }),
    ];
    const first = await post(`${url}/v1/ingest/queries`, ingest, records);
    expect(first.status).toBe(200);
    // A second request brings the text of its fingerprints again, on its first row of each.
    const second = await post(`${url}/v1/ingest/queries`, ingest, [
      queryRecord({ query: 'SELECT * FROM orders WHERE customer_id = 9', executionTimeMs: 2, requestId: 'text-6' }),
      queryRecord({ query: 'SELECT * FROM orders WHERE customer_id = 10', executionTimeMs: 2, requestId: 'text-7' }),
    ]);
    expect(second.status).toBe(200);

    const rows = await db.pool.query(
      `SELECT request_id, query_preview FROM query_performance_log WHERE tenant_id = $1 ORDER BY request_id`, [TENANT]);
    expect(rows.rows).toEqual([
      { request_id: 'text-1', query_preview: ORDERS },
      { request_id: 'text-2', query_preview: null },
      { request_id: 'text-3', query_preview: ITEMS },
      { request_id: 'text-4', query_preview: ORDERS }, // slow (≥ 500 ms)
      { request_id: 'text-5', query_preview: null },
      { request_id: 'text-6', query_preview: ORDERS },
      { request_id: 'text-7', query_preview: null },
    ]);
  });

  it('gives every fingerprint its text in query_fingerprints', async () => {
    await refreshRollups(db.pool);
    const fingerprints = await db.pool.query(
      `SELECT query_preview, calls::int AS calls FROM query_fingerprints WHERE tenant_id = $1 ORDER BY query_preview`, [TENANT]);
    expect(fingerprints.rows).toEqual([
      { query_preview: ITEMS, calls: 2 },
      { query_preview: ORDERS, calls: 5 },
    ]);
  });

  it('keeps the text on rows over 1000 ms even when the slow threshold is higher', async () => {
    const high = await createTestDatabase('ingest_query_text_high');
    const other = await startTestService(high, { SLOW_QUERY_THRESHOLD_MS: '5000' });
    try {
      const token = await tokenFor(high, TENANT, ['ingest']);
      const res = await post(`${other.url}/v1/ingest/queries`, token, [
        queryRecord({ query: 'SELECT 1 FROM t WHERE a = 1', executionTimeMs: 3, requestId: 'h-1' }),
        queryRecord({ query: 'SELECT 1 FROM t WHERE a = 2', executionTimeMs: 999, requestId: 'h-2' }),
        queryRecord({ query: 'SELECT 1 FROM t WHERE a = 3', executionTimeMs: 1000, requestId: 'h-3' }),
        queryRecord({ query: 'SELECT 1 FROM t WHERE a = 4', executionTimeMs: 2500, requestId: 'h-4' }),
      ]);
      expect(res.status).toBe(200);
      const rows = await high.pool.query(`SELECT request_id, query_preview FROM query_performance_log ORDER BY request_id`);
      expect(rows.rows.map((r) => [r.request_id, r.query_preview !== null])).toEqual([
        ['h-1', true], ['h-2', false], ['h-3', true], ['h-4', true],
      ]);
    } finally {
      await other.service.stop();
      await high.drop();
    }
  });

  it("still shows the text in the runbook's top 10 slow queries", async () => {
    const runbook = readFileSync(path.join(__dirname, 'fixtures', 'runbook.sql'), 'utf8');
    const start = runbook.indexOf('SELECT\n  query_hash,\n  LEFT(query_preview, 100)');
    expect(start).toBeGreaterThan(-1);
    const statement = runbook.slice(start, runbook.indexOf(';', start) + 1);
    await post(`${url}/v1/ingest/queries`, ingest, [
      queryRecord({ query: 'SELECT * FROM order_items WHERE order_id = 1 AND qty > 3', executionTimeMs: 2, requestId: 'rb-1' }),
      queryRecord({ query: 'SELECT * FROM order_items WHERE order_id = 2 AND qty > 3', executionTimeMs: 1800, requestId: 'rb-2' }),
    ]);
    const top = await db.pool.query(statement);
    expect(top.rows).toEqual([
      expect.objectContaining({ query: ITEMS, occurrence_count: '1', endpoint: '/api/orders' }),
    ]);
  });

  it('names an N+1 pattern by its text when none of its rows carries it', async () => {
    const burst = Array.from({ length: 6 }, (_, i) =>
      queryRecord({ query: `SELECT * FROM orders WHERE customer_id = ${100 + i}`, executionTimeMs: 15, requestId: 'n1-burst', endpoint: '/api/n1' }));
    // The first row of the request is another request's, so it carries the text.
    const res = await post(`${url}/v1/ingest/queries`, ingest, [
      queryRecord({ query: 'SELECT * FROM orders WHERE customer_id = 99', executionTimeMs: 1, requestId: 'n1-before' }), ...burst]);
    expect(res.status).toBe(200);
    const stored = await db.pool.query(`SELECT count(*)::int AS n FROM query_performance_log WHERE request_id = 'n1-burst' AND query_preview IS NULL`);
    expect(stored.rows[0].n).toBe(6);
    await refreshRollups(db.pool);
    const { groups } = await nPlusOneGroups(db.pool, { from: new Date(Date.now() - 3_600_000), to: new Date(Date.now() + 60_000) },
      { minQueries: 5, minTotalMs: 50, maxRows: 10_000 });
    expect(groups.filter((g) => g.endpoint === '/api/n1').map((g) => [g.preview, g.maxQueriesPerRequest])).toEqual([[ORDERS, 6]]);
  });

  it('keeps a known fingerprint\'s text, and gives an unknown one none, when the rows written carry no text', async () => {
    const hash = (await db.pool.query(
      `SELECT query_hash::text AS h FROM query_fingerprints WHERE tenant_id = $1 AND query_preview = $2`, [TENANT, ORDERS])).rows[0].h;
    await insertRows(db.pool,
      `INSERT INTO query_performance_log ("timestamp", query_hash, tenant_id, execution_time_ms)
       VALUES (now(), $1::bigint, $2::uuid, 12), (now(), 4242, $2::uuid, 12)`, [hash, TENANT]);
    const pending = await db.pool.query(
      `SELECT query_hash::text AS h, query_preview FROM query_rollup_pending WHERE tenant_id = $1 AND query_hash IN ($2::bigint, 4242) ORDER BY 1`,
      [TENANT, hash]);
    expect(pending.rows).toEqual(expect.arrayContaining([{ h: hash, query_preview: '' }, { h: '4242', query_preview: '' }]));
    await refreshRollups(db.pool);
    const texts = await db.pool.query(
      `SELECT query_hash::text AS h, query_preview FROM query_fingerprints WHERE tenant_id = $1 AND query_hash IN ($2::bigint, 4242)`, [TENANT, hash]);
    expect(texts.rows).toEqual(expect.arrayContaining([{ h: hash, query_preview: ORDERS }, { h: '4242', query_preview: '' }]));
  });
});
