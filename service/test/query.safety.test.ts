// The query API refuses what it must: unknown query types and bad options with a 400
// that names them, unbounded ranges and limits, other tenants' data; and never lets
// user_id out, whatever is asked.
import { QUERY_TYPES } from '../src/contract/query';
import { refreshRollups } from '../src/db/rollups';
import { createPool } from '../src/db/pool';
import { ReadSessionError, withTenantReadSession } from '../src/db/tenantSession';
import type { RunningService } from '../src/service';
import { createTestDatabase, type TestDatabase } from './support/db';
import { column, HOUR, hourStart, insertQueries, insertRequests, insertResources, MINUTE, queryOne, times } from './support/queryData';
import { post, startTestService, tokenFor } from './support/service';

const A = 'a1a1a1a1-1111-4111-8111-000000000001';
const B = 'b2b2b2b2-2222-4222-8222-000000000002';

let db: TestDatabase;
let service: RunningService;
let url: string;
let tokenA: string;
let admin: string;
const base = hourStart(2);

/** One query of every type, with its options set. */
const EVERY_TYPE: Array<Record<string, unknown>> = [
  { queryType: 'overview' },
  { queryType: 'healthSeries' },
  { queryType: 'latencyPercentiles', byEndpoint: true },
  { queryType: 'throughput' },
  { queryType: 'slowQueries', orderBy: 'p95' },
  { queryType: 'queryDetail', queryHash: '00000000000007d1' },
  { queryType: 'endpoints' },
  { queryType: 'resources' },
  { queryType: 'storage' },
  { queryType: 'recommendations' },
  { queryType: 'annotations', source: 'recommendations' },
  { queryType: 'annotations', source: 'healthThresholds' },
  { queryType: 'variable', variable: 'endpoints' },
  { queryType: 'variable', variable: 'fingerprints' },
  { queryType: 'variable', variable: 'tenants' },
];

beforeAll(async () => {
  db = await createTestDatabase('query_safety');
  ({ service, url } = await startTestService(db));
  tokenA = await tokenFor(db, A, ['read']);
  admin = await tokenFor(db, null, ['read', 'admin']);
  // Only tenant B has data; every row carries a user id that must never be shown.
  await insertRequests(db.pool, B, times(base, 30, MINUTE).map((at, i) => ({
    at, endpoint: '/api/b-secret-endpoint', ms: 10 + i, status: i % 10 === 0 ? 500 : 200, requestId: `req-${i}`, userId: 'user-secret-4711',
  })));
  await insertQueries(db.pool, B, times(base, 30, MINUTE).map((at, i) => ({
    at, hash: '2001', preview: 'SELECT * FROM b_table WHERE id = $1', ms: 1200, endpoint: '/api/b-secret-endpoint', requestId: `req-${i}`,
  })));
  await insertResources(db.pool, B, times(base, 6, 10 * MINUTE).map((at) => ({ at, cpu: 50, memoryMb: 100, connections: 3, poolMax: 10 })));
  await refreshRollups(db.pool);
});

afterAll(async () => {
  await service?.stop();
  await db?.drop();
});

const range = () => ({ from: base.getTime() - HOUR, to: Date.now() });
const send = (token: string | undefined, body: unknown) => post(`${url}/v1/query`, token, body);

