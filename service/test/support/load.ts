// Sustained ingest for the fault tests: several concurrent senders per record kind post
// batches with unique ids until stopped, and keep every answer. "Acknowledged" means a
// 200 arrived; storedOf() then checks that each acknowledged id is in its table.
import { createHash } from 'node:crypto';
import type { Pool } from '../../src/db/pool';
import { otlpTypes } from '../../src/otlp/schema';
import { apiRecord, post, queryRecord, resourceRecord } from './service';

export type IngestKind = 'api' | 'query' | 'resource';
export const INGEST_KINDS: readonly IngestKind[] = ['api', 'query', 'resource'];

export const INGEST_PATHS: Record<IngestKind, string> = {
  api: '/v1/ingest/api-requests',
  query: '/v1/ingest/queries',
  resource: '/v1/ingest/resources',
};

/** Where each kind keeps the id the senders give it (resources have no request id). */
const ID_COLUMN: Record<IngestKind, { table: string; column: string }> = {
  api: { table: 'api_performance_log', column: 'request_id' },
  query: { table: 'query_performance_log', column: 'request_id' },
  resource: { table: 'system_resource_metrics', column: 'source' },
};

export function recordWithId(kind: IngestKind, id: string): Record<string, unknown> {
  if (kind === 'api') return apiRecord({ requestId: id });
  if (kind === 'query') return queryRecord({ requestId: id, query: `SELECT * FROM orders WHERE id = ${id.length}` });
  return resourceRecord({ source: id });
}

const nanos = (ms: number) => (BigInt(Math.round(ms)) * 1_000_000n).toString();
const stringAttribute = (key: string, value: string) => ({ key, value: { stringValue: value } });
const intAttribute = (key: string, value: number) => ({ key, value: { intValue: value } });

/** One OTLP/HTTP protobuf export of `ids`; the answer as post() gives it (error code from a JSON body, else the gRPC code). */
async function postOtlp(baseUrl: string, token: string, kind: IngestKind, ids: string[]): Promise<{ status: number; body: any; headers: Headers }> {
  const now = Date.now();
  let path: string;
  let body: Uint8Array;
  if (kind === 'resource') {
    const type = otlpTypes().metricsRequest;
    const point = (value: number) => ({ timeUnixNano: nanos(now), asDouble: value });
    path = '/v1/metrics';
    body = type.encode(type.fromObject({
      resourceMetrics: ids.map((id) => ({
        resource: { attributes: [stringAttribute('service.name', id)] },
        scopeMetrics: [{ metrics: [
          { name: 'process.cpu.utilization', gauge: { dataPoints: [point(0.35)] } },
          { name: 'process.memory.usage', sum: { dataPoints: [point(900 * 1024 * 1024)] } },
        ] }],
      })),
    })).finish();
  } else {
    const type = otlpTypes().traceRequest;
    path = '/v1/traces';
    const spans = ids.map((id) => ({
      traceId: Buffer.from(id, 'hex'), spanId: Buffer.alloc(8, 1), kind: kind === 'api' ? 2 : 3, name: kind,
      startTimeUnixNano: nanos(now - 20), endTimeUnixNano: nanos(now - 8),
      attributes: kind === 'api'
        ? [stringAttribute('http.request.method', 'GET'), stringAttribute('http.route', '/api/orders'), intAttribute('http.response.status_code', 200)]
        : [stringAttribute('db.system.name', 'postgresql'), stringAttribute('db.query.text', `SELECT * FROM orders WHERE id = ${id.length}`)],
    }));
    body = type.encode(type.fromObject({ resourceSpans: [{ scopeSpans: [{ spans }] }] })).finish();
  }
  const response = await fetch(baseUrl + path, {
    method: 'POST', headers: { 'content-type': 'application/x-protobuf', authorization: `Bearer ${token}` }, body,
  });
  const bytes = Buffer.from(await response.arrayBuffer());
  let parsed: any = {};
  if (!response.ok) {
    if ((response.headers.get('content-type') ?? '').startsWith('application/json')) parsed = JSON.parse(bytes.toString('utf8'));
    else parsed = { error: { code: `grpc-${otlpTypes().status.decode(bytes).toJSON().code}` } };
  }
  return { status: response.status, body: parsed, headers: response.headers };
}

