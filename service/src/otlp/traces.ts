// Spans → rows. A server span is one api_performance_log row; a PostgreSQL client span
// with query text is one query_performance_log row. Both become the same records the
// JSON endpoints take and go through the same validation, redaction and COPY encoding
// (src/ingest/records.ts), so a span is stored exactly as the equivalent JSON record.
// Both the stable semantic conventions and the older attribute names are read, since
// SDKs in the field emit either. Every other span, and every attribute not listed in
// TRACE_ATTRIBUTES, is dropped.
import { ApiError } from '../http/errors';
import { BatchTexts, encodeRecord, type FieldError, type RecordKind } from '../ingest/records';
import type { OtlpSpan } from './decode';

const SERVER = 2;
const CLIENT = 3;

const ROUTE = ['http.route'];
const METHOD = ['http.request.method', 'http.method'];
const STATUS = ['http.response.status_code', 'http.status_code'];
const REQUEST_SIZE = ['http.request.body.size', 'http.request_content_length'];
const RESPONSE_SIZE = ['http.response.body.size', 'http.response_content_length'];
const GRAPHQL_NAME = ['graphql.operation.name'];
const GRAPHQL_TYPE = ['graphql.operation.type'];
const DB_SYSTEM = ['db.system.name', 'db.system'];
const DB_TEXT = ['db.query.text', 'db.statement'];
const DB_ROWS = ['db.response.returned_rows'];

/** The only attributes read from a span or its resource; the decoder skips all others. */
export const TRACE_ATTRIBUTES: ReadonlySet<string> = new Set([
  ...ROUTE, ...METHOD, ...STATUS, ...REQUEST_SIZE, ...RESPONSE_SIZE, ...GRAPHQL_NAME, ...GRAPHQL_TYPE, ...DB_SYSTEM, ...DB_TEXT, ...DB_ROWS,
]);

const KNOWN_METHODS = new Set(['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS', 'TRACE', 'CONNECT']);
const MAX_ERRORS_LISTED = 100;

/**
 * The endpoint of recent server spans by tenant and trace id, so that database spans
 * exported in a later request than their server span still get its endpoint. Bounded:
 * the oldest entries go first. A database span exported before its server span keeps
 * no endpoint (acknowledgements are never held back to wait for it).
 */
export class TraceEndpoints {
  // Two generations: when the newer one is full, it becomes the older one and the older
  // is dropped. O(1) per span (evicting the oldest entry of one Map one by one is not:
  // V8 walks the deleted slots at the front of a Map's iteration order).
  private newer = new Map<string, string>();
  private older = new Map<string, string>();
  constructor(private readonly maxEntriesPerGeneration = 50_000) {}

  get(tenantId: string, traceId: string): string | undefined {
    const key = `${tenantId}/${traceId}`;
    return this.newer.get(key) ?? this.older.get(key);
  }

  set(tenantId: string, traceId: string, endpoint: string): void {
    if (this.newer.size >= this.maxEntriesPerGeneration) {
      this.older = this.newer;
      this.newer = new Map();
    }
    this.newer.set(`${tenantId}/${traceId}`, endpoint);
  }
}

export interface MapContext {
  tenantId: string;
  limits: { minTimeMs: number; maxTimeMs: number };
  slowQueryThresholdMs: number;
  samplingRate: number;
}

/**
 * What one export request's spans become. Pure data (structured-clonable), so a worker
 * thread can make it; linkAcrossRequests() then finishes it on the main thread.
 */
export interface MappedSpans {
  /** COPY text per table. */
  lines: Record<RecordKind, string>;
  kept: Record<RecordKind, number>;
  sampledOut: Record<RecordKind, number>;
  /** Spans refused one by one (reported in partial_success), with the reasons. */
  rejected: number;
  rejectedReasons: string[];
  received: number;
  /** Trace id → endpoint of this request's server spans. */
  links: Array<[string, string]>;
  /**
   * Kept query spans whose server span is not in this request: their line (no endpoint,
   * not in lines.query) and their record, to encode again if an earlier request's
   * server span gives them an endpoint.
   */
  unlinked: Array<{ traceId: string; line: string; record: Record<string, unknown> }>;
}

/** The first of `keys` the span carries with a non-empty value. */
function firstKey(attributes: Map<string, unknown>, keys: string[]): string | undefined {
  for (const key of keys) {
    const value = attributes.get(key);
    if (value !== undefined && value !== '') return key;
  }
  return undefined;
}

