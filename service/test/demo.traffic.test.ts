import { generateTraffic, seededRandom } from '../src/demo/traffic';
import { backfill } from '../src/demo/run';
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
  });
});
