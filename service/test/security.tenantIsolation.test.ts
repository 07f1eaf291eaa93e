// Tenant isolation through the HTTP API. Two tenants send data through the ingest API,
// each marked with its own names ("alpha" for A, "bravo" for B). For every query type,
// tenant A's token gets A's data (the query is not trivially empty) and never anything
// of B's: not plainly, not by naming B in the body, a header or the query string, not by
// smuggling a tenant into a query's options, not through path variations, and not by
// asking for B's fingerprint or endpoint by name. An admin naming B sees B's markers,
// so the checks can fail.
import { QUERY_TYPES } from '../src/contract/query';
import { refreshRollups } from '../src/db/rollups';
import { fingerprintQuery, loadParser } from '../src/ingest/fingerprint';
import type { RunningService } from '../src/service';
import { createTestDatabase, type TestDatabase } from './support/db';
import { post, startTestService, tokenFor } from './support/service';

const A = 'a7a7a7a7-0000-4000-8000-00000000000a';
const B = 'b7b7b7b7-0000-4000-8000-00000000000b';
const MARKERS = {
  A: ['alpha', A],
  B: ['bravo', B],
} as const;
const SQL = { A: 'SELECT * FROM alpha_orders WHERE id = 1', B: 'SELECT * FROM bravo_orders WHERE id = 1' };

/** One query of every type; `shows` says whether its answer names the tenant's things. */
const EVERY_TYPE: Array<{ query: Record<string, unknown>; shows: boolean }> = [
  { query: { queryType: 'overview' }, shows: false },
  { query: { queryType: 'healthSeries' }, shows: false },
  { query: { queryType: 'latencyPercentiles', byEndpoint: true }, shows: true },
  { query: { queryType: 'throughput' }, shows: false },
  { query: { queryType: 'slowQueries' }, shows: true },
  { query: { queryType: 'queryDetail' }, shows: true }, // with the asking tenant's own fingerprint
  { query: { queryType: 'endpoints' }, shows: true },
  { query: { queryType: 'resources' }, shows: true },
  { query: { queryType: 'storage' }, shows: false },
  { query: { queryType: 'recommendations' }, shows: true },
  { query: { queryType: 'annotations', source: 'recommendations' }, shows: true },
  { query: { queryType: 'annotations', source: 'healthThresholds' }, shows: false },
  { query: { queryType: 'variable', variable: 'endpoints' }, shows: true },
  { query: { queryType: 'variable', variable: 'fingerprints' }, shows: true },
  { query: { queryType: 'variable', variable: 'tenants' }, shows: true },
];

let db: TestDatabase;
let service: RunningService;
let url: string;
let tokenA: string;
let admin: string;
const hashes = { A: '', B: '' };

beforeAll(async () => {
  await loadParser();
  hashes.A = fingerprintQuery(SQL.A).hash;
  hashes.B = fingerprintQuery(SQL.B).hash;
  db = await createTestDatabase('tenant_isolation');
  ({ service, url } = await startTestService(db));
  tokenA = await tokenFor(db, A, ['read']);
  admin = await tokenFor(db, null, ['read', 'admin']);
  const now = Date.now();
  for (const [tenant, name] of [[A, 'alpha'], [B, 'bravo']] as const) {
    const ingest = await tokenFor(db, tenant, ['ingest']);
    const at = (i: number) => now - 30 * 60_000 + i * 60_000;
    const sent = await Promise.all([
      post(`${url}/v1/ingest/api-requests`, ingest, Array.from({ length: 20 }, (_, i) => ({
        timestamp: at(i), endpoint: `/api/${name}-only`, method: 'GET', statusCode: i % 5 ? 200 : 500, responseTimeMs: 2500, userId: `${name}-user`,
      }))),
      post(`${url}/v1/ingest/queries`, ingest, Array.from({ length: 20 }, (_, i) => ({
        timestamp: at(i), query: name === 'alpha' ? SQL.A : SQL.B, executionTimeMs: 1500, endpoint: `/api/${name}-only`,
      }))),
      post(`${url}/v1/ingest/resources`, ingest, Array.from({ length: 5 }, (_, i) => ({
        timestamp: at(i * 5), cpuUsagePercent: 50, memoryUsedMb: 100, activeConnections: 3, poolMax: 10, source: `${name}-node`,
      }))),
    ]);
    expect(sent.map((r) => r.status)).toEqual([200, 200, 200]);
    await db.pool.query(
      `INSERT INTO optimization_recommendations (tenant_id, id, kind, severity, title, evidence, action, endpoint, first_seen, last_seen)
       VALUES ($1, '0000000000000b0b', 'slowEndpoint', 'warning', $2, '{}', 'look at it', $3, now() - interval '10 minutes', now())`,
      [tenant, `${name} endpoint is slow`, `/api/${name}-only`]);
  }
  await service.queue.drain();
  await refreshRollups(db.pool);
});

afterAll(async () => {
  await service?.stop();
  await db?.drop();
});

const range = () => ({ from: Date.now() - 2 * 3_600_000, to: Date.now() });

async function ask(query: Record<string, unknown>, { token = tokenA, body = {}, headers = {}, path = '/v1/query' }: {
  token?: string; body?: Record<string, unknown>; headers?: Record<string, string>; path?: string;
} = {}): Promise<{ status: number; text: string; body: any }> {
  const response = await post(url + path, token, { range: range(), intervalMs: 300_000, queries: [{ refId: 'A', ...query }], ...body }, headers);
  return { status: response.status, text: JSON.stringify(response.body), body: response.body };
}