describe('validation', () => {
  it('answers an unknown query type with a 400 that names it and its refId', async () => {
    const { status, body } = await send(tokenA, { range: range(), queries: [{ refId: 'X', queryType: 'dropTables' }] });
    expect(status).toBe(400);
    expect(body.error.code).toBe('unknown_query_type');
    expect(body.error.message).toContain('"dropTables"');
    expect(body.error.message).toContain('X');
    expect(body.error.details).toMatchObject({ refId: 'X', queryType: 'dropTables' });
  });

  it('answers a bad option with a 400 naming the query and the option', async () => {
    const { status, body } = await send(tokenA, { range: range(), queries: [{ refId: 'Q', queryType: 'slowQueries', limit: 101 }] });
    expect(status).toBe(400);
    expect(body.error.code).toBe('invalid_query');
    expect(body.error.details).toMatchObject({ refId: 'Q', queryType: 'slowQueries' });
    expect(body.error.details.issues[0].path).toBe('limit');
  });

  it('refuses options a query type does not have', async () => {
    const { status, body } = await send(tokenA, { range: range(), queries: [{ refId: 'Q', queryType: 'overview', sql: 'SELECT 1' }] });
    expect(status).toBe(400);
    expect(body.error.code).toBe('invalid_query');
  });

  it.each([
    ['from after to', { from: Date.now(), to: Date.now() - HOUR }],
    ['more than 400 days', { from: Date.now() - 401 * 24 * HOUR, to: Date.now() }],
    ['unreadable text', { from: 'yesterday-ish', to: Date.now() }],
  ])('refuses a range with %s', async (_label, badRange) => {
    const { status, body } = await send(tokenA, { range: badRange, queries: [{ refId: 'A', queryType: 'overview' }] });
    expect(status).toBe(400);
    expect(body.error.code).toBe('invalid_range');
  });

  it('refuses two queries with one refId, and a body that is not JSON', async () => {
    const twice = await send(tokenA, { range: range(), queries: [{ refId: 'A', queryType: 'overview' }, { refId: 'A', queryType: 'storage' }] });
    expect([twice.status, twice.body.error.code]).toEqual([400, 'duplicate_ref_id']);
    const notJson = await send(tokenA, '{"range":');
    expect([notJson.status, notJson.body.error.code]).toEqual([400, 'invalid_json']);
  });

  it('accepts ISO 8601 text as well as epoch milliseconds, and skips hidden queries', async () => {
    const r = range();
    const { status, body } = await send(tokenA, {
      range: { from: new Date(r.from).toISOString(), to: String(r.to) },
      queries: [{ refId: 'A', queryType: 'storage' }, { refId: 'H', queryType: 'overview', hide: true }],
    });
    expect(status).toBe(200);
    expect(Object.keys(body.results)).toEqual(['A']);
  });

  it('caps the points of a series whatever maxDataPoints asks for', async () => {
    const { frames } = await queryOne(url, admin, { queryType: 'throughput' },
      { from: Date.now() - 30 * 24 * HOUR, to: Date.now(), maxDataPoints: 100_000, tenantId: B });
    expect(column(frames[0], 'time').length).toBeLessThanOrEqual(5_000);
  });

  it('treats quotes and SQL in options as data', async () => {
    const endpoint = "/x'; DROP TABLE api_performance_log; --";
    const { status, frames } = await queryOne(url, tokenA, { queryType: 'throughput', endpoint }, range());
    expect(status).toBe(200);
    expect(frames[0]!.schema.fields[1]!.labels).toEqual({ endpoint });
    expect((await db.pool.query(`SELECT to_regclass('api_performance_log') IS NOT NULL AS there`)).rows[0].there).toBe(true);
  });
});

