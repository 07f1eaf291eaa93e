// Sends demo traffic as an OpenTelemetry-instrumented application would: each request a
// trace (an HTTP server span and one PostgreSQL client span per query), each resource
// sample a metrics export, over OTLP/HTTP with protobuf bodies. The live part of the
// demo goes this way, so every first run exercises the OTLP receiver (src/otlp/).
import { createHash, randomBytes } from 'node:crypto';
import { otlpTypes } from '../otlp/schema';
import type { SenderOptions } from './sender';
import type { DemoRecords } from './traffic';

const SERVICE_NAME = 'erp-backend';
const BATCH_REQUESTS = 500;
const MB = 1024 * 1024;

type Attrs = Record<string, string | number>;

function keyValues(attributes: Attrs) {
  return Object.entries(attributes).map(([key, value]) => ({
    key,
    value: typeof value === 'string' ? { stringValue: value } : Number.isInteger(value) ? { intValue: value } : { doubleValue: value },
  }));
}

function nanos(ms: number): string {
  return (BigInt(Math.round(ms * 1000)) * 1000n).toString();
}

function msOf(timestamp: unknown): number {
  return typeof timestamp === 'number' ? timestamp : Date.parse(String(timestamp));
}

/** The demo's request id as a trace id: 16 bytes derived from it. */
function traceIdOf(requestId: string): Buffer {
  return createHash('sha256').update(requestId).digest().subarray(0, 16);
}

async function post(options: SenderOptions, path: string, body: Uint8Array): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    const response = await fetch(options.url.replace(/\/$/, '') + path, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-protobuf',
        authorization: `Bearer ${options.token}`,
        ...(options.tenantId ? { 'x-tenant-id': options.tenantId } : {}),
      },
      body: new Uint8Array(body),
    });
    const answer = Buffer.from(await response.arrayBuffer());
    if (response.ok) return;
    const retryAfter = Number(response.headers.get('retry-after'));
    if ((response.status === 429 || response.status === 503) && attempt < 10) {
      await new Promise((r) => setTimeout(r, (Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter : 1) * 1000));
      continue;
    }
    let message = answer.toString('utf8');
    try {
      message = String(otlpTypes().status.decode(answer).toJSON().message ?? message);
    } catch {
      // not a Status message
    }
    throw new Error(`${path} answered ${response.status}: ${message.slice(0, 300)}`);
  }
}

/** Sends the records over OTLP; resolves to the number of rows they make. */
export async function sendOverOtlp(options: SenderOptions, records: DemoRecords): Promise<number> {
  const queriesByRequest = new Map<string, Record<string, unknown>[]>();
  for (const q of records.query) {
    const list = queriesByRequest.get(String(q.requestId)) ?? [];
    list.push(q);
    queriesByRequest.set(String(q.requestId), list);
  }
  const traceType = otlpTypes().traceRequest;
  const resource = { attributes: keyValues({ 'service.name': SERVICE_NAME, 'telemetry.sdk.language': 'nodejs' }) };
  let sent = 0;
  for (let i = 0; i < records.api.length; i += BATCH_REQUESTS) {
    const spans: unknown[] = [];
    for (const request of records.api.slice(i, i + BATCH_REQUESTS)) {
      const traceId = traceIdOf(String(request.requestId));
      const serverSpanId = randomBytes(8);
      const startMs = msOf(request.timestamp);
      for (const q of queriesByRequest.get(String(request.requestId)) ?? []) {
        const queryStart = msOf(q.timestamp);
        spans.push({
          traceId, spanId: randomBytes(8), parentSpanId: serverSpanId, kind: 3, name: 'pg.query',
          startTimeUnixNano: nanos(queryStart), endTimeUnixNano: nanos(queryStart + Number(q.executionTimeMs)),
          attributes: keyValues({ 'db.system.name': 'postgresql', 'db.query.text': String(q.query), 'db.response.returned_rows': Number(q.rows) }),
        });
        sent++;
      }
      const attributes: Attrs = {
        'http.request.method': String(request.method), 'http.route': String(request.endpoint), 'http.response.status_code': Number(request.statusCode),
      };
      if (request.responseSizeBytes !== undefined) attributes['http.response.body.size'] = Number(request.responseSizeBytes);
      spans.push({
        traceId, spanId: serverSpanId, kind: 2, name: `${request.method} ${request.endpoint}`,
        startTimeUnixNano: nanos(startMs), endTimeUnixNano: nanos(startMs + Number(request.responseTimeMs)), attributes: keyValues(attributes),
      });
      sent++;
    }
    const body = { resourceSpans: [{ resource, scopeSpans: [{ scope: { name: 'agog-perf demo' }, spans }] }] };
    await post(options, '/v1/traces', traceType.encode(traceType.fromObject(body)).finish());
  }
  if (records.resource.length) {
    const metricsType = otlpTypes().metricsRequest;
    const resourceMetrics = records.resource.map((sample) => {
      const point = (value: number, attributes: Attrs = {}) => ({ timeUnixNano: nanos(msOf(sample.timestamp)), asDouble: value, attributes: keyValues(attributes) });
      const metrics = [
        { name: 'process.cpu.utilization', unit: '1', gauge: { dataPoints: [point(Number(sample.cpuUsagePercent) / 100)] } },
        { name: 'process.memory.usage', unit: 'By', sum: { dataPoints: [point(Number(sample.memoryUsedMb) * MB)] } },
        { name: 'db.client.connection.count', unit: '{connection}', sum: { dataPoints: [point(Number(sample.activeConnections), { 'db.client.connection.state': 'used' })] } },
      ];
      if (sample.memoryTotalMb !== undefined) metrics.push({ name: 'system.memory.limit', unit: 'By', sum: { dataPoints: [point(Number(sample.memoryTotalMb) * MB)] } });
      if (sample.poolMax !== undefined) metrics.push({ name: 'db.client.connection.max', unit: '{connection}', sum: { dataPoints: [point(Number(sample.poolMax))] } });
      return {
        resource: { attributes: keyValues({ 'service.name': SERVICE_NAME, 'service.instance.id': String(sample.source ?? 'app') }) },
        scopeMetrics: [{ scope: { name: 'agog-perf demo' }, metrics }],
      };
    });
    await post(options, '/v1/metrics', metricsType.encode(metricsType.fromObject({ resourceMetrics })).finish());
    sent += records.resource.length;
  }
  return sent;
}
