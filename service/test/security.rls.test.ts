import { asRole, createTestDatabase, type TestDatabase } from './support/db';

const TENANT_A = 'aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa';
const TENANT_B = 'bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb';
const TABLES = ['api_performance_log', 'query_performance_log', 'system_resource_metrics', 'performance_metrics_cache'];

describe('row-level security and roles', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase('rls');
    for (const tenant of [TENANT_A, TENANT_B]) {
      await db.pool.query(
        `INSERT INTO api_performance_log ("timestamp", tenant_id, endpoint, method, status_code, response_time_ms)
         VALUES (now(), $1, '/api/x', 'GET', 200, 10)`, [tenant]);
      await db.pool.query(
        `INSERT INTO query_performance_log ("timestamp", tenant_id, query_hash, query_preview, execution_time_ms)
         VALUES (now(), $1, 1, 'SELECT $1', 2)`, [tenant]);
      await db.pool.query(
        `INSERT INTO system_resource_metrics ("timestamp", tenant_id, cpu_usage_percent, memory_used_mb, active_connections)
         VALUES (now(), $1, 10, 100, 3)`, [tenant]);
      await db.pool.query(
        `INSERT INTO performance_metrics_cache (tenant_id, hour_bucket, total_requests, health_score)
         VALUES ($1, date_trunc('hour', now()), 1, 90)`, [tenant]);
    }
  });
  afterAll(async () => db.drop());

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
