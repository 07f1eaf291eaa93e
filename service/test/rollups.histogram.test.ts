import { refreshRollups } from '../src/db/rollups';
import { createTestDatabase, type TestDatabase } from './support/db';
import { insertRows } from './support/queryData';

const TENANT = '99999999-9999-4999-8999-999999999999';

describe('percentiles from the merged latency histograms', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase('histograms');
    // 30 000 requests over six hours: log-normal latencies (median ~40 ms, long tail),
    // inserted in three statements so the histograms are merged from several deltas.
    for (let part = 0; part < 3; part++) {
      await insertRows(db.pool,
`INSERT INTO api_performance_log ("timestamp", tenant_id, endpoint, method, status_code, response_time_ms)
         SELECT date_trunc('hour', now()) - interval '5 hours' + (i * interval '0.72 seconds'),
                $1, '/api/e' || (i % 4), 'GET', 200,
                exp(ln(40) + 1.1 * sqrt(-2 * ln(random())) * cos(2 * pi() * random()))
           FROM generate_series($2::int, $3::int) i`,
        [TENANT, part * 10_000, part * 10_000 + 9_999],
      );
    }
    await refreshRollups(db.pool);
  });
  afterAll(async () => db.drop());

  it.each([0.5, 0.95, 0.99])('puts the p%s of every hour within 1 %% of percentile_cont on the same rows', async (q) => {
    const rows = await db.pool.query(
      `SELECT c.hour_bucket, hist_percentile(c.latency_hist, $2::float8) AS estimate, exact.value AS exact
         FROM performance_metrics_cache c
         JOIN LATERAL (SELECT percentile_cont($2::float8) WITHIN GROUP (ORDER BY response_time_ms) AS value
                         FROM api_performance_log
                        WHERE tenant_id = c.tenant_id AND "timestamp" >= c.hour_bucket AND "timestamp" < c.hour_bucket + interval '1 hour') exact ON true
        WHERE c.tenant_id = $1`,
      [TENANT, q],
    );
    expect(rows.rows.length).toBe(6);
    for (const row of rows.rows) {
      expect(Math.abs(row.estimate - row.exact) / row.exact).toBeLessThanOrEqual(0.01);
    }
  });

  it.each([0.5, 0.95, 0.99])('keeps the p%s over all six hours merged within 1 %% of the exact value', async (q) => {
    const merged = await db.pool.query(
      `SELECT hist_percentile(array_agg((bucket << 40) + n ORDER BY bucket), $2::float8) AS estimate
         FROM (SELECT e >> 40 AS bucket, sum(e & 1099511627775)::bigint AS n
                 FROM performance_metrics_cache, unnest(latency_hist) e WHERE tenant_id = $1 GROUP BY 1) s`,
      [TENANT, q],
    );
    const exact = await db.pool.query(
      `SELECT percentile_cont($1::float8) WITHIN GROUP (ORDER BY response_time_ms) AS value FROM api_performance_log`,
      [q],
    );
    const estimate = merged.rows[0].estimate as number;
    const value = exact.rows[0].value as number;
    expect(Math.abs(estimate - value) / value).toBeLessThanOrEqual(0.01);
  });

  it('keeps per-endpoint and daily rollups consistent with the raw rows', async () => {
    const perEndpoint = await db.pool.query(
      `SELECT endpoint, sum(requests)::int AS requests FROM api_metrics_rollup
        WHERE tenant_id = $1 AND resolution = '1d' GROUP BY endpoint ORDER BY endpoint`,
      [TENANT],
    );
    const raw = await db.pool.query(
      `SELECT endpoint, count(*)::int AS requests FROM api_performance_log GROUP BY endpoint ORDER BY endpoint`,
    );
    expect(perEndpoint.rows).toEqual([{ endpoint: '', requests: 30_000 }, ...raw.rows]);
  });

  it('gives the same p95 as the cache through get_performance_summary', async () => {
    const summary = await db.pool.query(`SELECT * FROM get_performance_summary($1, 24)`, [TENANT]);
    const exact = await db.pool.query(
      `SELECT percentile_cont(0.95) WITHIN GROUP (ORDER BY response_time_ms) AS value FROM api_performance_log`,
    );
    expect(Number(summary.rows[0].total_requests)).toBe(30_000);
    expect(Math.abs(summary.rows[0].p95_response_time_ms - exact.rows[0].value) / exact.rows[0].value).toBeLessThanOrEqual(0.01);
  });
});
