import { refreshRollups } from '../src/db/rollups';
import { createTestDatabase, type TestDatabase } from './support/db';
import { insertRows } from './support/queryData';

const TENANT = 'abababab-abab-4bab-8bab-abababababab';
const OTHER = 'cdcdcdcd-cdcd-4dcd-8dcd-cdcdcdcdcdcd';

async function insertRequests(db: TestDatabase, tenant: string, hourOffset: number, count: number, ms: number) {
  await insertRows(db.pool,
`INSERT INTO api_performance_log ("timestamp", tenant_id, endpoint, method, status_code, response_time_ms)
     SELECT date_trunc('hour', now()) - make_interval(hours => $2::int) + make_interval(secs => i), $1, '/inc', 'GET', 200, $4::real
       FROM generate_series(1, $3::int) i`,
    [tenant, hourOffset, count, ms],
  );
}

async function cacheRows(db: TestDatabase) {
  return (
    await db.pool.query(
      `SELECT tenant_id, hour_bucket, total_requests::int AS requests, avg_response_time_ms AS avg, last_updated
         FROM performance_metrics_cache ORDER BY tenant_id, hour_bucket`,
    )
  ).rows;
}

describe('the incremental refresh', () => {
  let db: TestDatabase;
  beforeEach(async () => {
    db = await createTestDatabase('incremental');
  });
  afterEach(async () => db.drop());

  it('recomputes only the hours that received rows since the last refresh', async () => {
    await insertRequests(db, TENANT, 3, 100, 10);
    await insertRequests(db, TENANT, 2, 100, 20);
    expect((await refreshRollups(db.pool)).rowsWritten).toBe(2);
    const first = await cacheRows(db);

    await insertRequests(db, TENANT, 2, 50, 50); // only the later hour gets rows
    const second = await refreshRollups(db.pool);
    expect(second.rowsWritten).toBe(1);
    const after = await cacheRows(db);
    expect(after[0]).toEqual(first[0]); // the earlier hour: untouched, same last_updated
    expect(after[1].requests).toBe(150);
    expect(after[1].avg).toBeCloseTo((100 * 20 + 50 * 50) / 150, 6);
    expect(after[1].last_updated.getTime()).toBeGreaterThanOrEqual(first[1].last_updated.getTime());
  });

  it('does no work when nothing arrived, and leaves no pending deltas behind', async () => {
    await insertRequests(db, TENANT, 1, 10, 10);
    await refreshRollups(db.pool);
    expect((await refreshRollups(db.pool)).rowsWritten).toBe(0);
    const pending = await db.pool.query(
      `SELECT (SELECT count(*) FROM api_rollup_pending) + (SELECT count(*) FROM query_rollup_pending)
            + (SELECT count(*) FROM resource_rollup_pending) AS n`,
    );
    expect(Number(pending.rows[0].n)).toBe(0);
    const state = await db.pool.query(`SELECT watermark, last_deltas FROM rollup_refresh_state`);
    expect(state.rows[0].watermark).not.toBeNull();
    expect(Number(state.rows[0].last_deltas)).toBe(0);
  });

  it('refreshes one tenant without touching the other tenant\'s pending rows', async () => {
    await insertRequests(db, TENANT, 1, 10, 10);
    await insertRequests(db, OTHER, 1, 10, 10);
    expect((await refreshRollups(db.pool, TENANT)).rowsWritten).toBe(1);
    const pending = await db.pool.query(`SELECT DISTINCT tenant_id FROM api_rollup_pending`);
    expect(pending.rows).toEqual([{ tenant_id: OTHER }]);
  });

  it('ends with the same rollups as one refresh over all rows (merging is exact)', async () => {
    await insertRequests(db, TENANT, 1, 200, 30);
    await refreshRollups(db.pool);
    await insertRequests(db, TENANT, 1, 300, 70);
    await refreshRollups(db.pool);
    const incremental = await db.pool.query(
      `SELECT requests::int, satisfied::int, tolerating::int, sum_ms, hist FROM api_metrics_rollup
        WHERE tenant_id = $1 AND resolution = '1h' AND endpoint = ''`, [TENANT]);

    const fresh = await createTestDatabase('incremental_once');
    try {
      await insertRequests(fresh, TENANT, 1, 200, 30);
      await insertRequests(fresh, TENANT, 1, 300, 70);
      await refreshRollups(fresh.pool);
      const once = await fresh.pool.query(
        `SELECT requests::int, satisfied::int, tolerating::int, sum_ms, hist FROM api_metrics_rollup
          WHERE tenant_id = $1 AND resolution = '1h' AND endpoint = ''`, [TENANT]);
      expect(incremental.rows).toEqual(once.rows);
    } finally {
      await fresh.drop();
    }
  });

  it('writes the tenant\'s 30-minute totals and the fingerprints\' weekly rows as the sums of finer rows', async () => {
    // Requests over three hours at two endpoints, latencies of many buckets.
    await insertRows(db.pool,
      `INSERT INTO api_performance_log ("timestamp", tenant_id, endpoint, method, status_code, response_time_ms)
       SELECT date_trunc('hour', now()) - interval '3 hours' + make_interval(secs => i * 7), $1, '/e' || (i % 2), 'GET',
              CASE WHEN i % 50 = 0 THEN 500 ELSE 200 END, (0.5 + (i * 37) % 900)::real
         FROM generate_series(1, 1500) i`,
      [TENANT]);
    // Queries of three fingerprints on 25 days from Friday 2026-01-02.
    await insertRows(db.pool,
      `INSERT INTO query_performance_log ("timestamp", query_hash, tenant_id, execution_time_ms, rows_returned, query_preview)
       SELECT timestamptz '2026-01-02 12:00:00+00' + make_interval(days => d, mins => k), d % 3, $1,
              (0.2 + (d * 31 + k * 7) % 1500)::real, k, 'SELECT ' || (d % 3)
         FROM generate_series(0, 24) d, generate_series(1, 6) k`,
      [TENANT]);
    await refreshRollups(db.pool);

    // Each 30-minute row is the sum of the tenant's 5-minute totals in it (the query days'
    // rows hold their database time only); endpoints have none.
    const halfHours = (await db.pool.query(
      `WITH f AS (SELECT date_bin('30 minutes', bucket, timestamptz '2000-01-01 00:00:00+00') AS b, *
                    FROM api_metrics_rollup WHERE tenant_id = $1 AND resolution = '5m' AND endpoint = ''),
            sums AS (SELECT b, sum(requests) AS requests, sum(errors) AS errors, sum(satisfied) AS satisfied,
                            sum(tolerating) AS tolerating, sum(sum_ms) AS sum_ms, max(max_ms) AS max_ms,
                            sum(db_calls) AS db_calls, sum(db_ms) AS db_ms FROM f GROUP BY b),
            hists AS (SELECT b, array_agg((k << 40) + n ORDER BY k)::text AS hist
                        FROM (SELECT b, e >> 40 AS k, sum(e & 1099511627775)::bigint AS n
                                FROM f, unnest(hist_unpack(f.hist)) e GROUP BY 1, 2) s GROUP BY 1),
            h AS (SELECT bucket AS b, requests, errors, satisfied, tolerating, sum_ms, max_ms, db_calls, db_ms,
                         hist_unpack(hist)::text AS hist
                    FROM api_metrics_rollup WHERE tenant_id = $1 AND resolution = '30m')
       SELECT (SELECT count(*) FROM h)::int AS rows,
              (SELECT count(*) FROM api_metrics_rollup WHERE resolution = '30m' AND endpoint <> '')::int AS of_endpoints,
              (SELECT count(*) FROM h FULL JOIN (sums LEFT JOIN hists USING (b)) e USING (b)
                WHERE (h.requests, h.errors, h.satisfied, h.tolerating, h.max_ms, h.db_calls, h.hist)
                      IS DISTINCT FROM (e.requests, e.errors, e.satisfied, e.tolerating, e.max_ms, e.db_calls, e.hist)
                   OR abs(h.sum_ms - e.sum_ms) > 1e-6 * e.sum_ms OR abs(h.db_ms - e.db_ms) > 1e-6 * e.db_ms
                   OR e.b IS NULL OR h.b IS NULL)::int AS differ`,
      [TENANT])).rows[0];
    expect(halfHours).toEqual({ rows: 6 + 25, of_endpoints: 0, differ: 0 });

    // Each fingerprint's week (from Monday 00:00 UTC) is the sum of its days.
    const weeks = (await db.pool.query(
      `WITH d AS (SELECT date_trunc('week', bucket, 'UTC') AS wk, query_hash, calls, slow_calls, total_ms, max_ms, rows_sum, hist
                    FROM query_metrics_rollup WHERE tenant_id = $1 AND resolution = '1d'),
            sums AS (SELECT wk, query_hash, sum(calls) AS calls, sum(slow_calls) AS slow_calls, sum(total_ms) AS total_ms,
                            max(max_ms) AS max_ms, sum(rows_sum) AS rows_sum FROM d GROUP BY 1, 2),
            hists AS (SELECT wk, query_hash, array_agg((b << 40) + n ORDER BY b)::text AS hist
                        FROM (SELECT wk, query_hash, e >> 40 AS b, sum(e & 1099511627775)::bigint AS n
                                FROM d, unnest(hist_unpack(d.hist)) e GROUP BY 1, 2, 3) s GROUP BY 1, 2),
            w AS (SELECT bucket AS wk, query_hash, calls, slow_calls, total_ms, max_ms, rows_sum, hist_unpack(hist)::text AS hist
                    FROM query_metrics_rollup WHERE tenant_id = $1 AND resolution = '1w')
       SELECT (SELECT count(*) FROM w)::int AS rows,
              (SELECT count(*) FROM w WHERE extract(isodow FROM wk AT TIME ZONE 'UTC') <> 1 OR wk <> date_trunc('day', wk, 'UTC'))::int AS not_mondays,
              (SELECT count(*) FROM w FULL JOIN (sums JOIN hists USING (wk, query_hash)) e USING (wk, query_hash)
                WHERE (w.calls, w.slow_calls, w.max_ms, w.rows_sum, w.hist)
                      IS DISTINCT FROM (e.calls, e.slow_calls, e.max_ms, e.rows_sum, e.hist)
                   OR abs(w.total_ms - e.total_ms) > 1e-6 * e.total_ms)::int AS differ`,
      [TENANT])).rows[0];
    // Days 2026-01-02 (a Friday) to 2026-01-26, fingerprint d % 3: a (week, fingerprint) each.
    const mondayOf = (ms: number) => ms - ((new Date(ms).getUTCDay() + 6) % 7) * 86_400_000;
    const expected = new Set(Array.from({ length: 25 }, (_, d) => `${mondayOf(Date.UTC(2026, 0, 2 + d))}:${d % 3}`));
    expect(weeks).toEqual({ rows: expected.size, not_mondays: 0, differ: 0 });
  });

  it('folds rows that arrive late (an old hour) into that hour', async () => {
    await insertRequests(db, TENANT, 1, 10, 10);
    await refreshRollups(db.pool);
    await insertRequests(db, TENANT, 30, 5, 10);
    expect((await refreshRollups(db.pool)).rowsWritten).toBe(1);
    const rows = await cacheRows(db);
    expect(rows.map((r) => r.requests)).toEqual([5, 10]);
  });
});
