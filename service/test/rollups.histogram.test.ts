import { refreshRollups } from '../src/db/rollups';
import { createTestDatabase, type TestDatabase } from './support/db';

const TENANT = '99999999-9999-4999-8999-999999999999';

describe('percentiles from the merged latency histograms', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase('histograms');
    // 30 000 requests over six hours: log-normal latencies (median ~40 ms, long tail),
    // inserted in three statements so the histograms are merged from several deltas.
    for (let part = 0; part < 3; part++) {
      await db.pool.query(
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

describe('the 5-second request totals (V0.0.50)', () => {
  let db: TestDatabase;
  const OTHER = '88888888-8888-4888-8888-888888888888';
  // Two statements into the same buckets, a refresh between them, and a second tenant:
  // the totals must be the raw rows' whatever the deltas were merged from.
  const insert = (tenant: string, from: number, to: number) => db.pool.query(
    `INSERT INTO api_performance_log ("timestamp", tenant_id, endpoint, method, status_code, response_time_ms)
     SELECT date_trunc('hour', now()) - interval '2 hours' + ((i * 7) % 3600) * interval '1 second' + (i % 1000) * interval '1 millisecond',
            $1, '/api/e' || (i % 3), 'GET', CASE WHEN i % 17 = 0 THEN 503 WHEN i % 11 = 0 THEN 404 ELSE 200 END,
            exp(ln(40) + 1.1 * sqrt(-2 * ln(random())) * cos(2 * pi() * random()))
       FROM generate_series($2::int, $3::int) i`,
    [tenant, from, to],
  );
  beforeAll(async () => {
    db = await createTestDatabase('rollup_5s');
    await insert(TENANT, 0, 3_999);
    await refreshRollups(db.pool);
    await insert(TENANT, 4_000, 7_999);
    await insert(OTHER, 0, 999);
  });
  afterAll(async () => db.drop());

  const raw = `
    SELECT tenant_id, date_bin('5 seconds', "timestamp", timestamptz '2000-01-01 00:00:00+00') AS bucket,
           count(*)::int AS requests, (count(*) FILTER (WHERE status_code >= 500))::int AS errors,
           (count(*) FILTER (WHERE status_code BETWEEN 400 AND 499))::int AS client_errors,
           sum(response_time_ms::float8) AS sum_ms, max(response_time_ms) AS max_ms,
           hist_from_buckets(array_agg(latency_bucket(response_time_ms))) AS hist
      FROM api_performance_log GROUP BY 1, 2 ORDER BY 1, 2`;
  const merged = (pendingToo: boolean) => `
    SELECT tenant_id, bucket, sum(requests)::int AS requests, sum(errors)::int AS errors,
           sum(client_errors)::int AS client_errors, sum(sum_ms) AS sum_ms, max(max_ms) AS max_ms,
           hist_union(hist) AS hist
      FROM (SELECT tenant_id, bucket, requests, errors, client_errors, sum_ms, max_ms, hist FROM api_metrics_rollup_5s
            ${pendingToo ? 'UNION ALL SELECT tenant_id, bucket, requests, errors, client_errors, sum_ms, max_ms, hist FROM api_rollup_5s_pending' : ''}) s
     GROUP BY 1, 2 ORDER BY 1, 2`;

  // Sums of response times agree to float4 precision: the trigger adds real values.
  const expectSame = (actual: Array<Record<string, unknown>>, expected: Array<Record<string, unknown>>) => {
    const withoutSum = (rows: Array<Record<string, unknown>>) => rows.map(({ sum_ms: _sum, ...rest }) => rest);
    expect(withoutSum(actual)).toEqual(withoutSum(expected));
    actual.forEach((row, i) => {
      const want = expected[i]!.sum_ms as number;
      expect(Math.abs((row.sum_ms as number) - want)).toBeLessThanOrEqual(want * 1e-6);
    });
  };

  it('adds up, with the deltas not yet refreshed, to the raw rows of every tenant and 5-second bucket', async () => {
    expect((await db.pool.query('SELECT count(*)::int AS n FROM api_rollup_5s_pending')).rows[0].n).toBeGreaterThan(0);
    const expected = (await db.pool.query(raw)).rows;
    expect(expected.length).toBeGreaterThan(700);
    expectSame((await db.pool.query(merged(true))).rows, expected);
  });

  it('holds them all in the rollup after a refresh, one row per tenant and bucket', async () => {
    await refreshRollups(db.pool);
    expect((await db.pool.query('SELECT count(*)::int AS n FROM api_rollup_5s_pending')).rows[0].n).toBe(0);
    const expected = (await db.pool.query(raw)).rows;
    const rollup = await db.pool.query('SELECT count(*)::int AS n FROM api_metrics_rollup_5s');
    expect(rollup.rows[0].n).toBe(expected.length);
    expectSame((await db.pool.query(merged(false))).rows, expected);
  });

  it('deletes the rows older than the retention plus a week in the upkeep, and reports it', async () => {
    const later = await db.pool.query(
      `SELECT * FROM maintain_performance_partitions(3, interval '30 days', now() + interval '37 days' + interval '1 hour')
        WHERE table_name = 'api_metrics_rollup_5s'`,
    );
    expect(later.rows).toHaveLength(1);
    expect(later.rows[0].action).toBe('purged');
    expect((await db.pool.query('SELECT count(*)::int AS n FROM api_metrics_rollup_5s')).rows[0].n).toBe(0);
  });
});
