import { refreshRollups } from '../src/db/rollups';
import { createTestDatabase, type TestDatabase } from './support/db';
import { insertRows } from './support/queryData';

const TENANT = 'efefefef-efef-4fef-8fef-efefefefefef';

describe('the health score (model v2)', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase('health');
  });
  afterAll(async () => db.drop());

  it('matches the documented formula on constructed data', async () => {
    // One hour: 100 requests with target T = 100 ms: 80 at 50 ms (satisfied), 10 at 300 ms
    // (tolerating, <= 4T), 10 at 900 ms (frustrated); 5 of them answered 503.
    // 50 queries, 5 of them slow (>= 1000 ms). CPU peaked at 90 %, memory 50 %, pool 10/30.
    const hour = `date_trunc('hour', now()) - interval '2 hours'`;
    await insertRows(db.pool,
`INSERT INTO api_performance_log ("timestamp", tenant_id, endpoint, method, status_code, response_time_ms)
       SELECT ${hour} + make_interval(secs => i), $1, '/h', 'GET',
              CASE WHEN i <= 5 THEN 503 ELSE 200 END,
              CASE WHEN i <= 80 THEN 50 WHEN i <= 90 THEN 300 ELSE 900 END
         FROM generate_series(1, 100) i`, [TENANT]);
    await insertRows(db.pool,
`INSERT INTO query_performance_log ("timestamp", tenant_id, query_hash, query_preview, execution_time_ms)
       SELECT ${hour} + make_interval(secs => i), $1, 7, 'SELECT $1', CASE WHEN i <= 5 THEN 1500 ELSE 3 END
         FROM generate_series(1, 50) i`, [TENANT]);
    await insertRows(db.pool,
`INSERT INTO system_resource_metrics ("timestamp", tenant_id, cpu_usage_percent, memory_used_mb, memory_total_mb, active_connections, pool_max)
       VALUES (${hour} + interval '1 minute', $1, 90, 2048, 4096, 10, 30), (${hour} + interval '2 minutes', $1, 40, 1024, 4096, 5, 30)`, [TENANT]);
    await refreshRollups(db.pool);

    const row = (await db.pool.query(
      `SELECT apdex::float8, latency_deduction::float8, error_deduction::float8, slow_query_deduction::float8,
              resource_deduction::float8, health_score::float8, health_model_version
         FROM performance_metrics_cache WHERE tenant_id = $1`, [TENANT])).rows[0];
    // apdex = (80 + 10/2) / 100 = 0.85 → latency 40 * 0.15 = 6
    // errors 300 * 5/100 = 15; slow queries 150 * 5/50 = 15; cpu (90-80)/20 = 0.5 → 7.5
    expect(row).toEqual({
      apdex: 0.85, latency_deduction: 6, error_deduction: 15, slow_query_deduction: 15,
      resource_deduction: 7.5, health_score: 56.5, health_model_version: 2,
    });
  });

  it.each([
    ['no traffic at all', [0, 0, 0, 0, 0, 0, null, null, null, null, null], null],
    ['a perfect hour', [1000, 1000, 0, 0, 100, 0, 20, 100, 1000, 1, 30], 100],
    ['every deduction at its cap (40 + 30 + 15 + 15)', [100, 0, 0, 100, 10, 10, 100, 1000, 1000, 30, 30], 0],
    ['pool pressure from 95 % of the pool', [10, 10, 0, 0, 0, 0, 10, 10, 100, 19, 20], 92.5],
  ])('scores %s', async (_label, args, expected) => {
    const row = (await db.pool.query(
      `SELECT (health_score_components($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)).health_score::float8 AS score`,
      args as unknown[])).rows[0];
    expect(row.score).toBe(expected);
  });
});