function attributeField(key: string): string {
  return `attributes["${key}"]`;
}

/** An integer attribute that some SDKs send as a string. */
function integer(value: unknown): unknown {
  return typeof value === 'string' && /^\d{1,10}$/.test(value) ? Number(value) : value;
}

/**
 * Whether a trace is kept under PERFORMANCE_SAMPLING_RATE: decided by its trace id, so
 * a request and its queries are kept or dropped together, in every export request.
 */
function traceKept(traceId: string, rate: number): boolean {
  if (rate >= 1) return true;
  if (!traceId) return Math.random() < rate;
  return parseInt(traceId.slice(-8), 16) / 4294967296 < rate;
}

interface Candidate {
  kind: RecordKind;
  record: Record<string, unknown>;
  span: OtlpSpan;
  /** The attribute each record field came from (or 'name'), for error messages. */
  keys: Partial<Record<string, string>>;
}

/** The OTLP field a record field came from. */
function sourceOf(candidate: Candidate, field: string): string {
  const key = candidate.keys[field];
  if (key !== undefined) return key === 'name' ? 'name' : attributeField(key);
  switch (field) {
    case 'timestamp': return 'startTimeUnixNano';
    case 'responseTimeMs': case 'executionTimeMs': return 'endTimeUnixNano';
    case 'requestId': return 'traceId';
    case 'endpoint': return 'the endpoint of its server span';
    default: return field;
  }
}