export interface Answer {
  kind: IngestKind;
  /** 0 when the connection failed (refused or reset) before an answer. */
  status: number;
  code: string | undefined;
  retryAfter: string | null;
}

export interface SustainedIngestOptions {
  /** Prefix of every id, so several runs in one database stay apart. */
  label: string;
  sendersPerKind?: number;
  recordsPerBatch?: number;
  /** Pause between a sender's posts (ms). */
  pauseMs?: number;
  /** Stop a sender at its first connection failure (the server is gone for good). */
  stopOnConnectionFailure?: boolean;
  /**
   * 'otlp': send each batch as an OTLP/HTTP protobuf export instead (server spans, PostgreSQL
   * spans, process metrics), with trace ids (and service names) as the ids.
   */
  transport?: 'json' | 'otlp';
}

export class SustainedIngest {
  readonly acknowledged: Record<IngestKind, string[]> = { api: [], query: [], resource: [] };
  readonly answers: Answer[] = [];
  private running = false;
  private senders: Promise<void>[] = [];
  private next = 0;

  constructor(
    private readonly baseUrl: string,
    private readonly token: string,
    private readonly options: SustainedIngestOptions,
  ) {}

  start(): this {
    this.running = true;
    const perKind = this.options.sendersPerKind ?? 2;
    for (const kind of INGEST_KINDS) {
      for (let i = 0; i < perKind; i++) this.senders.push(this.sender(kind));
    }
    return this;
  }

  private async sender(kind: IngestKind): Promise<void> {
    const size = this.options.recordsPerBatch ?? 25;
    const otlp = this.options.transport === 'otlp';
    const prefix = createHash('sha256').update(this.options.label).digest('hex').slice(0, 8);
    while (this.running) {
      const ids = Array.from({ length: size }, () => (otlp && kind !== 'resource'
        ? `${prefix}${INGEST_KINDS.indexOf(kind)}${(this.next++).toString(16).padStart(23, '0')}`
        : `${this.options.label}-${kind}-${this.next++}`));
      const answer = await (otlp ? postOtlp(this.baseUrl, this.token, kind, ids) : post(this.baseUrl + INGEST_PATHS[kind], this.token, ids.map((id) => recordWithId(kind, id)))).then(
        (res) => ({ kind, status: res.status, code: res.body?.error?.code as string | undefined, retryAfter: res.headers.get('retry-after') }),
        () => ({ kind, status: 0, code: undefined, retryAfter: null }),
      );
      this.answers.push(answer);
      if (answer.status === 200) this.acknowledged[kind].push(...ids);
      if (answer.status === 0 && this.options.stopOnConnectionFailure) return;
      await new Promise((resolve) => setTimeout(resolve, answer.status === 200 ? (this.options.pauseMs ?? 2) : 20));
    }
  }

  /** Answers with this status from the index `since` on. */
  count(status: number, since = 0): number {
    return this.answers.slice(since).filter((a) => a.status === status).length;
  }

  get acknowledgedRecords(): number {
    return INGEST_KINDS.reduce((sum, kind) => sum + this.acknowledged[kind].length, 0);
  }

  /** Waits until the condition holds or the time is up; returns whether it held. */
  async until(condition: () => boolean, timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (!condition()) {
      if (Date.now() > deadline) return false;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    return true;
  }

  async stop(): Promise<void> {
    this.running = false;
    await Promise.all(this.senders);
  }
}

/** For each kind: how many of the acknowledged ids are stored (distinct). */
export async function storedOf(pool: Pool, acknowledged: Record<IngestKind, string[]>): Promise<Record<IngestKind, number>> {
  const stored = { api: 0, query: 0, resource: 0 };
  for (const kind of INGEST_KINDS) {
    const { table, column } = ID_COLUMN[kind];
    const result = await pool.query(`SELECT count(DISTINCT ${column})::int AS n FROM ${table} WHERE ${column} = ANY($1::text[])`, [acknowledged[kind]]);
    stored[kind] = result.rows[0].n;
  }
  return stored;
}

export function countsOf(acknowledged: Record<IngestKind, string[]>): Record<IngestKind, number> {
  return { api: acknowledged.api.length, query: acknowledged.query.length, resource: acknowledged.resource.length };
}
