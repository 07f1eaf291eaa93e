// The bad-input corpus (test/fixtures/bad-input.json) run against the real service: one
// test per case. Each case gets its documented answer and an error naming the field,
// while a valid batch of each record kind sent alongside is stored, /health still
// answers, and nothing of the bad request reaches the tables. The format of a case is in
// test/README.md; adding a case is one line in the JSON file.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import type { RunningService } from '../src/service';
import { createTestDatabase, type TestDatabase } from './support/db';
import { INGEST_KINDS, INGEST_PATHS, recordWithId, storedOf, type IngestKind } from './support/load';
import { apiRecord, queryRecord, resourceRecord, startTestService, tokenFor } from './support/service';

interface BadInputCase {
  name: string;
  method?: 'GET' | 'POST';
  path: string;
  token?: TokenName;
  /** Header overrides; null removes a header (content-type defaults to application/json). */
  headers?: Record<string, string | null>;
  /** Merged over a valid record of the path's kind (ingest) or a valid query (/v1/query), sent alone. */
  record?: Record<string, unknown>;
  omit?: string[];
  /** Fields of that record given as raw JSON text, e.g. 1e999 (Infinity once parsed) or NaN. */
  raw?: Record<string, string>;
  /** /v1/query: merged over a valid request (whose queries hold the record above), and fields removed from it. */
  request?: Record<string, unknown>;
  omitRequest?: string[];
  /** The whole body: a JSON value, a text, or a named generator (large or binary bodies). */
  json?: unknown;
  text?: string;
  generate?: keyof typeof GENERATORS;
  status: number;
  code?: string;
  /** The field the error names: in its message, and in its details when it has any. */
  field?: string;
  /** A pattern the error message must match. */
  message?: string;
  /** For an accepted case: a stored value proving the input was kept as data, verbatim. */
  stored?: { table: string; column: string; value: string };
}

type TokenName = 'ingest' | 'read' | 'admin' | 'otherTenant' | 'none';

const CORPUS = JSON.parse(readFileSync(path.join(__dirname, 'fixtures/bad-input.json'), 'utf8')) as { cases: BadInputCase[] };
const TENANT = '3a3a3a3a-3a3a-4a3a-8a3a-3a3a3a3a3a3a';
const OTHER_TENANT = '3b3b3b3b-3b3b-4b3b-8b3b-3b3b3b3b3b3b';
const BODY_LIMIT = 2 * 1024 * 1024;
const RAW_TABLES = ['api_performance_log', 'query_performance_log', 'system_resource_metrics'];

const utf8 = (text: string) => Buffer.from(text, 'utf8');
const INVALID_UTF8 = Buffer.from([0xc3, 0x28, 0xff, 0xfe]);

/** Bodies a JSON line cannot hold. Each returns the body and the headers it needs. */
const GENERATORS = {
  gzipBomb: () => ({ body: gzipSync(Buffer.alloc(64 * 1024 * 1024, 0x20)), headers: { 'content-encoding': 'gzip' } }),
  notGzip: () => ({ body: utf8(JSON.stringify([apiRecord()])), headers: { 'content-encoding': 'gzip' } }),
  oversizedBody: () => ({ body: utf8(JSON.stringify([apiRecord({ endpoint: 'x'.repeat(BODY_LIMIT) })])) }),
  tooManyRecords: () => ({ body: utf8('[' + '1,'.repeat(100_000) + '1]') }),
  queryText1MB: () => ({ body: utf8(JSON.stringify([queryRecord({ query: 'SELECT ' + 'x, '.repeat(350_000) + 'y FROM t' })])) }),
  endpoint1MB: () => ({ body: utf8(JSON.stringify([apiRecord({ endpoint: '/' + 'a'.repeat(1024 * 1024) })])) }),
  deeplyNestedField: () => ({ body: utf8(`[${JSON.stringify(apiRecord()).slice(0, -1)},"endpoint":${'['.repeat(100_000)}${']'.repeat(100_000)}}]`) }),
  deeplyNestedBody: () => ({ body: utf8('['.repeat(100_000) + ']'.repeat(100_000)) }),
  invalidUtf8Body: () => ({ body: INVALID_UTF8 }),
  invalidUtf8InMethod: () => ({ body: spliceBytes(JSON.stringify([apiRecord({ method: '@' })]), '"@"', INVALID_UTF8) }),
  invalidUtf8InEndpoint: () => ({ body: spliceBytes(JSON.stringify([apiRecord({ endpoint: '@', requestId: 'utf8-endpoint' })]), '"@"', INVALID_UTF8) }),
  nulByteBetweenTokens: () => ({ body: Buffer.concat([utf8('['), Buffer.from([0]), utf8(JSON.stringify(apiRecord()) + ']')]) }),
  gzipWithInvalidJson: () => ({ body: gzipSync('[{"timestamp":'), headers: { 'content-encoding': 'gzip' } }),
  queryBody1MB: () => ({ body: queryBody({ refId: 'A', queryType: 'slowQueries', endpoint: '/' + 'q'.repeat(1024 * 1024) }) }),
  queryBodyOverLimit: () => ({ body: queryBody({ refId: 'A', queryType: 'slowQueries', endpoint: '/' + 'q'.repeat(BODY_LIMIT) }) }),
  gzipBombQuery: () => ({ body: gzipSync(Buffer.alloc(64 * 1024 * 1024, 0x20)), headers: { 'content-encoding': 'gzip' } }),
  fiftyOneQueries: () => ({ body: utf8(JSON.stringify({ range: lastHour(), queries: Array.from({ length: 51 }, (_, i) => ({ refId: `Q${i}`, queryType: 'overview' })) })) }),
  deeplyNestedQuery: () => ({ body: utf8(`{"range":${JSON.stringify(lastHour())},"queries":[${'['.repeat(100_000)}${']'.repeat(100_000)}]}`) }),
  deeplyNestedRange: () => ({ body: utf8(`{"range":{"from":${'['.repeat(100_000)}${']'.repeat(100_000)},"to":1},"queries":[{"refId":"A","queryType":"overview"}]}`) }),
  invalidUtf8QueryBody: () => ({ body: Buffer.concat([utf8('{"range":'), INVALID_UTF8, utf8('}')]) }),
} satisfies Record<string, () => { body: Buffer; headers?: Record<string, string> }>;