describe('tenancy', () => {
  it('needs a token with the read scope', async () => {
    expect((await send(undefined, { range: range(), queries: [{ refId: 'A', queryType: 'overview' }] })).status).toBe(401);
    const ingestOnly = await tokenFor(db, A, ['ingest']);
    expect((await send(ingestOnly, { range: range(), queries: [{ refId: 'A', queryType: 'overview' }] })).status).toBe(403);
  });

  it('refuses a tenant token that names another tenant', async () => {
    const { status, body } = await send(tokenA, { range: range(), tenantId: B, queries: [{ refId: 'A', queryType: 'overview' }] });
    expect([status, body.error.code]).toEqual([403, 'forbidden']);
  });

  it('asks an admin token to name the tenant for tenant data, and answers for the tenant it names', async () => {
    const unnamed = await send(admin, { range: range(), queries: [{ refId: 'A', queryType: 'overview' }] });
    expect([unnamed.status, unnamed.body.error.code]).toEqual([400, 'tenant_required']);
    const named = await queryOne(url, admin, { queryType: 'overview' }, { ...range(), tenantId: B });
    expect(column(named.frames[0], 'totalRequests')).toEqual([30]);
  });

  it.each(EVERY_TYPE.map((q) => [JSON.stringify(q), q] as const))('shows tenant A nothing of tenant B for %s', async (_label, query) => {
    const { status, body } = await send(tokenA, { range: range(), intervalMs: 5 * MINUTE, queries: [{ refId: 'A', ...query }] });
    expect(status).toBe(200);
    const text = JSON.stringify(body);
    expect(text).not.toContain('b-secret-endpoint');
    expect(text).not.toContain('b_table');
    expect(text).not.toContain(B);
  });

  it('runs its reads in a read-only session that row-level security confines to the tenant', async () => {
    const tenants = await withTenantReadSession(db.pool, A, async (session) =>
      (await session.query('SELECT DISTINCT tenant_id::text AS t FROM api_metrics_rollup')).rows);
    expect(tenants).toEqual([]);
    const own = await withTenantReadSession(db.pool, B, async (session) =>
      (await session.query('SELECT DISTINCT tenant_id::text AS t FROM api_metrics_rollup')).rows);
    expect(own).toEqual([{ t: B }]);
    await expect(withTenantReadSession(db.pool, B, (session) => session.query(`DELETE FROM optimization_recommendations`)))
      .rejects.toThrow(/read-only|permission denied/);
  });

  it('passes statements, parameters and row modes through the session, and its errors carry the code and the caller', async () => {
    const rows = await withTenantReadSession(db.pool, B, async (session) => {
      const byName = await session.query<{ n: number; t: string }>('SELECT $1::int AS n, current_setting(\'app.tenant_id\') AS t', [7]);
      const asArrays = await session.query<unknown[]>({ text: 'SELECT g FROM generate_series(1, $1::int) g', values: [3], rowMode: 'array' });
      return [byName.rows, asArrays.rows];
    });
    expect(rows).toEqual([[{ n: 7, t: B }], [[1], [2], [3]]]);
    const failure = await withTenantReadSession(db.pool, B, (session) => session.query('SELECT * FROM no_such_table'))
      .then(() => null, (err: Error & { code?: string }) => err);
    expect(failure?.code).toBe('42P01');
    expect(failure?.message).toMatch(/no_such_table/);
    // The stack leads back to the statement's caller, not only to the socket's read.
    expect(failure?.stack).toMatch(/query\.safety\.test\.ts/);
    // The connection went back to the pool outside any transaction.
    expect((await db.pool.query<{ open: boolean }>(`SELECT now() <> statement_timestamp() AS open`)).rows).toEqual([{ open: false }]);
  });

  it('names the missing grant when the database user may not take agog_readonly, and leaves the connection usable', async () => {
    const user = `agog_no_readonly_${process.pid}`;
    await db.pool.query(`DROP ROLE IF EXISTS ${user}`);
    await db.pool.query(`CREATE ROLE ${user} LOGIN PASSWORD 'x'`);
    const url = new URL(db.url);
    url.username = user;
    url.password = 'x';
    const pool = createPool(url.toString(), { max: 1 });
    try {
      await expect(withTenantReadSession(pool, A, (session) => session.query('SELECT 1'))).rejects.toThrow(ReadSessionError);
      await expect(withTenantReadSession(pool, A, (session) => session.query('SELECT 1'))).rejects.toThrow(/GRANT agog_readonly TO <that user>/);
      // The one connection went back to the pool outside any transaction.
      expect((await pool.query<{ open: boolean }>(`SELECT now() <> statement_timestamp() AS open`)).rows).toEqual([{ open: false }]);
      await db.pool.query(`GRANT agog_readonly TO ${user}`);
      expect((await withTenantReadSession(pool, A, (session) => session.query('SELECT current_user AS u'))).rows).toEqual([{ u: 'agog_readonly' }]);
    } finally {
      await pool.end();
      await db.pool.query(`DROP ROLE IF EXISTS ${user}`);
    }
  });
});

describe('user_id', () => {
  it.each(EVERY_TYPE.map((q) => [JSON.stringify(q), q] as const))('never appears in the answer to %s', async (_label, query) => {
    const short = await send(admin, { range: { from: base.getTime(), to: base.getTime() + 30 * MINUTE }, intervalMs: MINUTE, tenantId: B, queries: [{ refId: 'A', ...query }] });
    const long = await send(admin, { range: range(), tenantId: B, queries: [{ refId: 'A', ...query }] });
    for (const { status, body } of [short, long]) {
      expect(status).toBe(200);
      expect(JSON.stringify(body)).not.toContain('user-secret-4711');
    }
  });

  it('is covered for every query type', () => {
    expect(new Set(EVERY_TYPE.map((q) => q.queryType))).toEqual(new Set(QUERY_TYPES));
  });
});
