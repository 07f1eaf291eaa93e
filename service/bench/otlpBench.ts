// OTLP ingest benchmark (not a test): POST /v1/traces with protobuf bodies, acknowledged
// after commit, side by side in one run with POST /v1/ingest/api-requests carrying the
// same requests as JSON records. Spans look like the OpenTelemetry Node SDK's (HTTP
// server spans with their usual dozen attributes, most of them unmapped and dropped).
// A second case sends whole traces: a server span, two PostgreSQL spans and two
// internal middleware spans per request. Figures go to service/bench/reports/otlp.md.
//
//   node service/bin/run-ts.js service/bench/otlpBench.ts [--spans N]
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import { createPool, type Pool } from '../src/db/pool';
import { createToken } from '../src/db/tokens';
import { loadParser } from '../src/ingest/fingerprint';
import { prepareBatch } from '../src/ingest/prepareBatch';
import { prepareTraces } from '../src/otlp/prepare';
import { otlpTypes } from '../src/otlp/schema';
import { openBenchDatabase, startServiceProcess, writeReport, type ServiceProcess } from './benchSupport';

const REPORT = path.resolve(__dirname, 'reports/otlp.md');
const TENANTS = ['b0000000-0000-4000-8000-000000000001', 'b0000000-0000-4000-8000-000000000002', 'b0000000-0000-4000-8000-000000000003'];
const ROUTES = ['/api/orders', '/api/orders/:id', '/api/customers/:id', '/api/invoices', '/api/jobs/:id/status',
  '/api/inventory/items', '/api/quotes', '/api/print-queue', '/api/reports/daily', '/api/auth/session'];
const QUERIES = [
  'SELECT id, status, total FROM orders WHERE customer_id = $1 ORDER BY created_at DESC LIMIT 50',
  'SELECT * FROM customers WHERE id = $1',
  "UPDATE print_jobs SET status = 'done', finished_at = now() WHERE id = 77812",
  'SELECT i.id, i.sku FROM inventory_items i JOIN warehouses w ON w.id = i.warehouse_id WHERE w.region = $1',
];

