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

  it('folds rows that arrive late (an old hour) into that hour', async () => {
    await insertRequests(db, TENANT, 1, 10, 10);
    await refreshRollups(db.pool);
    await insertRequests(db, TENANT, 30, 5, 10);
    expect((await refreshRollups(db.pool)).rowsWritten).toBe(1);
    const rows = await cacheRows(db);
    expect(rows.map((r) => r.requests)).toEqual([5, 10]);
  });
});