function lastHour(): { from: string; to: string } {
  const now = Date.now();
  return { from: new Date(now - 3_600_000).toISOString(), to: new Date(now).toISOString() };
}

function queryBody(query: Record<string, unknown>): Buffer {
  return utf8(JSON.stringify({ range: lastHour(), queries: [query] }));
}

/** The JSON text with the string `marker` (quotes included) replaced by a quoted byte sequence. */
function spliceBytes(json: string, marker: string, bytes: Buffer): Buffer {
  const at = json.indexOf(marker);
  return Buffer.concat([utf8(json.slice(0, at + 1)), bytes, utf8(json.slice(at + marker.length - 1))]);
}

function baseRecord(casePath: string): Record<string, unknown> {
  if (casePath.startsWith(INGEST_PATHS.api)) return apiRecord();
  if (casePath.startsWith(INGEST_PATHS.query)) return queryRecord();
  if (casePath.startsWith(INGEST_PATHS.resource)) return resourceRecord();
  return { refId: 'A', queryType: 'overview' };
}

/** A JSON object's text from parsed fields and raw-text fields. */
function objectText(fields: Record<string, unknown>, raw: Record<string, string> = {}): string {
  const parts = Object.entries(fields).filter(([key]) => !(key in raw)).map(([key, value]) => `${JSON.stringify(key)}:${JSON.stringify(value)}`);
  for (const [key, text] of Object.entries(raw)) parts.push(`${JSON.stringify(key)}:${text}`);
  return `{${parts.join(',')}}`;
}

function bodyOf(testCase: BadInputCase): { body: Buffer | undefined; headers: Record<string, string> } {
  if (testCase.generate) {
    const generated: { body: Buffer; headers?: Record<string, string> } = GENERATORS[testCase.generate]();
    return { body: generated.body, headers: generated.headers ?? {} };
  }
  if (testCase.text !== undefined) return { body: utf8(testCase.text), headers: {} };
  if (testCase.json !== undefined) return { body: utf8(JSON.stringify(testCase.json)), headers: {} };
  if (testCase.method === 'GET') return { body: undefined, headers: {} };
  const record = { ...baseRecord(testCase.path), ...testCase.record };
  for (const field of testCase.omit ?? []) delete record[field];
  const recordText = objectText(record, testCase.raw);
  if (testCase.path.startsWith('/v1/query')) {
    const request: Record<string, unknown> = { range: lastHour(), queries: undefined, ...testCase.request };
    for (const field of testCase.omitRequest ?? []) delete request[field];
    const queries: Record<string, string> = 'queries' in request ? { queries: request.queries === undefined ? `[${recordText}]` : JSON.stringify(request.queries) } : {};
    return { body: utf8(objectText(request, queries)), headers: {} };
  }
  return { body: utf8(`[${recordText}]`), headers: {} };
}

