// One fingerprint over time (query type queryDetail): each step's percentiles from its
// rows' histograms, and the shown steps' p95 and totals from all of them merged, on
// rollups that the refresh built from raw rows over the last day and a half.
import { refreshRollups } from '../src/db/rollups';
import { runQueries, validateQueryRequest } from '../src/query/runQueries';
import { createTestDatabase, type TestDatabase } from './support/db';
import { histogramFromText } from './support/histogramText';
import { HOUR, insertQueries, MINUTE, times, type Frame, column } from './support/queryData';

const T = 'e9e9e9e9-0000-4000-8000-000000000009';
const HASH = '113';
const HEX = (113).toString(16).padStart(16, '0');
const SETTINGS = { latencyTargetMs: 200, slowQueryThresholdMs: 1000 };

describe('queryDetail from the rollups\' histograms', () => {
  let db: TestDatabase;
  const end = Math.floor(Date.now() / (10 * MINUTE)) * 10 * MINUTE;

  beforeAll(async () => {
    db = await createTestDatabase('query_fingerprint_series');
    // 36 hours of one fingerprint every 3 minutes (and a second one beside it), with
    // latencies that vary within each 5-minute bucket.
    const moments = times(new Date(end - 36 * HOUR + 20_000), 36 * 20, 3 * MINUTE);
    await insertQueries(db.pool, T, moments.flatMap((m, i) => [
      { at: m, hash: HASH, preview: 'SELECT * FROM orders WHERE id = $1', ms: 0.5 + ((i * 37) % 250) },
      { at: new Date(m.getTime() + 1000), hash: HASH, preview: 'SELECT * FROM orders WHERE id = $1', ms: 2 + ((i * 11) % 40) },
      { at: m, hash: '114', preview: 'SELECT 1', ms: 3 },
    ]));
    await refreshRollups(db.pool);
  });

  afterAll(async () => {
    await db?.drop();
  });

  async function detail(from: number, to: number, intervalMs: number): Promise<Frame[]> {
    const body = { range: { from, to }, intervalMs, maxDataPoints: 1000, queries: [{ refId: 'A', queryType: 'queryDetail', queryHash: HEX }] };
    const response = await runQueries(db.pool, validateQueryRequest(body), { tenantId: T, admin: false }, SETTINGS);
    return response.results.A!.frames as unknown as Frame[];
  }

  const cases = [
    { name: '24 h in 5-minute steps against 10-minute steps', from: end - 24 * HOUR, to: end - 20 * MINUTE, stepMs: 5 * MINUTE, mergedMs: 10 * MINUTE, resolution: '5m' },
    { name: '30 h in hourly steps against 2-hour steps', from: end - 30 * HOUR - 2 * HOUR, to: end - 2 * HOUR, stepMs: HOUR, mergedMs: 2 * HOUR, resolution: '1h' },
  ];

  for (const c of cases) {
    it(`${c.name}: each step's percentiles are its row histogram's, and the range's p95 and totals are the merged steps'`, async () => {
      // Ranges whose ends are whole steps of both, so both show the same buckets.
      const from = Math.floor(c.from / c.mergedMs) * c.mergedMs;
      const to = Math.floor(c.to / c.mergedMs) * c.mergedMs;
      const [latency, query] = await detail(from, to, c.stepMs);
      const [mergedLatency, merged] = await detail(from, to, c.mergedMs);
      expect(latency!.schema.meta?.custom).toEqual({ stepMs: c.stepMs });
      expect(mergedLatency!.schema.meta?.custom).toEqual({ stepMs: c.mergedMs });

      // Every step with calls has the percentiles of its row's histogram.
      const { rows } = await db.pool.query<{ t: number; hist: string }>(
        `SELECT extract(epoch FROM bucket)::float8 * 1000 AS t, hist_unpack(hist)::text AS hist FROM query_metrics_rollup
          WHERE tenant_id = $1 AND resolution = $2 AND query_hash = $3 AND bucket >= $4 AND bucket < $5`,
        [T, c.resolution, HASH, new Date(from), new Date(to)],
      );
      expect(rows.length).toBe((to - from) / c.stepMs);
      const t = column(latency, 'time') as number[];
      for (const row of rows) {
        const expected = histogramFromText(row.hist).percentiles([50, 95, 99]);
        const shown = ['p50Ms', 'p95Ms', 'p99Ms'].map((name) => (column(latency, name) as number[])[t.indexOf(row.t)]);
        shown.forEach((value, i) => expect(value).toBeCloseTo(expected[i]!, 4));
      }

      // The range's p95 is the same number, read from the range's histogram or merged from
      // the steps'; so are the totals.
      for (const name of ['calls', 'totalMs', 'slowCalls', 'p95Ms']) {
        expect([name, column(query, name)]).toEqual([name, column(merged, name)]);
      }
      const exact = (await db.pool.query<{ p: number; n: number }>(
        `SELECT percentile_cont(0.95) WITHIN GROUP (ORDER BY execution_time_ms) AS p, count(*)::int AS n FROM query_performance_log
          WHERE tenant_id = $1 AND query_hash = $2 AND "timestamp" >= $3 AND "timestamp" < $4`,
        [T, HASH, new Date(from), new Date(to)],
      )).rows[0]!;
      expect(column(query, 'calls')).toEqual([exact.n]);
      const p95 = (column(query, 'p95Ms') as number[])[0]!;
      expect(Math.abs(p95 - exact.p)).toBeLessThanOrEqual(exact.p * 0.01);
    });
  }
});
