// The retention of fine rollup rows (migrations/V0.0.41__baseline.sql): 5-minute rows per
// endpoint and per fingerprint exist only from fine_rollup_start(now()) on, the start of
// the previous UTC day. The refresh does not write older ones, the upkeep deletes them;
// the tenant's 5-minute totals (endpoint '') and the hourly and daily rows stay. Hourly,
// daily and weekly rows are kept for the longest range the API answers, 400 days.
import { maintainPartitions } from '../src/db/partitions';
import { refreshRollups } from '../src/db/rollups';
import { createTestDatabase, type TestDatabase } from './support/db';
import { insertRows } from './support/queryData';

const TENANT = '5e5e5e5e-5e5e-4e5e-8e5e-5e5e5e5e5e5e';

/** Requests and queries of one endpoint at `offset` from fine_rollup_start(now()). */
async function insertTraffic(db: TestDatabase, offset: string): Promise<void> {
  await insertRows(db.pool,
`INSERT INTO api_performance_log ("timestamp", tenant_id, endpoint, method, status_code, response_time_ms)
     SELECT fine_rollup_start(now()) + $2::interval + make_interval(secs => i), $1::uuid, '/kept', 'GET', 200, 10 + i
       FROM generate_series(1, 20) i`,
    [TENANT, offset],
  );
  await insertRows(db.pool,
`INSERT INTO query_performance_log ("timestamp", query_hash, tenant_id, execution_time_ms, endpoint, query_preview)
     SELECT fine_rollup_start(now()) + $2::interval + make_interval(secs => i), 42, $1::uuid, 2 + i, '/kept', 'SELECT ?'
       FROM generate_series(1, 20) i`,
    [TENANT, offset],
  );
}

interface RollupRow {
  resolution: string;
  key: string;
  before_window: boolean;
  n: number;
}

/** Rows of both rollups, by resolution, key (endpoint, '' or "q:" + fingerprint) and side of the window. */
async function rollupRows(db: TestDatabase, now = 'now()'): Promise<RollupRow[]> {
  return (
    await db.pool.query<RollupRow>(
      `SELECT resolution, key, before_window, sum(n)::int AS n FROM (
         SELECT resolution, endpoint AS key, bucket < fine_rollup_start(${now}) AS before_window, requests + db_calls AS n
           FROM api_metrics_rollup
         UNION ALL
         SELECT resolution, 'q:' || query_hash, bucket < fine_rollup_start(${now}), calls FROM query_metrics_rollup) r
        GROUP BY 1, 2, 3 ORDER BY 1, 2, 3`,
    )
  ).rows;
}

describe('the fine rollup window', () => {
  let db: TestDatabase;
  beforeEach(async () => {
    db = await createTestDatabase('retention');
  });
  afterEach(async () => db.drop());

  it('starts at the previous UTC day, whatever the session time zone', async () => {
    const result = await db.pool.query(
      `SET TimeZone = 'Asia/Kolkata';
       SELECT fine_rollup_start('2031-05-17 00:00:00+00')::text AS midnight,
              fine_rollup_start('2031-05-17 23:59:59+00') = '2031-05-16 00:00:00+00' AS late,
              fine_rollup_start('2031-05-17 03:00:00+05:30') = '2031-05-15 00:00:00+00' AS before_utc_midnight;
       RESET TimeZone;`,
    );
    const rows = (result as unknown as Array<{ rows: Array<Record<string, unknown>> }>)[1]!.rows;
    expect(rows).toEqual([{ midnight: '2031-05-16 05:30:00+05:30', late: true, before_utc_midnight: true }]);
  });

  it('is not written by the refresh for endpoints and fingerprints before it; totals, hours and days are', async () => {
    await insertTraffic(db, '-2 hours');
    await insertTraffic(db, '1 hour');
    await refreshRollups(db.pool);
    const rows = await rollupRows(db);
    const at = (resolution: string, key: string, before: boolean) =>
      rows.find((r) => r.resolution === resolution && r.key === key && r.before_window === before)?.n;

    // Before the window: no 5-minute row per endpoint (neither requests nor database
    // time) or per fingerprint; the tenant's 5-minute total is there.
    expect(at('5m', '/kept', true)).toBeUndefined();
    expect(at('5m', 'q:42', true)).toBeUndefined();
    expect(at('5m', '', true)).toBe(20 + 20); // 20 requests and 20 database calls
    // In the window: every 5-minute row.
    expect(at('5m', '/kept', false)).toBe(40);
    expect(at('5m', 'q:42', false)).toBe(20);
    expect(at('5m', '', false)).toBe(40);
    // Hours: every key on both sides (the day rows hold both sides in one bucket each).
    for (const key of ['/kept', 'q:42', '']) {
      expect(at('1h', key, true)).toBe(key.startsWith('q:') ? 20 : 40);
      expect(at('1h', key, false)).toBe(key.startsWith('q:') ? 20 : 40);
    }
  });

  it('is kept by the upkeep: older 5-minute rows per endpoint and fingerprint are deleted, totals stay', async () => {
    await insertTraffic(db, '1 hour');
    await refreshRollups(db.pool);
    const before = await rollupRows(db, `now() + interval '2 days'`);
    expect(before.filter((r) => r.resolution === '5m').map((r) => [r.key, r.before_window])).toEqual([
      ['', true],
      ['/kept', true],
      ['q:42', true],
    ]);

    // Two days later the rows above are before the window.
    const later = new Date(Date.now() + 2 * 86_400_000);
    const actions = await maintainPartitions(db.pool, { monthsAhead: 0, retentionDays: 30, now: later });
    expect(actions.filter((a) => a.action === 'purged').map((a) => a.tableName).sort()).toEqual([
      'api_metrics_rollup',
      'query_metrics_rollup',
    ]);
    const after = await rollupRows(db, `now() + interval '2 days'`);
    expect(after.filter((r) => r.resolution === '5m')).toEqual([{ resolution: '5m', key: '', before_window: true, n: 40 }]);
    expect(after.filter((r) => r.resolution !== '5m')).toEqual(before.filter((r) => r.resolution !== '5m'));

    // Today the same rows are in the window, and the upkeep keeps them.
    const fresh = await createTestDatabase('retention_today');
    try {
      await insertTraffic(fresh, '1 hour');
      await refreshRollups(fresh.pool);
      const kept = await rollupRows(fresh);
      const today = await maintainPartitions(fresh.pool, { monthsAhead: 0, retentionDays: 30, now: new Date() });
      expect(today.filter((a) => a.action === 'purged')).toEqual([]);
      expect(await rollupRows(fresh)).toEqual(kept);
    } finally {
      await fresh.drop();
    }
  });

  it('keeps hourly, daily and weekly rows for 400 days, and no longer', async () => {
    await insertTraffic(db, '1 hour');
    await refreshRollups(db.pool);
    const longLived = async () => (await rollupRows(db)).filter((r) => r.resolution !== '5m' && r.resolution !== '30m')
      .map((r) => `${r.resolution} ${r.key}`).sort();
    expect(await longLived()).toEqual(['1d ', '1d /kept', '1d q:42', '1h ', '1h /kept', '1h q:42', '1w q:42']);
    const day = 86_400_000;
    await maintainPartitions(db.pool, { monthsAhead: 0, retentionDays: 30, now: new Date(Date.now() + 390 * day) });
    expect(await longLived()).toHaveLength(7);
    await maintainPartitions(db.pool, { monthsAhead: 0, retentionDays: 30, now: new Date(Date.now() + 410 * day) });
    expect(await longLived()).toEqual([]);
  });
});