describe('the bad-input corpus', () => {
  let db: TestDatabase;
  let service: RunningService;
  let url: string;
  let tokens: Record<TokenName, string | undefined>;
  let companionSeq = 0;

  beforeAll(async () => {
    db = await createTestDatabase('bad_input');
    ({ service, url } = await startTestService(db, { INGEST_BODY_LIMIT_BYTES: String(BODY_LIMIT) }));
    tokens = {
      ingest: await tokenFor(db, TENANT, ['ingest']),
      read: await tokenFor(db, TENANT, ['read']),
      admin: await tokenFor(db, null, ['admin']),
      otherTenant: await tokenFor(db, OTHER_TENANT, ['read', 'ingest']),
      none: undefined,
    };
  });
  afterAll(async () => {
    await service.stop();
    await db.drop();
  });

  async function rawRowCount(): Promise<number> {
    const counts = await Promise.all(RAW_TABLES.map((table) => db.pool.query(`SELECT count(*)::int AS n FROM ${table}`)));
    return counts.reduce((sum, result) => sum + result.rows[0].n, 0);
  }

  async function send(testCase: BadInputCase): Promise<{ status: number; body: any }> {
    const { body, headers: bodyHeaders } = bodyOf(testCase);
    const token = tokens[testCase.token ?? (testCase.path.startsWith('/v1/query') || testCase.method === 'GET' ? 'read' : 'ingest')];
    const headers: Record<string, string> = { 'content-type': 'application/json', ...bodyHeaders };
    if (token) headers.authorization = `Bearer ${token}`;
    for (const [name, value] of Object.entries(testCase.headers ?? {})) {
      if (value === null) delete headers[name.toLowerCase()];
      else headers[name.toLowerCase()] = value;
    }
    const response = await fetch(url + testCase.path, { method: testCase.method ?? 'POST', headers, body });
    const text = await response.text();
    try {
      return { status: response.status, body: JSON.parse(text) };
    } catch {
      return { status: response.status, body: text };
    }
  }

  /** One valid record of each kind, posted while the bad request is in flight. */
  function sendCompanions(): Promise<Record<IngestKind, string[]>> {
    const ids = { api: [`companion-${companionSeq}`], query: [`companion-${companionSeq}`], resource: [`companion-${companionSeq}`] };
    companionSeq++;
    return Promise.all(INGEST_KINDS.map(async (kind) => {
      const response = await fetch(url + INGEST_PATHS[kind], {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${tokens.ingest}` },
        body: JSON.stringify([recordWithId(kind, ids[kind][0]!)]),
      });
      expect(response.status).toBe(200);
    })).then(() => ids);
  }

  it('holds at least 60 cases that expect a 4xx, each with a distinct name', () => {
    expect(CORPUS.cases.filter((c) => c.status >= 400 && c.status < 500).length).toBeGreaterThanOrEqual(60);
    expect(new Set(CORPUS.cases.map((c) => c.name)).size).toBe(CORPUS.cases.length);
  });

  it.each(CORPUS.cases.map((c) => [c.name, c] as const))('%s', async (_name, testCase) => {
    const before = await rawRowCount();
    const [answer, companions] = await Promise.all([send(testCase), sendCompanions()]);

    expect({ status: answer.status, body: answer.body }).toMatchObject({ status: testCase.status });
    let accepted = 0;
    if (testCase.status >= 400) {
      const error = answer.body?.error;
      expect(error).toEqual(expect.objectContaining({ code: expect.any(String), message: expect.any(String) }));
      if (testCase.code) expect(error.code).toBe(testCase.code);
      if (testCase.message) expect(error.message).toMatch(new RegExp(testCase.message));
      if (testCase.field) {
        // The message names the field, and so do the details when there are any
        // (details.field, errors[].field, issues[].path or a key of their own).
        const words = (text: string) => text.toLowerCase().replace(/[^a-z0-9]/g, '');
        expect(words(error.message)).toContain(words(testCase.field));
        if (error.details !== undefined) expect(words(JSON.stringify(error.details))).toContain(words(testCase.field));
      }
    } else if (testCase.path.startsWith('/v1/query')) {
      // Answered as data: every query has a result and none an error.
      expect(Object.keys(answer.body.results ?? {}).length).toBeGreaterThan(0);
      for (const result of Object.values(answer.body.results) as Array<{ error?: unknown }>) expect(result.error).toBeUndefined();
    } else {
      accepted = answer.body?.accepted ?? 0;
      if (testCase.stored) {
        const { table, column, value } = testCase.stored;
        expect(`${table}.${column}`).toMatch(/^[a-z_]+\.[a-z_]+$/);
        const found = await db.pool.query(`SELECT count(*)::int AS n FROM ${table} WHERE ${column} = $1::text`, [value]);
        expect(found.rows[0].n).toBeGreaterThanOrEqual(1);
      }
    }

    // The service stays up, the valid batches sent alongside are stored, and nothing else
    // of this request reached the tables.
    const health = await fetch(`${url}/health`, { headers: { authorization: `Bearer ${tokens.admin}` } });
    expect(health.status).toBe(200);
    expect(((await health.json()) as { database: { reachable: boolean } }).database.reachable).toBe(true);
    expect(await storedOf(db.pool, companions)).toEqual({ api: 1, query: 1, resource: 1 });
    expect(await rawRowCount()).toBe(before + 3 + accepted);
  });
});
