// The OTLP/HTTP receiver against real PostgreSQL: answers as the OTLP specification
// says, maps spans and metrics to the seed's tables, drops what is not mapped, and
// refuses bad input with a 400 naming the field, storing nothing.
import { gzipSync } from 'node:zlib';
import { createTestDatabase, type TestDatabase } from './support/db';
import { startTestService, tokenFor } from './support/service';
import { otlpTypes } from '../src/otlp/schema';
import { MAX_ATTRIBUTES } from '../src/otlp/decode';
import type { RunningService } from '../src/service';

const TENANT = '27270010-0000-4000-8000-000000000010';
const OTHER_TENANT = '27270011-0000-4000-8000-000000000011';

type Attrs = Record<string, string | number | boolean>;

function keyValues(attributes: Attrs) {
  return Object.entries(attributes).map(([key, v]) => ({
    key,
    value: typeof v === 'string' ? { stringValue: v } : typeof v === 'boolean' ? { boolValue: v } : Number.isInteger(v) ? { intValue: v } : { doubleValue: v },
  }));
}

let spanCounter = 0;
/** One span, times in ms since the epoch; trace ids in hex. */
function span(kind: number, attributes: Attrs, options: { traceId?: string; name?: string; startMs?: number; durationMs?: number; endMs?: number } = {}) {
  const startMs = options.startMs ?? Date.now() - 1000;
  const endMs = options.endMs ?? startMs + (options.durationMs ?? 12);
  spanCounter++;
  return {
    traceId: options.traceId ?? spanCounter.toString(16).padStart(32, 'a'),
    spanId: spanCounter.toString(16).padStart(16, '0'),
    name: options.name ?? 'span',
    kind,
    startTimeUnixNano: `${BigInt(Math.round(startMs * 1000)) * 1000n}`,
    endTimeUnixNano: `${BigInt(Math.round(endMs * 1000)) * 1000n}`,
    attributes: keyValues(attributes),
  };
}

function traces(spans: unknown[], resource: Attrs = { 'service.name': 'shop' }) {
  return { resourceSpans: [{ resource: { attributes: keyValues(resource) }, scopeSpans: [{ scope: { name: 'test' }, spans }] }] };
}

/** The JSON request as protobuf bytes (hex ids become bytes). */
function traceProtobuf(request: ReturnType<typeof traces>): Buffer {
  const type = otlpTypes().traceRequest;
  const withBytes = JSON.parse(JSON.stringify(request), (key, value) =>
    (key === 'traceId' || key === 'spanId') && typeof value === 'string' ? Buffer.from(value, 'hex') : value);
  return Buffer.from(type.encode(type.fromObject(withBytes)).finish());
}

const SERVER = 2;
const CLIENT = 3;
const INTERNAL = 1;