function expectNothingOf(tenant: 'B', text: string): void {
  for (const marker of MARKERS[tenant]) expect(text).not.toContain(marker);
}

describe.each(EVERY_TYPE.map(({ query, shows }) => [JSON.stringify(query), query, shows] as const))('%s', (_label, template, shows) => {
  // queryDetail asks for the tenant's own fingerprint, known once the parser is loaded.
  const own = () => ({ ...template, ...(template.queryType === 'queryDetail' ? { queryHash: hashes.A } : {}) });

  it("gives tenant A its own data and nothing of tenant B's", async () => {
    const answer = await ask(own());
    expect(answer.status).toBe(200);
    expect(answer.body.results.A.error).toBeUndefined();
    expectNothingOf('B', answer.text);
    if (shows) expect(answer.text).toMatch(/alpha|a7a7a7a7/);
  });

  it("shows tenant B's data to an admin naming B (so the check above can fail)", async () => {
    const query = { ...template, ...(template.queryType === 'queryDetail' ? { queryHash: hashes.B } : {}) };
    const answer = await ask(query, { token: admin, body: { tenantId: B } });
    expect(answer.status).toBe(200);
    if (shows) expect(answer.text).toMatch(/bravo|b7b7b7b7/);
    expect(answer.text).not.toContain('alpha');
  });

  it.each([
    ['the body\'s tenantId', { body: { tenantId: B } }],
    ['an X-Tenant-Id header', { headers: { 'x-tenant-id': B } }],
    ['?tenant=', { path: `/v1/query?tenant=${B}` }],
    ['?tenant= in upper case', { path: `/v1/query?tenant=${B.toUpperCase()}` }],
  ])('refuses tenant A naming tenant B in %s with 403', async (_how, how) => {
    const answer = await ask(own(), how);
    expect(answer.status).toBe(403);
    expect(answer.body.error).toMatchObject({ code: 'forbidden', details: { field: 'tenant' } });
    expectNothingOf('B', answer.text);
  });

  it('refuses a tenant smuggled into the query options with 400', async () => {
    for (const smuggled of [{ tenantId: B }, { tenant_id: B }, { tenant: B }]) {
      const answer = await ask({ ...own(), ...smuggled });
      expect(answer.status).toBe(400);
      expect(answer.body.error.code).toBe('invalid_query');
      expectNothingOf('B', answer.text.replaceAll(B, ''));
    }
  });

  it('answers for tenant A only, whatever the path variation or repeated parameter', async () => {
    for (const path of [`/v1/query?tenant=${A}&tenant=${B}`, `/v1/query?tenant[]=${B}`, `/v1/query?TENANT=${B}`, `/v1/query/?tenant=${B}`, `/v1//query`, `/V1/QUERY`, `/v1/query;tenant=${B}`, `/v1/query%2f..%2fquery`]) {
      const answer = await ask(own(), { path });
      expect([200, 400, 403, 404]).toContain(answer.status);
      expectNothingOf('B', answer.text.replaceAll(`${B}`, '').replaceAll(B.toUpperCase(), ''));
      if (answer.status === 200) expect(answer.body.results.A.error).toBeUndefined();
    }
  });
});

describe("asking for tenant B's things by name", () => {
  /** Every number in the answer's frames, without the time columns. */
  function values(body: any): unknown[] {
    return (body.results.A.frames as any[]).flatMap((frame) =>
      frame.schema.fields.flatMap((field: { type: string }, i: number) => (field.type === 'time' ? [] : frame.data.values[i])));
  }

  it("gives nothing for B's fingerprint, B's endpoint or B's resource source", async () => {
    const bravo = '/api/bravo-only';
    for (const query of [
      { queryType: 'queryDetail', queryHash: hashes.B },
      { queryType: 'recommendations', queryHash: hashes.B },
      { queryType: 'recommendations', endpoint: bravo },
      { queryType: 'slowQueries', endpoint: bravo },
      { queryType: 'latencyPercentiles', endpoint: bravo },
      { queryType: 'throughput', endpoint: bravo },
      { queryType: 'resources', source: 'bravo-node' },
    ]) {
      const answer = await ask(query);
      expect({ query, status: answer.status }).toEqual({ query, status: 200 });
      // The filter itself may be echoed as a label; no value may come from B's rows.
      const text = answer.text.replaceAll(bravo, '').replaceAll('bravo-node', '').replaceAll(hashes.B, '');
      expectNothingOf('B', text);
      const echoed = [bravo, 'bravo-node', hashes.B];
      expect({ query, values: values(answer.body).filter((v) => v !== null && v !== 0 && v !== '' && !echoed.includes(v as string)) }).toEqual({ query, values: [] });
    }
  });

  it('lists only its own tenant in the tenants variable, even when it asks for more', async () => {
    const answer = await ask({ queryType: 'variable', variable: 'tenants' });
    expect(answer.body.results.A.frames[0].data.values).toEqual([[A], [A]]);
  });

  it('covers every query type', () => {
    expect(new Set(EVERY_TYPE.map((t) => t.query.queryType))).toEqual(new Set(QUERY_TYPES));
  });

  it('names its own tenant in /v1/whoami, whatever tenant the request names', async () => {
    for (const path of ['/v1/whoami', `/v1/whoami?tenant=${B}`]) {
      const response = await fetch(url + path, { headers: { authorization: `Bearer ${tokenA}` } });
      const text = await response.text();
      expect([200, 403]).toContain(response.status);
      expectNothingOf('B', text.replaceAll(B, ''));
      if (response.status === 200) expect(JSON.parse(text).tenantId).toBe(A);
    }
  });
});