function log(line: string): void {
  process.stderr.write(`[otlp bench] ${line}\n`);
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

type Attrs = Record<string, string | number>;
const kv = (attributes: Attrs) => Object.entries(attributes).map(([key, v]) => ({ key, value: typeof v === 'string' ? { stringValue: v } : { intValue: v } }));

interface Request {
  traceId: Buffer;
  startMs: number;
  durationMs: number;
  route: string;
  method: string;
  status: number;
  responseBytes: number;
}

function requests(count: number, startMs: number, spanMs: number, seed: number): Request[] {
  const out: Request[] = [];
  for (let i = 0; i < count; i++) {
    const n = seed + i;
    out.push({
      traceId: randomBytes(16),
      startMs: startMs + Math.floor((i / count) * spanMs),
      durationMs: Math.round(Math.exp(3 + ((n * 7919) % 1000) / 400) * 100) / 100,
      route: ROUTES[n % ROUTES.length]!,
      method: n % 5 === 0 ? 'POST' : 'GET',
      status: n % 97 === 0 ? 503 : n % 31 === 0 ? 404 : 200,
      responseBytes: 200 + (n % 5000),
    });
  }
  return out;
}

const nanos = (ms: number) => `${BigInt(Math.round(ms * 1000)) * 1000n}`;

function serverSpan(r: Request, n: number) {
  return {
    traceId: r.traceId, spanId: randomBytes(8), name: `${r.method} ${r.route}`, kind: 2,
    startTimeUnixNano: nanos(r.startMs), endTimeUnixNano: nanos(r.startMs + r.durationMs),
    attributes: kv({
      'http.request.method': r.method, 'http.route': r.route, 'http.response.status_code': r.status,
      'url.path': r.route.replace(':id', String(n)), 'url.scheme': 'http', 'server.address': 'orders.internal', 'server.port': 8080,
      'network.protocol.version': '1.1', 'network.peer.address': '10.0.0.12', 'network.peer.port': 51234,
      'user_agent.original': 'Mozilla/5.0 (X11; Linux x86_64)', 'client.address': '10.0.0.12', 'http.response.body.size': r.responseBytes,
    }),
    status: { code: 0 },
  };
}

function dbSpan(r: Request, n: number, k: number) {
  const start = r.startMs + 1 + k;
  return {
    traceId: r.traceId, spanId: randomBytes(8), parentSpanId: randomBytes(8), name: 'pg.query:SELECT orders', kind: 3,
    startTimeUnixNano: nanos(start), endTimeUnixNano: nanos(start + 0.5 + ((n + k) % 7)),
    attributes: kv({
      'db.system.name': 'postgresql', 'db.namespace': 'orders', 'db.query.text': QUERIES[(n + k) % QUERIES.length]!,
      'server.address': 'db.internal', 'server.port': 5432, 'db.user': 'app',
    }),
  };
}

function internalSpan(r: Request, k: number) {
  return {
    traceId: r.traceId, spanId: randomBytes(8), parentSpanId: randomBytes(8), name: `middleware - ${k ? 'jsonParser' : 'query'}`, kind: 1,
    startTimeUnixNano: nanos(r.startMs), endTimeUnixNano: nanos(r.startMs + 0.1),
    attributes: kv({ 'express.name': k ? 'jsonParser' : 'query', 'express.type': 'middleware', 'http.route': '/' }),
  };
}

const RESOURCE = {
  attributes: kv({
    'service.name': 'orders-api', 'service.instance.id': 'b8f2c6c0-7a3d-4f0e-9b1a-1c2d3e4f5a6b', 'telemetry.sdk.language': 'nodejs',
    'telemetry.sdk.name': 'opentelemetry', 'telemetry.sdk.version': '2.12.0', 'process.pid': 4242, 'host.name': 'orders-7f9c',
  }),
};

function traceBody(spans: unknown[]): Buffer {
  const type = otlpTypes().traceRequest;
  const request = { resourceSpans: [{ resource: RESOURCE, scopeSpans: [{ scope: { name: '@opentelemetry/instrumentation-http', version: '0.223.0' }, spans }] }] };
  return Buffer.from(type.encode(type.fromObject(request)).finish());
}

function jsonBody(batch: Request[]): Buffer {
  return Buffer.from(JSON.stringify(batch.map((r) => ({
    timestamp: r.startMs, endpoint: r.route, method: r.method, statusCode: r.status, responseTimeMs: r.durationMs,
    responseSizeBytes: r.responseBytes, requestId: r.traceId.toString('hex'),
  }))));
}

async function truncateAll(pool: Pool): Promise<void> {
  await pool.query(`TRUNCATE api_performance_log, query_performance_log, system_resource_metrics,
    api_rollup_pending, query_rollup_pending, resource_rollup_pending, api_metrics_rollup, query_metrics_rollup,
    query_fingerprints, query_endpoints, resource_metrics_rollup, performance_metrics_cache`);
}

/** Sends every body with `clients` concurrent clients; returns the seconds until the last acknowledgement. */
async function drive(service: ServiceProcess, pathname: string, contentType: string, bodies: Buffer[], tokens: string[], clients: number): Promise<number> {
  let next = 0;
  const started = process.hrtime.bigint();
  await Promise.all(Array.from({ length: clients }, async (_, c) => {
    while (true) {
      const i = next++;
      if (i >= bodies.length) return;
      const response = await fetch(`${service.url}${pathname}`, {
        method: 'POST',
        headers: { 'content-type': contentType, authorization: `Bearer ${tokens[i % tokens.length]}` },
        body: bodies[i],
      });
      const answer = Buffer.from(await response.arrayBuffer());
      if (response.status !== 200) throw new Error(`client ${c}: HTTP ${response.status} ${answer.toString('utf8').slice(0, 300)}`);
      // An OTLP answer with partial_success would mean spans were refused: not a clean run.
      if (contentType === 'application/x-protobuf' && answer.length !== 0) throw new Error(`partial success: ${answer.toString('hex')}`);
    }
  }));
  return Number(process.hrtime.bigint() - started) / 1e9;
}

/**
 * CPU time (this process, all threads) to prepare the bodies: decode, validate, map and
 * encode as COPY text, as a worker thread does. Less sensitive to other work on the
 * machine than throughput, since waiting for a core costs no CPU time.
 */
function preparationCpu(otlpBodies: Buffer[], jsonBodies: Buffer[], items: number, rounds: number): { otlp: number[]; json: number[] } {
  const tenantId = TENANTS[0]!;
  const result = { otlp: [] as number[], json: [] as number[] };
  for (let round = 0; round < rounds; round++) {
    let started = process.cpuUsage();
    for (const body of otlpBodies) {
      prepareTraces({ body, encoding: 'protobuf', contentEncoding: undefined, bodyLimitBytes: 1 << 30, tenantId, nowMs: Date.now(), slowQueryThresholdMs: 1000, samplingRate: 1 });
    }
    let used = process.cpuUsage(started);
    result.otlp.push((used.user + used.system) / items);
    started = process.cpuUsage();
    for (const body of jsonBodies) {
      prepareBatch({ kind: 'api', body, contentType: 'application/json', contentEncoding: undefined, bodyLimitBytes: 1 << 30, tenantId, nowMs: Date.now(), slowQueryThresholdMs: 1000, samplingRate: 1 });
    }
    used = process.cpuUsage(started);
    result.json.push((used.user + used.system) / items);
  }
  return result;
}

async function rows(pool: Pool, table: string): Promise<number> {
  return Number((await pool.query(`SELECT count(*) AS n FROM ${table}`)).rows[0].n);
}

export async function main(argv: string[] = []): Promise<number> {
  const spansArg = argv.indexOf('--spans');
  const total = spansArg >= 0 ? Number(argv[spansArg + 1]) : 300_000;
  const rounds = 3;
  // The SDK's default batch (512 spans) from many application instances at once, and the
  // Collector's larger batches from a few.
  const cases = [{ size: 512, clients: 32 }, { size: 4096, clients: 8 }];
  const loadAtStart = os.loadavg()[0]!;
  const database = await openBenchDatabase('otlp', log);
  const pool = createPool(database.url, { max: 2 });
  try {
    const tokens = await Promise.all(TENANTS.map(async (tenantId) => (await createToken(pool, { tenantId, scopes: ['ingest'] })).token));
    const now = Date.now();
    const span = 10 * 60_000;
    log(`generating ${total} requests`);
    const data = requests(total, now - span, span, 0);
    const serverSpans = data.map((r, n) => serverSpan(r, n));

    const results: Array<{ size: number; clients: number; otlp: number[]; json: number[] }> = [];
    let cpu: { otlp: number[]; json: number[] } | undefined;
    let otlpBytesPerSpan = 0;
    let jsonBytesPerRecord = 0;
    await loadParser();
    const service = await startServiceProcess(database.url, {
      SCHEDULER_ENABLED: 'false', RESOURCE_SAMPLE_INTERVAL_MS: '0', INGEST_BODY_LIMIT_BYTES: String(64 * 1024 * 1024),
    });
    try {
      for (const { size, clients } of cases) {
        const otlpBodies: Buffer[] = [];
        const jsonBodies: Buffer[] = [];
        for (let i = 0; i < total; i += size) {
          otlpBodies.push(traceBody(serverSpans.slice(i, i + size)));
          jsonBodies.push(jsonBody(data.slice(i, i + size)));
        }
        otlpBytesPerSpan = otlpBodies.reduce((sum, b) => sum + b.length, 0) / total;
        jsonBytesPerRecord = jsonBodies.reduce((sum, b) => sum + b.length, 0) / total;
        const result = { size, clients, otlp: [] as number[], json: [] as number[] };
        if (size === 4096) {
          log('CPU time to prepare the bodies');
          cpu = preparationCpu(otlpBodies, jsonBodies, total, 5);
        }
        for (let round = 1; round <= rounds; round++) {
          // Alternate the two paths; each starts on empty tables.
          await truncateAll(pool);
          const otlpSeconds = await drive(service, '/v1/traces', 'application/x-protobuf', otlpBodies, tokens, clients);
          if ((await rows(pool, 'api_performance_log')) !== total) throw new Error('OTLP round did not store every span');
          await truncateAll(pool);
          const jsonSeconds = await drive(service, '/v1/ingest/api-requests', 'application/json', jsonBodies, tokens, clients);
          if ((await rows(pool, 'api_performance_log')) !== total) throw new Error('JSON round did not store every record');
          result.otlp.push(total / otlpSeconds);
          result.json.push(total / jsonSeconds);
          log(`${size} per request, round ${round}: OTLP ${Math.round(total / otlpSeconds)} spans/s, JSON ${Math.round(total / jsonSeconds)} records/s`);
        }
        results.push(result);
      }

      // Whole traces: 5 spans per request, 3 of them stored (1 request row, 2 query rows).
      const traceRequests = Math.floor(total / 5);
      const traceSize = 512;
      const traceBodies: Buffer[] = [];
      for (let i = 0; i < traceRequests; i += traceSize / 5 | 0) {
        const spans: unknown[] = [];
        for (let j = i; j < Math.min(traceRequests, i + (traceSize / 5 | 0)); j++) {
          const r = data[j]!;
          spans.push(internalSpan(r, 0), internalSpan(r, 1), dbSpan(r, j, 0), dbSpan(r, j, 1), serverSpans[j]);
        }
        traceBodies.push(traceBody(spans));
      }
      const traceRates: number[] = [];
      let stored = 0;
      for (let round = 1; round <= rounds; round++) {
        await truncateAll(pool);
        const seconds = await drive(service, '/v1/traces', 'application/x-protobuf', traceBodies, tokens, 32);
        stored = (await rows(pool, 'api_performance_log')) + (await rows(pool, 'query_performance_log'));
        if (stored !== traceRequests * 3) throw new Error(`trace round stored ${stored} rows, expected ${traceRequests * 3}`);
        traceRates.push((traceRequests * 5) / seconds);
        log(`whole traces, round ${round}: ${Math.round((traceRequests * 5) / seconds)} spans/s`);
      }

      const lines = [
        '# OTLP ingest benchmark',
        '',
        `Run ${new Date().toISOString()} on ${os.cpus().length} cores (${os.cpus()[0]?.model ?? 'unknown CPU'}), ` +
          `${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}, PostgreSQL ${database.version}` +
          `${database.embedded ? ' (embedded, default settings)' : ''}.`,
        '',
        `Load average (1 min) at the start and the end of the run: ${loadAtStart.toFixed(2)} and ${os.loadavg()[0]!.toFixed(2)}; ` +
          'anything above 0 is other work sharing the two cores.',
        '',
        '## Server spans: OTLP protobuf against the JSON endpoint, side by side',
        '',
        `${total} HTTP server spans as the OpenTelemetry Node SDK exports them (13 attributes each, 3 of them mapped; 7 resource attributes), ` +
          `sent to POST /v1/traces as protobuf, and the same ${total} requests as JSON records to POST /v1/ingest/api-requests. ` +
          'Every body is built before the clock starts; a request counts only when its 200 (sent after commit) arrives. ' +
          `One service process for the whole run; the two paths alternate, each round on emptied tables; ${rounds} rounds, medians. ` +
          'The SDK exports at most 512 spans per request by default, so that case has 32 concurrent clients, as from many application instances; ' +
          'the Collector\'s batch processor sends larger requests from fewer clients.',
        '',
        '| spans or records per request | clients | OTLP spans/s per round | OTLP median | JSON records/s per round | JSON median | OTLP / JSON |',
        '|---|---|---|---|---|---|---|',
        ...results.map((r) => `| ${r.size} | ${r.clients} | ${r.otlp.map(Math.round).join(', ')} | **${Math.round(median(r.otlp))}** | ` +
          `${r.json.map(Math.round).join(', ')} | ${Math.round(median(r.json))} | **${(median(r.otlp) / median(r.json)).toFixed(2)}** |`),
        '',
        'Target: OTLP protobuf ingest ≥ 50 000 spans/s, acknowledged after commit.',
        '',
        '## CPU time to prepare a request',
        '',
        `The same bodies (4096 per request), prepared in the benchmark's own process as a worker thread prepares them: decoded, validated, ` +
          'mapped and encoded as COPY text (for OTLP also the span-to-record mapping; for JSON the parse). CPU time of the process, ' +
          'so waiting for a core does not count; 5 alternating rounds, medians.',
        '',
        '| path | microseconds of CPU per span or record, per round | median |',
        '|---|---|---|',
        `| OTLP protobuf (prepareTraces) | ${cpu!.otlp.map((v) => v.toFixed(2)).join(', ')} | **${median(cpu!.otlp).toFixed(2)}** |`,
        `| JSON (prepareBatch) | ${cpu!.json.map((v) => v.toFixed(2)).join(', ')} | **${median(cpu!.json).toFixed(2)}** |`,
        '',
        `OTLP / JSON: **${(median(cpu!.otlp) / median(cpu!.json)).toFixed(2)}**. An OTLP span as the SDK sends it is ` +
          `${Math.round(otlpBytesPerSpan)} bytes of protobuf; the JSON record of the same request ${Math.round(jsonBytesPerRecord)} bytes.`,
        '',
        '## Whole traces',
        '',
        `${traceRequests} requests as traces of 5 spans each (the server span, two PostgreSQL query spans, two internal middleware spans), ` +
          `${traceSize / 5 | 0} traces per request, 32 concurrent clients; 3 of the 5 spans become rows (${traceRequests * 3} rows a round), the internal spans are dropped.`,
        '',
        `Spans/s per round: ${traceRates.map(Math.round).join(', ')}. Median **${Math.round(median(traceRates))} spans/s** ` +
          `(${Math.round(median(traceRates) * 3 / 5)} rows/s).`,
        '',
      ];
      writeReport(REPORT, lines, log);
    } finally {
      await service.stop();
    }
    return 0;
  } finally {
    await pool.end();
    await database.close();
  }
}

