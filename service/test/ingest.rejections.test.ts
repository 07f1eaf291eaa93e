import { gzipSync } from 'node:zlib';
import { createTestDatabase, type TestDatabase } from './support/db';
import { apiRecord, post, queryRecord, resourceRecord, startTestService, tokenFor } from './support/service';
import type { RunningService } from '../src/service';

const TENANT = '44444444-4444-4444-8444-444444444444';
const OTHER = '55555555-5555-4555-8555-555555555555';

describe('ingest rejects what it must, with the error shape and nothing written', () => {
  let db: TestDatabase;
  let service: RunningService;
  let url: string;
  let ingest: string;
  let readOnly: string;
  let admin: string;

  beforeAll(async () => {
    db = await createTestDatabase('ingest_reject');
    ({ service, url } = await startTestService(db, { INGEST_BODY_LIMIT_BYTES: '200000' }));
    ingest = await tokenFor(db, TENANT, ['ingest']);
    readOnly = await tokenFor(db, TENANT, ['read']);
    admin = await tokenFor(db, null, ['admin']);
  });
  afterAll(async () => {
    await service.stop();
    await db.drop();
  });

  async function rowCount(table: string): Promise<number> {
    return (await db.pool.query(`SELECT count(*)::int AS n FROM ${table}`)).rows[0].n;
  }

  it('answers 401 without a token', async () => {
    const res = await post(`${url}/v1/ingest/api-requests`, undefined, [apiRecord()]);
    expect(res.status).toBe(401);
    expect(res.body.error).toMatchObject({ code: 'unauthorized', message: expect.stringContaining('Authorization') });
  });

  it('answers 401 for an unknown token', async () => {
    const res = await post(`${url}/v1/ingest/api-requests`, 'agog_not-a-real-token', [apiRecord()]);
    expect(res.status).toBe(401);
    expect(res.body.error.message).toMatch(/unknown or revoked/);
  });

  it('answers 403 when the token lacks the ingest scope', async () => {
    const res = await post(`${url}/v1/ingest/api-requests`, readOnly, [apiRecord()]);
    expect(res.status).toBe(403);
    expect(res.body.error.message).toMatch(/lacks the ingest scope/);
  });

  it('answers 403 when a tenant token names another tenant', async () => {
    const res = await post(`${url}/v1/ingest/api-requests?tenant=${OTHER}`, ingest, [apiRecord()]);
    expect(res.status).toBe(403);
    const header = await post(`${url}/v1/ingest/api-requests`, ingest, [apiRecord()], { 'x-tenant-id': OTHER });
    expect(header.status).toBe(403);
  });

  it('answers 400 when an admin token names no tenant, and stores for the tenant it names', async () => {
    const none = await post(`${url}/v1/ingest/resources`, admin, [resourceRecord()]);
    expect(none.status).toBe(400);
    expect(none.body.error.details).toEqual({ field: 'tenant' });
    const named = await post(`${url}/v1/ingest/resources`, admin, [resourceRecord({ source: 'admin-named' })], { 'x-tenant-id': OTHER });
    expect(named.status).toBe(200);
    const rows = await db.pool.query(`SELECT tenant_id FROM system_resource_metrics WHERE source = 'admin-named'`);
    expect(rows.rows).toEqual([{ tenant_id: OTHER }]);
  });

  it('rejects a batch with one invalid record whole, listing index, field and reason', async () => {
    const before = await rowCount('api_performance_log');
    const res = await post(`${url}/v1/ingest/api-requests`, ingest, [
      apiRecord(),
      apiRecord({ statusCode: 42, responseTimeMs: -1 }),
      apiRecord({ timestamp: 'yesterday', method: 'FETCH', extra: true }),
      apiRecord({ endpoint: undefined }),
    ]);
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('invalid_records');
    expect(res.body.error.details.errors).toEqual(
      expect.arrayContaining([
        { index: 1, field: 'statusCode', reason: 'must be between 100 and 599' },
        { index: 1, field: 'responseTimeMs', reason: 'must be between 0 and 86400000' },
        { index: 2, field: 'timestamp', reason: expect.stringContaining('ISO 8601') },
        { index: 2, field: 'method', reason: expect.stringContaining('HTTP method') },
        { index: 2, field: 'extra', reason: 'is not a known field' },
        { index: 3, field: 'endpoint', reason: 'is required' },
      ]),
    );
    expect(await rowCount('api_performance_log')).toBe(before);
  });

  it.each([
    ['NaN-like strings', { executionTimeMs: 'NaN' }, 'executionTimeMs', 'must be a finite number'],
    ['a huge duration', { executionTimeMs: 1e300 }, 'executionTimeMs', 'must be between 0 and 86400000'],
    ['a timestamp far in the past', { timestamp: '1970-01-02T00:00:00Z' }, 'timestamp', 'older than the accepted window'],
    ['a timestamp far in the future', { timestamp: Date.now() + 30 * 86_400_000 }, 'timestamp', 'too far in the future'],
    ['a non-string query', { query: 42 }, 'query', 'must be a string'],
    ['a fractional row count', { rows: 1.5 }, 'rows', 'must be an integer'],
  ])('rejects %s with a message naming the field', async (_label, override, field, reason) => {
    const res = await post(`${url}/v1/ingest/queries`, ingest, [queryRecord(override)]);
    expect(res.status).toBe(400);
    expect(res.body.error.details.errors[0]).toEqual({ index: 0, field, reason: expect.stringContaining(reason) });
  });

  it('answers 400 for malformed JSON, a non-array body and an empty batch', async () => {
    for (const body of ['[{"timestamp":', '{"timestamp":1}', '[]']) {
      const res = await post(`${url}/v1/ingest/api-requests`, ingest, body);
      expect(res.status).toBe(400);
      expect(res.body.error.details).toEqual({ field: '(body)' });
    }
  });

  it('answers 415 for a content type it does not read', async () => {
    const res = await post(`${url}/v1/ingest/api-requests`, ingest, 'a,b,c', { 'content-type': 'text/csv' });
    expect(res.status).toBe(415);
    expect(res.body.error.message).toMatch(/application\/x-ndjson/);
  });

  it('answers 413 for a body over the limit, and for a gzip bomb', async () => {
    const big = JSON.stringify(Array.from({ length: 3000 }, () => apiRecord()));
    const res = await post(`${url}/v1/ingest/api-requests`, ingest, big);
    expect(res.status).toBe(413);
    expect(res.body.error.code).toBe('payload_too_large');
    const bomb = gzipSync(Buffer.alloc(50 * 1024 * 1024, 0x20));
    expect(bomb.length).toBeLessThan(200_000);
    const bombed = await post(`${url}/v1/ingest/api-requests`, ingest, bomb, { 'content-encoding': 'gzip' });
    expect(bombed.status).toBe(413);
  });

  it('accepts gzip and NDJSON bodies', async () => {
    const ndjson = [apiRecord({ endpoint: '/gz/1' }), apiRecord({ endpoint: '/gz/2' })].map((r) => JSON.stringify(r)).join('\n');
    const res = await post(`${url}/v1/ingest/api-requests`, ingest, gzipSync(ndjson), {
      'content-type': 'application/x-ndjson', 'content-encoding': 'gzip',
    });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ accepted: 2, sampledOut: 0 });
    const rows = await db.pool.query(`SELECT endpoint FROM api_performance_log WHERE endpoint LIKE '/gz/%' ORDER BY 1`);
    expect(rows.rows.map((r) => r.endpoint)).toEqual(['/gz/1', '/gz/2']);
  });

  it('stores text with NUL bytes, tabs and odd Unicode safely, and never the literals of a query', async () => {
    const res = await post(`${url}/v1/ingest/queries`, ingest, [
      queryRecord({ query: "SELECT * FROM users WHERE email = 'a\u0000b@example.com' /* ssn 123-45-6789 */", endpoint: '/odd\u0000\tpath\n😀\ud800', requestId: 'nul-test' }),
    ]);
    expect(res.status).toBe(200);
    const rows = await db.pool.query(`SELECT endpoint, query_preview FROM query_performance_log WHERE request_id = 'nul-test'`);
    expect(rows.rows[0].endpoint).toBe('/odd\tpath\n😀\ufffd');
    expect(rows.rows[0].query_preview).toBe('SELECT * FROM users WHERE email = $1');
    expect(rows.rows[0].query_preview).not.toMatch(/example|6789/);
  });

  it('answers 404 with the error shape for an unknown route', async () => {
    const res = await post(`${url}/v1/ingest/nothing`, ingest, [apiRecord()]);
    expect(res.status).toBe(404);
    expect(res.body.error.code).toBe('not_found');
  });
});

describe('who am I', () => {
  let db: TestDatabase;
  let service: RunningService;
  let url: string;
  beforeAll(async () => {
    db = await createTestDatabase('whoami');
    ({ service, url } = await startTestService(db));
  });
  afterAll(async () => {
    await service.stop();
    await db.drop();
  });

  it('tells an ingest-only token its own tenant and scopes, and refuses naming another tenant', async () => {
    const token = await tokenFor(db, TENANT, ['ingest']);
    const own = await fetch(`${url}/v1/whoami`, { headers: { authorization: `Bearer ${token}` } });
    expect(own.status).toBe(200);
    expect(await own.json()).toMatchObject({ tenantId: TENANT, admin: false, scopes: ['ingest'] });
    const other = await fetch(`${url}/v1/whoami?tenant=${OTHER}`, { headers: { authorization: `Bearer ${token}` } });
    expect(other.status).toBe(403);
    expect(((await other.json()) as { error: { code: string } }).error.code).toBe('forbidden');
  });
});
