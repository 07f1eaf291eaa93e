import { listPartitions, maintainPartitions } from '../src/db/partitions';
import { createTestDatabase, type TestDatabase } from './support/db';
import { insertRows } from './support/queryData';

const TENANT = '22222222-2222-2222-2222-222222222222';
const PARENTS = ['api_performance_log', 'query_performance_log', 'system_resource_metrics'];

async function monthly(db: TestDatabase, parent: string): Promise<string[]> {
  return (await listPartitions(db.pool)).filter((p) => p.parent === parent && !p.isDefault).map((p) => p.partition);
}

describe('partition upkeep', () => {
  let db: TestDatabase;
  beforeEach(async () => {
    db = await createTestDatabase('partitions');
  });
  afterEach(async () => db.drop());

  it('creates the current month and the months ahead, and is idempotent', async () => {
    const now = new Date('2031-05-17T12:00:00Z');
    const first = await maintainPartitions(db.pool, { monthsAhead: 2, retentionDays: 30, now });
    const created = first.filter((a) => a.action === 'created').map((a) => a.tableName).sort();
    expect(created).toEqual(PARENTS.flatMap((p) => [`${p}_2031_05`, `${p}_2031_06`, `${p}_2031_07`]).sort());
    for (const parent of PARENTS) {
      expect(await monthly(db, parent)).toEqual(expect.arrayContaining([`${parent}_2031_05`, `${parent}_2031_06`, `${parent}_2031_07`]));
    }
    const again = await maintainPartitions(db.pool, { monthsAhead: 2, retentionDays: 30, now });
    expect(again.filter((a) => a.action === 'created')).toEqual([]);
  });

  it('gives every raw log partition, the ones it creates too, a time index that summarizes page ranges as they fill', async () => {
    // Without autosummarize a BRIN index leaves the ranges written since the last vacuum
    // unsummarized, and every read of a recent window scans all of them.
    await maintainPartitions(db.pool, { monthsAhead: 1, retentionDays: 30, now: new Date('2031-05-17T12:00:00Z') });
    const { rows } = await db.pool.query<{ tbl: string; idx: string; options: string[] | null }>(
      `SELECT t.relname AS tbl, i.relname AS idx, i.reloptions AS options
         FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class t ON t.oid = x.indrelid JOIN pg_am a ON a.oid = i.relam
        WHERE a.amname = 'brin' AND t.relname ~ ('^(' || array_to_string($1::text[], '|') || ')')`, [PARENTS]);
    // Each parent, its DEFAULT partition and the two months created here.
    expect(rows.map((r) => r.tbl).sort()).toEqual(PARENTS.flatMap((p) => [p, `${p}_2031_05`, `${p}_2031_06`, `${p}_default`]).sort());
    expect(rows.filter((r) => !(r.options ?? []).includes('autosummarize=on'))).toEqual([]);
  });

  it('drops monthly partitions past the retention and never the DEFAULT partition', async () => {
    await maintainPartitions(db.pool, { monthsAhead: 0, retentionDays: 30, now: new Date('2031-01-10T00:00:00Z') });
    await maintainPartitions(db.pool, { monthsAhead: 0, retentionDays: 30, now: new Date('2031-02-10T00:00:00Z') });
    // 2031-03-15: January ended 2031-02-01, 42 days ago (> 30): dropped. February ended
    // 2031-03-01, 14 days ago: kept.
    const actions = await maintainPartitions(db.pool, { monthsAhead: 0, retentionDays: 30, now: new Date('2031-03-15T00:00:00Z') });
    const dropped = actions.filter((a) => a.action === 'dropped').map((a) => a.tableName);
    for (const parent of PARENTS) {
      expect(dropped).toContain(`${parent}_2031_01`);
      expect(dropped).not.toContain(`${parent}_2031_02`);
      const names = (await listPartitions(db.pool)).filter((p) => p.parent === parent).map((p) => p.partition);
      expect(names).toContain(`${parent}_default`);
      expect(names).toContain(`${parent}_2031_02`);
      expect(names).not.toContain(`${parent}_2031_01`);
    }
    // Far in the future every monthly partition is past retention; DEFAULT stays.
    await maintainPartitions(db.pool, { monthsAhead: 0, retentionDays: 1, now: new Date('2099-01-01T00:00:00Z') });
    const left = await listPartitions(db.pool);
    expect(left.filter((p) => p.isDefault).map((p) => p.partition).sort()).toEqual(PARENTS.map((p) => `${p}_default`).sort());
  });

  it('moves rows already in the DEFAULT partition into a partition it creates for their month', async () => {
    await insertRows(db.pool,
      `INSERT INTO api_performance_log ("timestamp", tenant_id, endpoint, method, status_code, response_time_ms)
       VALUES ('2032-08-03T10:00:00Z', $1, '/api/a', 'GET', 200, 5), ('2032-08-30T23:59:59Z', $1, '/api/b', 'POST', 201, 7),
              ('2033-01-01T00:00:00Z', $1, '/api/c', 'GET', 200, 9)`,
      [TENANT],
    );
    const before = await db.pool.query(`SELECT count(*)::int AS n FROM api_performance_log_default`);
    expect(before.rows[0].n).toBe(3);

    const actions = await maintainPartitions(db.pool, { monthsAhead: 0, retentionDays: 30, now: new Date('2032-08-15T00:00:00Z') });
    expect(actions).toContainEqual({ action: 'created', tableName: 'api_performance_log_2032_08', detail: 'moved 2 rows from api_performance_log_default' });
    const moved = await db.pool.query(`SELECT endpoint FROM api_performance_log_2032_08 ORDER BY endpoint`);
    expect(moved.rows.map((r) => r.endpoint)).toEqual(['/api/a', '/api/b']);
    const stillDefault = await db.pool.query(`SELECT endpoint FROM api_performance_log_default`);
    expect(stillDefault.rows.map((r) => r.endpoint)).toEqual(['/api/c']);
    const all = await db.pool.query(`SELECT count(*)::int AS n FROM api_performance_log`);
    expect(all.rows[0].n).toBe(3);
  });

  it('keeps and returns a row whose time is far outside every monthly partition', async () => {
    await insertRows(db.pool,
      `INSERT INTO query_performance_log ("timestamp", tenant_id, query_hash, query_preview, execution_time_ms)
       VALUES ('1999-12-31T23:00:00Z', $1, 42, 'SELECT $1', 3), ('2150-06-01T00:00:00Z', $1, 43, 'SELECT $1, $2', 4)`,
      [TENANT],
    );
    const rows = await db.pool.query(
      `SELECT tableoid::regclass::text AS partition, query_hash::int AS hash FROM query_performance_log ORDER BY "timestamp"`,
    );
    expect(rows.rows).toEqual([
      { partition: 'query_performance_log_default', hash: 42 },
      { partition: 'query_performance_log_default', hash: 43 },
    ]);
  });

  it('rejects parameters out of range with a message naming them', async () => {
    await expect(maintainPartitions(db.pool, { monthsAhead: 99, retentionDays: 30 })).rejects.toThrow(/p_months_ahead/);
  });

  it('holds the DEFAULT partition and the derived rollups to the retention', async () => {
    await insertRows(db.pool,
      `INSERT INTO api_performance_log ("timestamp", tenant_id, endpoint, method, status_code, response_time_ms)
       VALUES ('2001-03-01T00:00:00Z', $1, '/ancient', 'GET', 200, 5), (now(), $1, '/recent', 'GET', 200, 5)`,
      [TENANT],
    );
    await db.pool.query(`SELECT refresh_performance_metrics_incremental(NULL)`);
    const before = await db.pool.query(`SELECT resolution, count(*)::int AS n FROM api_metrics_rollup WHERE bucket < '2002-01-01' GROUP BY 1 ORDER BY 1`);
    expect(before.rows.map((r) => r.resolution)).toEqual(['1d', '1h', '30m', '5m']);

    const actions = await maintainPartitions(db.pool, { monthsAhead: 1, retentionDays: 30 });
    expect(actions).toContainEqual(expect.objectContaining({ action: 'purged', tableName: 'api_performance_log_default' }));
    const left = await db.pool.query(`SELECT endpoint FROM api_performance_log ORDER BY endpoint`);
    expect(left.rows.map((r) => r.endpoint)).toEqual(['/recent']);
    const rollups = await db.pool.query(`SELECT count(*)::int AS n FROM api_metrics_rollup WHERE bucket < '2002-01-01'`);
    expect(rollups.rows[0].n).toBe(0);
    const cache = await db.pool.query(`SELECT count(*)::int AS n FROM performance_metrics_cache WHERE hour_bucket < '2002-01-01'`);
    expect(cache.rows[0].n).toBe(0);
    const recent = await db.pool.query(`SELECT count(*)::int AS n FROM api_metrics_rollup WHERE endpoint = '/recent'`);
    expect(recent.rows[0].n).toBe(3);
  });
});