export function mapSpans(spans: OtlpSpan[], ctx: MapContext): MappedSpans {
  const candidates: Candidate[] = [];
  const rejectedReasons = new Map<string, number>();
  const reject = (reason: string) => rejectedReasons.set(reason, (rejectedReasons.get(reason) ?? 0) + 1);
  const errors: Array<{ field: string; reason: string }> = [];
  const batchEndpoints = new Map<string, string>();

  for (const span of spans) {
    const attributes = span.attributes;
    if (span.kind === SERVER) {
      const methodKey = firstKey(attributes, METHOD);
      const statusKey = firstKey(attributes, STATUS);
      if (!methodKey || !statusKey) {
        reject('server spans without an HTTP method and status code (only HTTP server spans become requests)');
        continue;
      }
      const method = String(attributes.get(methodKey));
      const upper = method.toUpperCase();
      if (!KNOWN_METHODS.has(upper)) {
        reject(`server spans with a method that is not a standard HTTP method (e.g. "${method.slice(0, 20)}")`);
        continue;
      }
      let endpoint: string;
      let endpointKey: string;
      const routeKey = firstKey(attributes, ROUTE);
      const graphqlKey = routeKey ? undefined : firstKey(attributes, GRAPHQL_NAME);
      if (routeKey) {
        endpoint = String(attributes.get(routeKey));
        endpointKey = routeKey;
      } else if (graphqlKey) {
        const typeKey = firstKey(attributes, GRAPHQL_TYPE);
        const name = String(attributes.get(graphqlKey));
        endpoint = typeKey ? `${String(attributes.get(typeKey))} ${name}` : name;
        endpointKey = graphqlKey;
      } else {
        endpoint = span.name;
        endpointKey = 'name';
      }
      const requestSizeKey = firstKey(attributes, REQUEST_SIZE);
      const responseSizeKey = firstKey(attributes, RESPONSE_SIZE);
      const record: Record<string, unknown> = {
        timestamp: span.startMs, endpoint, method: upper, statusCode: integer(attributes.get(statusKey)), responseTimeMs: span.durationMs,
        requestSizeBytes: requestSizeKey ? integer(attributes.get(requestSizeKey)) : undefined,
        responseSizeBytes: responseSizeKey ? integer(attributes.get(responseSizeKey)) : undefined,
        requestId: span.traceId || undefined,
      };
      if (span.traceId && endpoint.length <= 500) batchEndpoints.set(span.traceId, endpoint);
      candidates.push({
        kind: 'api', record, span,
        keys: { method: methodKey, statusCode: statusKey, endpoint: endpointKey, requestSizeBytes: requestSizeKey, responseSizeBytes: responseSizeKey },
      });
    } else if (span.kind === CLIENT) {
      const systemKey = firstKey(attributes, DB_SYSTEM);
      if (!systemKey || String(attributes.get(systemKey)).toLowerCase() !== 'postgresql') continue;
      const textKey = firstKey(attributes, DB_TEXT);
      // Connect spans and the like carry no query text: they are not queries.
      if (!textKey) continue;
      const rowsKey = firstKey(attributes, DB_ROWS);
      const record: Record<string, unknown> = {
        timestamp: span.startMs, query: attributes.get(textKey), executionTimeMs: span.durationMs,
        rows: rowsKey ? integer(attributes.get(rowsKey)) : undefined, requestId: span.traceId || undefined,
      };
      candidates.push({ kind: 'query', record, span, keys: { query: textKey, rows: rowsKey } });
    }
  }

  const lines: Record<RecordKind, string[]> = { api: [], query: [], resource: [] };
  const kept: Record<RecordKind, number> = { api: 0, query: 0, resource: 0 };
  const sampledOut: Record<RecordKind, number> = { api: 0, query: 0, resource: 0 };
  const texts = new BatchTexts();
  const encodeCtx = { tenantId: ctx.tenantId, limits: ctx.limits, slowQueryThresholdMs: ctx.slowQueryThresholdMs };
  const fieldErrors: FieldError[] = [];
  const unlinked: MappedSpans['unlinked'] = [];
  for (let i = 0; i < candidates.length; i++) {
    const candidate = candidates[i]!;
    const { kind, record, span } = candidate;
    if (span.durationMs < 0) {
      errors.push({ field: `${span.path}.endTimeUnixNano`, reason: 'is before startTimeUnixNano' });
      continue;
    }
    const endpoint = kind === 'query' && span.traceId ? batchEndpoints.get(span.traceId) : undefined;
    if (endpoint !== undefined) record.endpoint = endpoint;
    const before = fieldErrors.length;
    const encoded = encodeRecord(kind, record, i, encodeCtx, fieldErrors);
    for (let e = before; e < fieldErrors.length; e++) {
      const error = fieldErrors[e]!;
      errors.push({ field: `${span.path}.${sourceOf(candidate, error.field)}`, reason: error.reason });
    }
    if (!encoded || errors.length) continue;
    if (!encoded.alwaysKeep && !traceKept(span.traceId, ctx.samplingRate)) {
      sampledOut[kind]++;
      continue;
    }
    kept[kind]++;
    if (kind === 'query' && span.traceId && endpoint === undefined) {
      unlinked.push({ traceId: span.traceId, line: texts.line(encoded), record });
      continue;
    }
    lines[kind].push(texts.line(encoded));
  }
  if (errors.length) {
    throw new ApiError(400, 'invalid_spans',
      `${errors.length} problem${errors.length === 1 ? '' : 's'} in the spans; nothing was stored (first: ${errors[0]!.field} ${errors[0]!.reason})`,
      { errors: errors.slice(0, MAX_ERRORS_LISTED), errorCount: errors.length, received: spans.length });
  }
  let rejected = 0;
  for (const count of rejectedReasons.values()) rejected += count;
  return {
    lines: { api: lines.api.join(''), query: lines.query.join(''), resource: '' },
    kept, sampledOut, rejected,
    rejectedReasons: [...rejectedReasons].map(([reason, count]) => `${count} ${reason}`),
    received: spans.length,
    links: [...batchEndpoints],
    unlinked,
  };
}

/**
 * Finishes a mapped request on the main thread, which holds the links of earlier
 * requests: remembers this request's server spans, gives an endpoint to the query spans
 * whose server span came earlier, and returns the query COPY text.
 */
export function linkAcrossRequests(mapped: MappedSpans, tenantId: string, slowQueryThresholdMs: number, endpoints: TraceEndpoints): string {
  for (const [traceId, endpoint] of mapped.links) endpoints.set(tenantId, traceId, endpoint);
  if (mapped.unlinked.length === 0) return mapped.lines.query;
  const pieces = [mapped.lines.query];
  // A line encoded again carries its fingerprint's text itself (a fresh BatchTexts).
  const texts = new BatchTexts();
  const ctx = { tenantId, limits: { minTimeMs: -Infinity, maxTimeMs: Infinity }, slowQueryThresholdMs };
  for (const { traceId, line, record } of mapped.unlinked) {
    const endpoint = endpoints.get(tenantId, traceId);
    if (endpoint === undefined) {
      pieces.push(line);
      continue;
    }
    const errors: FieldError[] = [];
    const encoded = encodeRecord('query', { ...record, endpoint }, 0, ctx, errors);
    pieces.push(encoded && errors.length === 0 ? texts.line(encoded) : line);
  }
  return pieces.join('');
}
