import { generateTraffic, seededRandom } from '../src/demo/traffic';
import { backfill, live } from '../src/demo/run';
import { sendOverOtlp } from '../src/demo/otlpSender';
import { refreshRollups } from '../src/db/rollups';
import { createTestDatabase, type TestDatabase } from './support/db';
import { startTestService, tokenFor } from './support/service';
import type { RunningService } from '../src/service';

const TENANT = '14141414-1414-4414-8414-141414141414';

describe('demo traffic', () => {
  it('is deterministic for a seed and plants its three problems', () => {
    const start = Date.UTC(2026, 10, 29, 10, 0, 0); // minute 0 of ten: inside the error burst
    const a = generateTraffic(start, start + 120_000, 20, seededRandom(7));
    const b = generateTraffic(start, start + 120_000, 20, seededRandom(7));
    expect(a).toEqual(b);
    expect(a.api.length).toBe(2400);
    // Missing index: the search endpoint's query takes about 1.5 s.
    const search = a.query.filter((q) => String(q.query).startsWith('SELECT * FROM demo_print_jobs WHERE customer_ref'));
    expect(search.length).toBeGreaterThan(0);
    expect(Math.min(...search.map((q) => q.executionTimeMs as number))).toBeGreaterThan(500);
    // N+1: one request of /lines issues many product reads with the same request id.
    const lines = a.api.find((r) => r.endpoint === '/api/orders/:id/lines')!;
    const perRequest = a.query.filter((q) => q.requestId === lines.requestId && String(q.query).startsWith('SELECT * FROM demo_products'));
    expect(perRequest.length).toBeGreaterThanOrEqual(8);
    // Error burst: the export endpoint fails far more often than the rest.
    const exportCalls = a.api.filter((r) => r.endpoint === '/api/invoices/export');
    const exportErrors = exportCalls.filter((r) => r.statusCode === 503).length / exportCalls.length;
    const otherErrors = a.api.filter((r) => r.endpoint !== '/api/invoices/export' && r.statusCode === 503).length / a.api.length;
    expect(exportErrors).toBeGreaterThan(0.15);
    expect(otherErrors).toBeLessThan(0.02);
  });

  describe('backfill through the ingest API', () => {
    let db: TestDatabase;
    let service: RunningService;
    let url: string;
    beforeAll(async () => {
      db = await createTestDatabase('demo');
      ({ service, url } = await startTestService(db));
    });
    afterAll(async () => {
      await service.stop();
      await db.drop();
    });

    it('stores every record it sends, with literals stripped from the queries', async () => {
      const token = await tokenFor(db, TENANT, ['ingest']);
      const sent = await backfill({ url, token }, { hours: 1, rate: 2, quiet: true });
      const counts = await db.pool.query(
        `SELECT (SELECT count(*) FROM api_performance_log) + (SELECT count(*) FROM query_performance_log)
              + (SELECT count(*) FROM system_resource_metrics) AS n`);
      expect(Number(counts.rows[0].n)).toBe(sent);
      const leaked = await db.pool.query(
        `SELECT count(*)::int AS n FROM query_performance_log WHERE query_preview ~ '(CUST-|@example\\.com|[0-9]{3,})'`);
      expect(leaked.rows[0].n).toBe(0);
      await refreshRollups(db.pool);
      const texts = await db.pool.query(
        `SELECT count(*)::int AS n, count(*) FILTER (WHERE query_preview ~ '(CUST-|@example\\.com|[0-9]{3,})')::int AS leaked
           FROM query_fingerprints WHERE tenant_id = $1`, [TENANT]);
      expect(texts.rows[0].n).toBeGreaterThan(0);
      expect(texts.rows[0].leaked).toBe(0);
      const endpoints = await db.pool.query(
        `SELECT count(DISTINCT endpoint)::int AS n FROM api_metrics_rollup WHERE tenant_id = $1 AND endpoint <> ''`, [TENANT]);
      expect(endpoints.rows[0].n).toBe(9);
    });

    it('sends the same traffic over OTLP: every request, query and sample arrives, queries linked to their request', async () => {
      const tenant = '14141414-1414-4414-8414-000000000027';
      const token = await tokenFor(db, tenant, ['ingest']);
      const end = Date.now();
      const records = generateTraffic(end - 120_000, end, 5, seededRandom(3), 'otlp');
      const sent = await sendOverOtlp({ url, token }, records);
      expect(sent).toBe(records.api.length + records.query.length + records.resource.length);
      const counts = await db.pool.query(
        `SELECT (SELECT count(*) FROM api_performance_log WHERE tenant_id = $1)::int AS api,
                (SELECT count(*) FROM query_performance_log WHERE tenant_id = $1)::int AS query,
                (SELECT count(*) FROM system_resource_metrics WHERE tenant_id = $1)::int AS resource,
                (SELECT count(*) FROM query_performance_log q WHERE tenant_id = $1
                    AND EXISTS (SELECT 1 FROM api_performance_log a WHERE a.tenant_id = q.tenant_id AND a.request_id = q.request_id AND a.endpoint = q.endpoint))::int AS linked`,
        [tenant]);
      expect(counts.rows[0]).toEqual({ api: records.api.length, query: records.query.length, resource: records.resource.length, linked: records.query.length });
    });

    it('sends its live traffic over OTLP', async () => {
      const tenant = '14141414-1414-4414-8414-000000000028';
      const token = await tokenFor(db, tenant, ['ingest']);
      const controller = new AbortController();
      const errors: Error[] = [];
      const running = live({ url, token }, { rate: 20, signal: controller.signal, onError: (err) => errors.push(err) });
      // Wait for the first second's traffic to be stored, then stop.
      let stored = 0;
      for (let i = 0; i < 100 && stored === 0; i++) {
        await new Promise((r) => setTimeout(r, 100));
        stored = (await db.pool.query(`SELECT count(*)::int AS n FROM api_performance_log WHERE tenant_id = $1`, [tenant])).rows[0].n;
      }
      controller.abort();
      await running;
      expect(errors).toEqual([]);
      expect(stored).toBeGreaterThan(0);
      // OTLP requests carry the trace id as their request id.
      const ids = await db.pool.query(`SELECT request_id FROM api_performance_log WHERE tenant_id = $1`, [tenant]);
      for (const row of ids.rows) expect(row.request_id).toMatch(/^[0-9a-f]{32}$/);
    });
  });
});