describe('the OTLP/HTTP receiver', () => {
  let db: TestDatabase;
  let service: RunningService;
  let url: string;
  let token: string;

  async function send(path: string, body: Buffer | string | object, headers: Record<string, string> = {}, auth: string | undefined = token) {
    const protobuf = Buffer.isBuffer(body);
    const response = await fetch(`${url}${path}`, {
      method: 'POST',
      headers: {
        'content-type': protobuf ? 'application/x-protobuf' : 'application/json',
        ...(auth ? { authorization: `Bearer ${auth}` } : {}),
        ...headers,
      },
      body: protobuf ? body : typeof body === 'string' ? body : JSON.stringify(body),
    });
    const bytes = Buffer.from(await response.arrayBuffer());
    return { status: response.status, headers: response.headers, bytes, json: () => JSON.parse(bytes.toString('utf8')) };
  }

  async function count(table: string, tenant = TENANT): Promise<number> {
    const result = await db.pool.query(`SELECT count(*)::int AS n FROM ${table} WHERE tenant_id = $1`, [tenant]);
    return result.rows[0].n;
  }

  async function stored(): Promise<number> {
    return (await count('api_performance_log')) + (await count('query_performance_log')) + (await count('system_resource_metrics'));
  }

  beforeAll(async () => {
    db = await createTestDatabase('otlp_receiver');
    ({ service, url } = await startTestService(db));
    token = await tokenFor(db, TENANT, ['ingest']);
  });
  afterAll(async () => {
    await service.stop();
    await db.drop();
  });
  beforeEach(async () => {
    for (const table of ['api_performance_log', 'query_performance_log', 'system_resource_metrics']) {
      await db.pool.query(`DELETE FROM ${table} WHERE tenant_id IN ($1, $2)`, [TENANT, OTHER_TENANT]);
    }
  });

  describe('answers', () => {
    it('answers a protobuf export with an empty ExportTraceServiceResponse after the rows are committed', async () => {
      const res = await send('/v1/traces', traceProtobuf(traces([span(SERVER, { 'http.request.method': 'GET', 'http.route': '/a', 'http.response.status_code': 200 })])));
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^application\/x-protobuf/);
      const decoded = otlpTypes().traceResponse.toObject(otlpTypes().traceResponse.decode(res.bytes));
      expect(decoded).toEqual({});
      expect(await count('api_performance_log')).toBe(1);
    });

    it('answers a JSON export with {} in JSON', async () => {
      const res = await send('/v1/traces', traces([span(SERVER, { 'http.method': 'GET', 'http.route': '/a', 'http.status_code': 200 })]));
      expect(res.status).toBe(200);
      expect(res.json()).toEqual({});
    });

    it('reports server spans it cannot store as requests in partial_success, and stores the rest', async () => {
      const body = traces([
        span(SERVER, { 'rpc.system': 'grpc', 'rpc.method': 'GetOrder' }, { name: 'orders.Orders/GetOrder' }),
        span(SERVER, { 'http.request.method': 'GET', 'http.route': '/a', 'http.response.status_code': 200 }),
      ]);
      const res = await send('/v1/traces', body);
      expect(res.status).toBe(200);
      expect(res.json()).toEqual({ partialSuccess: { rejectedSpans: '1', errorMessage: expect.stringMatching(/^1 server spans without an HTTP method and status code/) } });
      const proto = await send('/v1/traces', traceProtobuf(body));
      const decoded = otlpTypes().traceResponse.toObject(otlpTypes().traceResponse.decode(proto.bytes), { longs: Number });
      expect(decoded.partialSuccess.rejectedSpans).toBe(1);
      expect(await count('api_performance_log')).toBe(2);
    });

    it('refuses a request without a token (401) or with a token lacking the ingest scope (403), as google.rpc.Status', async () => {
      const body = traceProtobuf(traces([span(SERVER, { 'http.method': 'GET', 'http.route': '/a', 'http.status_code': 200 })]));
      const missing = await send('/v1/traces', body, {}, '');
      expect(missing.status).toBe(401);
      const status = otlpTypes().status.toObject(otlpTypes().status.decode(missing.bytes));
      expect(status).toEqual({ code: 16, message: expect.stringMatching(/Authorization/) });
      const reader = await tokenFor(db, TENANT, ['read']);
      const forbidden = await send('/v1/traces', traces([]), {}, reader);
      expect(forbidden.status).toBe(403);
      expect(forbidden.json()).toMatchObject({ code: 7, error: { code: 'forbidden' } });
      expect(await stored()).toBe(0);
    });

    it('refuses an unknown media type with 415', async () => {
      const res = await send('/v1/traces', '{}', { 'content-type': 'text/plain' });
      expect(res.status).toBe(415);
      expect(res.json().error.details).toEqual({ field: 'Content-Type' });
    });

    it('answers 429 with Retry-After when the ingest queue is full, storing nothing', async () => {
      const small = await startTestService(db, { METRICS_QUEUE_MAX_RECORDS: '2' });
      try {
        const body = traces([0, 1, 2].map(() => span(SERVER, { 'http.method': 'GET', 'http.route': '/full', 'http.status_code': 200 })));
        const res = await fetch(`${small.url}/v1/traces`, {
          method: 'POST', headers: { 'content-type': 'application/x-protobuf', authorization: `Bearer ${token}` }, body: traceProtobuf(body),
        });
        expect(res.status).toBe(429);
        expect(res.headers.get('retry-after')).toBe('1');
        expect(otlpTypes().status.decode(Buffer.from(await res.arrayBuffer()))).toMatchObject({ code: 8 });
        expect(await stored()).toBe(0);
      } finally {
        await small.service.stop();
      }
    });
  });

  describe('mapping', () => {
    it('reads the stable semantic conventions: route, method, status, sizes, returned rows', async () => {
      const traceId = 'b'.repeat(32);
      const res = await send('/v1/traces', traceProtobuf(traces([
        span(CLIENT, { 'db.system.name': 'postgresql', 'db.query.text': "SELECT * FROM orders WHERE email = 'jane@example.com'", 'db.response.returned_rows': 3 }, { traceId, durationMs: 4 }),
        span(SERVER, {
          'http.request.method': 'POST', 'http.route': '/orders/:id', 'http.response.status_code': 201,
          'http.request.body.size': 120, 'http.response.body.size': 450,
        }, { traceId, durationMs: 25 }),
      ])));
      expect(res.status).toBe(200);
      const api = await db.pool.query(`SELECT endpoint, method, status_code, response_time_ms, request_size_bytes, response_size_bytes, request_id FROM api_performance_log WHERE tenant_id = $1`, [TENANT]);
      expect(api.rows).toEqual([{ endpoint: '/orders/:id', method: 'POST', status_code: 201, response_time_ms: 25, request_size_bytes: 120, response_size_bytes: 450, request_id: traceId }]);
      const queries = await db.pool.query(`SELECT query_preview, rows_returned, execution_time_ms, endpoint, request_id FROM query_performance_log WHERE tenant_id = $1`, [TENANT]);
      expect(queries.rows).toEqual([{ query_preview: 'SELECT * FROM orders WHERE email = $1', rows_returned: 3, execution_time_ms: 4, endpoint: '/orders/:id', request_id: traceId }]);
    });

    it('reads the older attribute names too', async () => {
      const traceId = 'c'.repeat(32);
      await send('/v1/traces', traces([
        span(SERVER, { 'http.method': 'get', 'http.route': '/legacy', 'http.status_code': '404', 'http.request_content_length': 10 }, { traceId }),
        span(CLIENT, { 'db.system': 'postgresql', 'db.statement': 'SELECT 1 FROM t WHERE id = 42' }, { traceId }),
      ]));
      const api = await db.pool.query(`SELECT endpoint, method, status_code, request_size_bytes FROM api_performance_log WHERE tenant_id = $1`, [TENANT]);
      expect(api.rows).toEqual([{ endpoint: '/legacy', method: 'GET', status_code: 404, request_size_bytes: 10 }]);
      const queries = await db.pool.query(`SELECT query_preview, endpoint FROM query_performance_log WHERE tenant_id = $1`, [TENANT]);
      expect(queries.rows).toEqual([{ query_preview: 'SELECT $1 FROM t WHERE id = $2', endpoint: '/legacy' }]);
    });

    it('names a request without a route by its GraphQL operation, else by the span name, never by its URL path', async () => {
      await send('/v1/traces', traces([
        span(SERVER, { 'http.request.method': 'POST', 'http.response.status_code': 200, 'graphql.operation.name': 'GetOrders', 'graphql.operation.type': 'query', 'url.path': '/graphql' }),
        span(SERVER, { 'http.request.method': 'GET', 'http.response.status_code': 200, 'url.path': '/users/12345/profile' }, { name: 'GET' }),
      ]));
      const api = await db.pool.query(`SELECT endpoint FROM api_performance_log WHERE tenant_id = $1 ORDER BY endpoint`, [TENANT]);
      expect(api.rows.map((r) => r.endpoint)).toEqual(['GET', 'query GetOrders']);
    });

    it('links database spans to the endpoint of a server span exported in an earlier request', async () => {
      const traceId = 'd'.repeat(32);
      await send('/v1/traces', traces([span(SERVER, { 'http.method': 'GET', 'http.route': '/earlier', 'http.status_code': 200 }, { traceId })]));
      await send('/v1/traces', traceProtobuf(traces([span(CLIENT, { 'db.system': 'postgresql', 'db.statement': 'SELECT 2' }, { traceId })])));
      const queries = await db.pool.query(`SELECT endpoint FROM query_performance_log WHERE tenant_id = $1`, [TENANT]);
      expect(queries.rows).toEqual([{ endpoint: '/earlier' }]);
    });

    it('prepares a large export in a worker thread, with the same links, in the request and across requests', async () => {
      const traceIds = Array.from({ length: 1200 }, (_, i) => (0x100000 + i).toString(16).padStart(32, 'f'));
      const servers = traceIds.map((traceId, i) => span(SERVER, { 'http.method': 'GET', 'http.route': `/big/${i % 3}`, 'http.status_code': 200 }, { traceId }));
      const queries = traceIds.map((traceId) => span(CLIENT, { 'db.system': 'postgresql', 'db.statement': `SELECT * FROM big WHERE id = ${traceId.length}` }, { traceId }));
      // First request: half the traces whole (links inside the request), the other half's server spans alone.
      const first = traceProtobuf(traces([...servers, ...queries.slice(0, 600)]));
      const second = traceProtobuf(traces(queries.slice(600)));
      expect(first.length).toBeGreaterThan(64 * 1024);
      expect(second.length).toBeGreaterThan(64 * 1024);
      expect((await send('/v1/traces', first)).status).toBe(200);
      expect((await send('/v1/traces', second)).status).toBe(200);
      const rows = await db.pool.query(
        `SELECT count(*)::int AS n, count(*) FILTER (WHERE q.endpoint = a.endpoint)::int AS linked
           FROM query_performance_log q JOIN api_performance_log a USING (tenant_id, request_id) WHERE q.tenant_id = $1`, [TENANT]);
      expect(rows.rows[0]).toEqual({ n: 1200, linked: 1200 });
    });

    it('stores no row for internal spans, connect spans without query text, or other databases', async () => {
      const res = await send('/v1/traces', traces([
        span(INTERNAL, { 'http.route': '/middleware' }, { name: 'middleware - query' }),
        span(CLIENT, { 'db.system.name': 'postgresql' }, { name: 'pg-pool.connect' }),
        span(CLIENT, { 'db.system.name': 'mysql', 'db.query.text': 'SELECT 1' }),
        span(CLIENT, { 'http.request.method': 'GET', 'http.response.status_code': 200 }),
      ]));
      expect(res.status).toBe(200);
      expect(res.json()).toEqual({});
      expect(await stored()).toBe(0);
    });

    it('takes the tenant from the token, never from resource attributes, and never stores unmapped attributes', async () => {
      const secret = 'sk_live_secret_value_7781';
      await send('/v1/traces', traces(
        [span(SERVER, { 'http.method': 'GET', 'http.route': '/t', 'http.status_code': 200, 'user.email': secret, 'http.request.header.authorization': secret }, { traceId: 'e'.repeat(32) }),
          span(CLIENT, { 'db.system': 'postgresql', 'db.statement': 'SELECT 3', 'db.user': secret }, { traceId: 'e'.repeat(32) })],
        { 'service.name': 'shop', 'tenant.id': OTHER_TENANT, tenant_id: OTHER_TENANT, 'host.secret': secret },
      ));
      expect(await count('api_performance_log')).toBe(1);
      expect(await count('query_performance_log')).toBe(1);
      expect(await count('api_performance_log', OTHER_TENANT)).toBe(0);
      for (const table of ['api_performance_log', 'query_performance_log', 'query_fingerprints']) {
        const found = await db.pool.query(`SELECT count(*)::int AS n FROM ${table} t WHERE row_to_json(t)::text LIKE $1`, [`%${secret}%`]);
        expect({ table, n: found.rows[0].n }).toEqual({ table, n: 0 });
      }
    });

    it('maps process, memory and pool metrics of one process to a resource sample named by the service', async () => {
      const nowNs = `${BigInt(Date.now()) * 1_000_000n}`;
      const point = (value: number, attributes: Attrs = {}, asInt = false) => ({ timeUnixNano: nowNs, attributes: keyValues(attributes), ...(asInt ? { asInt: String(value) } : { asDouble: value }) });
      const body = {
        resourceMetrics: [{
          resource: { attributes: keyValues({ 'service.name': 'shop', 'service.instance.id': 'i-1', 'tenant.id': OTHER_TENANT }) },
          scopeMetrics: [{
            metrics: [
              { name: 'process.cpu.utilization', gauge: { dataPoints: [point(0.25, { 'process.cpu.state': 'user' }), point(0.05, { 'process.cpu.state': 'system' })] } },
              { name: 'process.memory.usage', sum: { dataPoints: [point(512 * 1024 * 1024, {}, true)] } },
              { name: 'system.memory.limit', sum: { dataPoints: [point(4096 * 1024 * 1024, {}, true)] } },
              { name: 'db.client.connection.count', sum: { dataPoints: [point(7, { 'db.client.connection.state': 'used' }, true), point(3, { 'db.client.connection.state': 'idle' }, true)] } },
              { name: 'db.client.connection.max', sum: { dataPoints: [point(20, {}, true)] } },
              { name: 'http.server.request.duration', histogram: { dataPoints: [] } },
            ],
          }],
        }],
      };
      const type = otlpTypes().metricsRequest;
      const res = await send('/v1/metrics', Buffer.from(type.encode(type.fromObject(body)).finish()));
      expect(res.status).toBe(200);
      const rows = await db.pool.query(`SELECT cpu_usage_percent, memory_used_mb, memory_total_mb, active_connections, pool_max, source FROM system_resource_metrics WHERE tenant_id = $1`, [TENANT]);
      expect(rows.rows).toEqual([{ cpu_usage_percent: 30, memory_used_mb: 512, memory_total_mb: 4096, active_connections: 7, pool_max: 20, source: 'shop/i-1' }]);
      const json = await send('/v1/metrics', body);
      expect(json.status).toBe(200);
      expect(await count('system_resource_metrics')).toBe(2);
    });

    it('reports a process without CPU and memory metrics in partial_success', async () => {
      const nowNs = `${BigInt(Date.now()) * 1_000_000n}`;
      const res = await send('/v1/metrics', { resourceMetrics: [{ scopeMetrics: [{ metrics: [{ name: 'db.client.connection.count', sum: { dataPoints: [{ timeUnixNano: nowNs, asInt: '4' }] } }] }] }] });
      expect(res.status).toBe(200);
      expect(res.json()).toEqual({ partialSuccess: { rejectedDataPoints: '1', errorMessage: expect.stringMatching(/without both CPU/) } });
      expect(await stored()).toBe(0);
    });
  });

  describe('bad input gets a 400 naming the field, and nothing is stored', () => {
    const good = () => span(SERVER, { 'http.method': 'GET', 'http.route': '/ok', 'http.status_code': 200 });

    async function refused(path: string, body: Buffer | string | object, headers: Record<string, string> = {}) {
      const res = await send(path, body, headers);
      expect(res.status).toBe(400);
      expect(await stored()).toBe(0);
      return Buffer.isBuffer(body) ? otlpTypes().status.toObject(otlpTypes().status.decode(res.bytes)) : res.json();
    }

    it('a truncated protobuf body', async () => {
      const bytes = traceProtobuf(traces([good(), good()]));
      const status = await refused('/v1/traces', bytes.subarray(0, bytes.length - 7));
      expect(status).toEqual({ code: 3, message: expect.stringMatching(/not a valid ExportTraceServiceRequest protobuf message/) });
    });

    it('a truncated gzip body', async () => {
      const gz = gzipSync(traceProtobuf(traces([good()])));
      const status = await refused('/v1/traces', gz.subarray(0, gz.length - 10), { 'content-encoding': 'gzip' });
      expect(status.message).toMatch(/not valid gzip/);
    });

    it('JSON that is not an object, or not JSON', async () => {
      expect((await refused('/v1/traces', '[1, 2]')).error.details).toEqual({ field: '(body)', reason: expect.stringMatching(/JSON object/) });
      expect((await refused('/v1/traces', '{"resourceSpans": [')).error.code).toBe('invalid_json');
    });

    it.each([
      ['a list that is not an array', (s: any) => ({ resourceSpans: [{ scopeSpans: { spans: [s] } }] }), 'resourceSpans[0].scopeSpans'],
      ['a time that is not a number', (s: any) => traces([{ ...s, startTimeUnixNano: true }]), 'resourceSpans[0].scopeSpans[0].spans[0].startTimeUnixNano'],
      ['a time that is not a decimal string', (s: any) => traces([{ ...s, endTimeUnixNano: '17e9' }]), 'resourceSpans[0].scopeSpans[0].spans[0].endTimeUnixNano'],
      ['a trace id that is not hex', (s: any) => traces([{ ...s, traceId: 'not-a-trace-id' }]), 'resourceSpans[0].scopeSpans[0].spans[0].traceId'],
      ['a kind that is not a SpanKind', (s: any) => traces([{ ...s, kind: 'server' }]), 'resourceSpans[0].scopeSpans[0].spans[0].kind'],
      ['an int attribute that is not an integer', (s: any) => traces([{ ...s, attributes: [{ key: 'http.status_code', value: { intValue: 'two hundred' } }] }]),
        'resourceSpans[0].scopeSpans[0].spans[0].attributes[0].value.intValue'],
      ['a string attribute that is not a string', (s: any) => traces([{ ...s, attributes: [{ key: 'http.route', value: { stringValue: 7 } }] }]),
        'resourceSpans[0].scopeSpans[0].spans[0].attributes[0].value.stringValue'],
    ])('JSON with %s', async (_name, build, field) => {
      const body = await refused('/v1/traces', build(good()));
      expect(body.error.code).toBe('invalid_otlp');
      expect(body.error.details.field).toBe(field);
      expect(body.code).toBe(3);
      expect(body.message).toContain(field);
    });

    it('a span that ends before it starts', async () => {
      const now = Date.now();
      const body = await refused('/v1/traces', traces([good(), span(SERVER, { 'http.method': 'GET', 'http.route': '/x', 'http.status_code': 200 }, { startMs: now - 1000, endMs: now - 2000 })]));
      expect(body.error.details.errors).toEqual([{ field: 'resourceSpans[0].scopeSpans[0].spans[1].endTimeUnixNano', reason: 'is before startTimeUnixNano' }]);
    });

    it('timestamps outside the accepted window, in the past or the future', async () => {
      const old = await refused('/v1/traces', traceProtobuf(traces([good(), span(CLIENT, { 'db.system': 'postgresql', 'db.statement': 'SELECT 1' }, { startMs: Date.UTC(2001, 0, 1) })])));
      expect(old.message).toMatch(/spans\[1\]\.startTimeUnixNano is older than the accepted window/);
      const future = await refused('/v1/traces', traces([span(SERVER, { 'http.method': 'GET', 'http.route': '/x', 'http.status_code': 200 }, { startMs: Date.now() + 10 * 86_400_000 })]));
      expect(future.error.details.errors[0]).toEqual({ field: 'resourceSpans[0].scopeSpans[0].spans[0].startTimeUnixNano', reason: expect.stringMatching(/too far in the future/) });
    });

    it('10 000 attributes on one span', async () => {
      const attributes: Attrs = { 'http.method': 'GET', 'http.route': '/many', 'http.status_code': 200 };
      for (let i = 0; i < 10_000; i++) attributes[`custom.${i}`] = i;
      const status = await refused('/v1/traces', traceProtobuf(traces([span(SERVER, attributes)])));
      expect(status.message).toMatch(new RegExp(`spans\\[0\\]\\.attributes holds 10003 attributes, more than the ${MAX_ATTRIBUTES} accepted`));
    });

    it('huge strings in mapped fields', async () => {
      const route = await refused('/v1/traces', traces([span(SERVER, { 'http.method': 'GET', 'http.route': `/${'r'.repeat(1_000_000)}`, 'http.status_code': 200 })]));
      expect(route.error.details.errors).toEqual([{ field: 'resourceSpans[0].scopeSpans[0].spans[0].attributes["http.route"]', reason: 'must be at most 500 characters' }]);
      const query = await refused('/v1/traces', traceProtobuf(traces([span(CLIENT, { 'db.system': 'postgresql', 'db.statement': `SELECT '${'x'.repeat(200_000)}'` })])));
      expect(query.message).toMatch(/attributes\["db\.statement"\] must be at most 100000 characters/);
    });

    it('a status code that is not an HTTP status', async () => {
      const body = await refused('/v1/traces', traces([span(SERVER, { 'http.method': 'GET', 'http.route': '/x', 'http.status_code': 9000 })]));
      expect(body.error.details.errors[0]).toEqual({ field: 'resourceSpans[0].scopeSpans[0].spans[0].attributes["http.status_code"]', reason: 'must be between 100 and 599' });
    });

    it('metrics with a value of the wrong type', async () => {
      const body = await refused('/v1/metrics', { resourceMetrics: [{ scopeMetrics: [{ metrics: [{ name: 'process.memory.usage', sum: { dataPoints: [{ timeUnixNano: '1', asDouble: 'lots' }] } }] }] }] });
      expect(body.error.details.field).toBe('resourceMetrics[0].scopeMetrics[0].metrics[0].sum.dataPoints[0].asDouble');
    });
  });
});
