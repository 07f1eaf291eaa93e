import { asRole, createTestDatabase, type TestDatabase } from './support/db';
import { insertRows } from './support/queryData';

const TENANT_A = 'aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa';
const TENANT_B = 'bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb';
const TABLES = ['api_performance_log', 'query_performance_log', 'system_resource_metrics', 'performance_metrics_cache'];

describe('row-level security and roles', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase('rls');
    for (const tenant of [TENANT_A, TENANT_B]) {
      await insertRows(db.pool,
        `INSERT INTO api_performance_log ("timestamp", tenant_id, endpoint, method, status_code, response_time_ms)
         VALUES (now(), $1, '/api/x', 'GET', 200, 10)`, [tenant]);
      await insertRows(db.pool,
        `INSERT INTO query_performance_log ("timestamp", tenant_id, query_hash, query_preview, execution_time_ms)
         VALUES (now(), $1, 1, 'SELECT $1', 2)`, [tenant]);
      await insertRows(db.pool,
        `INSERT INTO system_resource_metrics ("timestamp", tenant_id, cpu_usage_percent, memory_used_mb, active_connections)
         VALUES (now(), $1, 10, 100, 3)`, [tenant]);
      await db.pool.query(
        `INSERT INTO performance_metrics_cache (tenant_id, hour_bucket, total_requests, health_score)
         VALUES ($1, date_trunc('hour', now()), 1, 90)`, [tenant]);
    }
  });
  afterAll(async () => db.drop());

  /** Tables with a tenant_id column that the role may SELECT from (partitions have no grants). */
  async function tenantTablesReadableBy(role: 'agog_app' | 'agog_readonly'): Promise<Array<{ name: string; rls: boolean }>> {
    const result = await db.pool.query(
      `SELECT c.relname AS name, c.relrowsecurity AS rls
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p', 'v', 'm')
          AND EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attname = 'tenant_id' AND NOT a.attisdropped)
          AND has_table_privilege($1::name, c.oid, 'SELECT')
        ORDER BY 1`, [role]);
    return result.rows;
  }

  it('enables row-level security on every table with tenant data that agog_app or agog_readonly can read', async () => {
    for (const role of ['agog_app', 'agog_readonly'] as const) {
      const tables = await tenantTablesReadableBy(role);
      expect(tables.length).toBeGreaterThanOrEqual(TABLES.length);
      expect(tables.filter((t) => !t.rls).map((t) => t.name)).toEqual([]);
    }
  });

  it('confines agog_app to its tenant in every readable tenant table, rollups included, and shows it nothing without one', async () => {
    // Rollups, fingerprints and recommendations of both tenants exist (the owner sees them).
    await db.pool.query('SELECT refresh_performance_metrics_incremental()');
    for (const tenant of [TENANT_A, TENANT_B]) {
      await db.pool.query(
        `INSERT INTO optimization_recommendations (tenant_id, id, kind, severity, title, evidence, action, first_seen, last_seen)
         VALUES ($1, '00000000000000aa', 'slowEndpoint', 'info', 'seed', '{}', 'none', now(), now())`, [tenant]);
    }
    const tables = (await tenantTablesReadableBy('agog_app')).map((t) => t.name);
    const seeded: string[] = [];
    for (const table of tables) {
      const owner = await db.pool.query(`SELECT count(DISTINCT tenant_id)::int AS n FROM ${table}`);
      if (owner.rows[0].n === 2) seeded.push(table);
      const unset = await asRole(db.pool, 'agog_app', null, (q) => q(`SELECT count(*)::int AS n FROM ${table}`));
      expect({ table, rows: unset[0]!.n }).toEqual({ table, rows: 0 });
      const own = await asRole(db.pool, 'agog_app', TENANT_A, (q) => q(`SELECT DISTINCT tenant_id FROM ${table}`));
      const tenants = own.map((r) => r.tenant_id);
      // Only tenant A, and tenant A indeed where the table holds both tenants.
      expect({ table, tenants }).toEqual({ table, tenants: seeded.includes(table) ? [TENANT_A] : tenants.filter((t) => t === TENANT_A) });
    }
    // The seed reaches the raw logs, the cache and the rollups, so the checks above bite.
    expect(seeded).toEqual(expect.arrayContaining([...TABLES, 'api_metrics_rollup', 'query_metrics_rollup', 'query_fingerprints', 'resource_metrics_rollup', 'optimization_recommendations']));
  });

  it('refuses an agog_app session with an empty or malformed tenant, and its writes without one', async () => {
    const empty = await asRole(db.pool, 'agog_app', null, async (q) => {
      await q(`SELECT set_config('app.tenant_id', '', true)`);
      return q(`SELECT count(*)::int AS n FROM api_performance_log`);
    });
    expect(empty).toEqual([{ n: 0 }]);
    await expect(asRole(db.pool, 'agog_app', null, async (q) => {
      await q(`SELECT set_config('app.tenant_id', $1, true)`, [`${TENANT_A}' OR true --`]);
      return q(`SELECT count(*)::int AS n FROM api_performance_log`);
    })).rejects.toThrow(/invalid input syntax for type uuid/);
    await expect(asRole(db.pool, 'agog_app', null, (q) =>
      q(`INSERT INTO api_performance_log ("timestamp", tenant_id, endpoint, method, status_code, response_time_ms)
         VALUES (now(), $1, '/unset', 'GET', 200, 1)`, [TENANT_A]),
    )).rejects.toThrow(/row-level security/);
  });

  it('keeps API tokens and scheduler bookkeeping away from both roles', async () => {
    for (const role of ['agog_app', 'agog_readonly'] as const) {
      await expect(asRole(db.pool, role, TENANT_A, (q) => q(`SELECT token_hash FROM api_tokens`))).rejects.toThrow(/permission denied/);
      await expect(asRole(db.pool, role, TENANT_A, (q) => q(`SELECT * FROM api_rollup_pending`))).rejects.toThrow(/permission denied/);
    }
  });

  it.each(TABLES)('shows a tenant-A agog_app session none of tenant B\'s rows in %s', async (table) => {
    const tenants = await asRole(db.pool, 'agog_app', TENANT_A, (q) => q(`SELECT DISTINCT tenant_id FROM ${table}`));
    expect(tenants).toEqual([{ tenant_id: TENANT_A }]);
  });

  it.each(TABLES)('shows a tenant-B agog_readonly session only tenant B in %s', async (table) => {
    const tenants = await asRole(db.pool, 'agog_readonly', TENANT_B, (q) => q(`SELECT DISTINCT tenant_id FROM ${table}`));
    expect(tenants).toEqual([{ tenant_id: TENANT_B }]);
  });

  it.each(TABLES)('shows an agog_app session that has not set its tenant no rows of %s', async (table) => {
    const rows = await asRole(db.pool, 'agog_app', null, (q) => q(`SELECT count(*)::int AS n FROM ${table}`));
    expect(rows).toEqual([{ n: 0 }]);
  });

  it('lets an agog_app session write only rows of its own tenant', async () => {
    await asRole(db.pool, 'agog_app', TENANT_A, async (q) => {
      await q(`INSERT INTO api_performance_log ("timestamp", tenant_id, endpoint, method, status_code, response_time_ms)
               VALUES (now(), $1, '/own', 'GET', 200, 1)`, [TENANT_A]);
      await expect(
        q(`INSERT INTO api_performance_log ("timestamp", tenant_id, endpoint, method, status_code, response_time_ms)
           VALUES (now(), $1, '/other', 'GET', 200, 1)`, [TENANT_B]),
      ).rejects.toThrow(/row-level security/);
    });
  });

  it('denies agog_readonly every write', async () => {
    for (const sql of [
      `INSERT INTO performance_metrics_cache (tenant_id, hour_bucket) VALUES ('${TENANT_A}', now())`,
      `UPDATE performance_metrics_cache SET health_score = 1`,
      `DELETE FROM api_performance_log`,
      `TRUNCATE query_performance_log`,
    ]) {
      await expect(asRole(db.pool, 'agog_readonly', null, (q) => q(sql))).rejects.toThrow(/permission denied/);
    }
  });

  it('gives the roles no direct access to a monthly partition, where policies would not apply', async () => {
    const partition = await db.pool.query<{ name: string }>(
      `SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
        WHERE i.inhparent = 'api_performance_log'::regclass AND c.relname ~ '_[0-9]{4}_[0-9]{2}$' LIMIT 1`);
    await expect(
      asRole(db.pool, 'agog_app', TENANT_A, (q) => q(`SELECT * FROM ${partition.rows[0]!.name}`)),
    ).rejects.toThrow(/permission denied/);
  });

  it('lets the table owner (maintenance jobs) see every tenant', async () => {
    const rows = await db.pool.query(`SELECT count(DISTINCT tenant_id)::int AS n FROM api_performance_log`);
    expect(rows.rows[0].n).toBe(2);
  });
});
