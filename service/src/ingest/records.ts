// Validation of ingest records, and their encoding as lines of PostgreSQL's COPY text
// format. Hand-written checks (not a schema library): this runs for every record, at the
// rates of bench/reports/ingest.md ("Sustained ingest"). The column order of each encoder must match the column lists
// in src/db/ingestCopy.ts.
import { fingerprintQuery } from './fingerprint';

export type RecordKind = 'api' | 'query' | 'resource';

export interface FieldError {
  index: number;
  field: string;
  reason: string;
}

export interface ValidationLimits {
  /** Oldest accepted timestamp, epoch ms. */
  minTimeMs: number;
  /** Newest accepted timestamp, epoch ms. */
  maxTimeMs: number;
}

export const MAX_DURATION_MS = 86_400_000; // one day
export const MAX_QUERY_CHARS = 100_000;
const MAX_SIZE_BYTES = 2 ** 31 - 1;
/**
 * PostgreSQL's real (4-byte float) columns: a nonzero value below the smallest normal
 * float4 underflows (PostgreSQL refuses the COPY, or the rollups cannot keep it), and
 * one beyond the largest overflows. JSON accepts both, so the check is here.
 */
export const REAL_MIN_NORMAL = 1.1754943508222875e-38;
export const REAL_MAX = 3.4028234663852886e38;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const METHODS = new Set(['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS', 'TRACE', 'CONNECT']);

/** A record that passed validation, ready for COPY. */
export interface EncodedRecord {
  /** The COPY line. A fast query's line leaves query_preview NULL (ends in "\\N\n"). */
  line: string;
  /** Slow query or server error: never sampled away. */
  alwaysKeep: boolean;
  /** Query records: the fingerprint, as its decimal query_hash. */
  fingerprint?: string;
  /** Fast query records: the COPY-escaped text their line leaves out (BatchTexts puts it back once). */
  text?: string;
}

/**
 * Queries at or above this many milliseconds keep their text on the row whatever
 * SLOW_QUERY_THRESHOLD_MS says: the runbook's "Top 10 Slow Queries" reads the raw log's
 * query_preview for execution_time_ms > 1000.
 */
export const RUNBOOK_SLOW_QUERY_MS = 1000;

/**
 * Where the normalized query text goes (migrations/V0.0.41__baseline.sql): on slow rows, and on the first kept
 * row of each fingerprint of one batch; other rows leave query_preview NULL, and the
 * rows' rollup deltas hand the text to query_fingerprints (src/ingest/rollupDeltas.ts). One instance per batch (one
 * COPY's worth of one tenant's records); every batch then carries the text of every
 * fingerprint it contains.
 */
export class BatchTexts {
  private readonly carried = new Set<string>();

  /** The line to write for a kept record. */
  line(encoded: EncodedRecord): string {
    const fingerprint = encoded.fingerprint;
    if (fingerprint === undefined || this.carried.has(fingerprint)) return encoded.line;
    this.carried.add(fingerprint);
    return encoded.text === undefined ? encoded.line : `${encoded.line.slice(0, -3)}${encoded.text}\n`;
  }
}

/** COPY text format: backslash, tab, newline and carriage return escaped; NUL removed. */
export function copyText(value: string): string {
  let out = value;
  if (out.includes('\u0000')) out = out.replace(/\u0000/g, '');
  if (/[\\\t\n\r]/.test(out)) {
    out = out.replace(/\\/g, '\\\\').replace(/\t/g, '\\t').replace(/\n/g, '\\n').replace(/\r/g, '\\r');
  }
  return out;
}

const NULL = '\\N';

/**
 * Whether the YYYY-MM-DD the text starts with is a real day. Date.parse rolls 2026-02-30
 * over to March 2, but PostgreSQL refuses it, and one such record would fail a whole
 * group commit.
 */
function dayExists(value: string): boolean {
  const day = (value.charCodeAt(8) - 48) * 10 + (value.charCodeAt(9) - 48);
  if (day <= 28) return true;
  const year = Number(value.slice(0, 4));
  const month = Number(value.slice(5, 7));
  return day <= new Date(Date.UTC(year, month, 0)).getUTCDate();
}

const CANONICAL_ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,6})?Z$/;

class RecordChecker {
  constructor(
    readonly index: number,
    readonly record: Record<string, unknown>,
    readonly errors: FieldError[],
  ) {}

  fail(field: string, reason: string): undefined {
    this.errors.push({ index: this.index, field, reason });
    return undefined;
  }

  timestamp(field: string, limits: ValidationLimits): string | undefined {
    const value = this.record[field];
    let ms: number;
    if (typeof value === 'number') {
      if (!Number.isFinite(value)) return this.fail(field, 'must be a finite number of epoch milliseconds');
      ms = value;
    } else if (typeof value === 'string') {
      if (CANONICAL_ISO.test(value)) {
        // Fast path: already UTC with a Z; Date.parse and dayExists check it is a real date.
        ms = Date.parse(value);
        if (Number.isNaN(ms) || !dayExists(value)) return this.fail(field, `is not a valid ISO 8601 date-time: "${value}"`);
        if (ms < limits.minTimeMs) return this.fail(field, `is older than the accepted window (${new Date(limits.minTimeMs).toISOString()})`);
        if (ms > limits.maxTimeMs) return this.fail(field, `is too far in the future (after ${new Date(limits.maxTimeMs).toISOString()})`);
        return value;
      }
      if (value.length > 64 || !/^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}/.test(value)) {
        return this.fail(field, 'must be an ISO 8601 date-time (e.g. 2026-11-29T14:00:00Z) or epoch milliseconds');
      }
      ms = Date.parse(value);
      if (Number.isNaN(ms) || !dayExists(value)) return this.fail(field, `is not a valid ISO 8601 date-time: "${value.slice(0, 40)}"`);
    } else if (value === undefined || value === null) {
      return this.fail(field, 'is required');
    } else {
      return this.fail(field, 'must be an ISO 8601 string or epoch milliseconds');
    }
    if (ms < limits.minTimeMs) return this.fail(field, `is older than the accepted window (${new Date(limits.minTimeMs).toISOString()})`);
    if (ms > limits.maxTimeMs) return this.fail(field, `is too far in the future (after ${new Date(limits.maxTimeMs).toISOString()})`);
    return new Date(ms).toISOString();
  }

  number(field: string, { min, max, required, integer, real }: { min: number; max: number; required: boolean; integer?: boolean; real?: boolean }): number | undefined | null {
    const value = this.record[field];
    if (value === undefined || value === null) {
      if (required) return this.fail(field, 'is required');
      return null;
    }
    if (typeof value !== 'number' || !Number.isFinite(value)) return this.fail(field, 'must be a finite number');
    if (integer && !Number.isInteger(value)) return this.fail(field, 'must be an integer');
    if (value < min || value > max) return this.fail(field, `must be between ${min} and ${max}`);
    if (real && value !== 0) {
      const magnitude = Math.abs(value);
      if (magnitude < REAL_MIN_NORMAL) return this.fail(field, `is too small for a 4-byte real column (nonzero values must be at least ${REAL_MIN_NORMAL}; send 0 instead)`);
      if (magnitude > REAL_MAX) return this.fail(field, `is too large for a 4-byte real column (at most ${REAL_MAX})`);
    }
    return value;
  }

  text(field: string, { maxChars, required, pattern, patternReason }: { maxChars: number; required: boolean; pattern?: RegExp; patternReason?: string }): string | undefined | null {
    const value = this.record[field];
    if (value === undefined || value === null) {
      if (required) return this.fail(field, 'is required');
      return null;
    }
    if (typeof value !== 'string') return this.fail(field, 'must be a string');
    const cleaned = value.includes('\u0000') ? value.replace(/\u0000/g, '') : value;
    if (required && cleaned.trim() === '') return this.fail(field, 'must not be empty');
    if (cleaned.length > maxChars) return this.fail(field, `must be at most ${maxChars} characters`);
    if (pattern && !pattern.test(cleaned)) return this.fail(field, patternReason ?? 'has an invalid format');
    return cleaned;
  }

  unknownFields(allowed: Set<string>): void {
    for (const key in this.record) {
      if (!allowed.has(key)) this.fail(key, 'is not a known field');
    }
  }
}

const API_FIELDS = new Set(['timestamp', 'endpoint', 'method', 'statusCode', 'responseTimeMs', 'requestSizeBytes', 'responseSizeBytes', 'requestId', 'userId']);
const QUERY_FIELDS = new Set(['timestamp', 'query', 'executionTimeMs', 'rows', 'endpoint', 'requestId']);
const RESOURCE_FIELDS = new Set(['timestamp', 'cpuUsagePercent', 'memoryUsedMb', 'memoryTotalMb', 'activeConnections', 'poolMax', 'source']);

function num(value: number | null | undefined): string {
  return value === null || value === undefined ? NULL : String(value);
}

function txt(value: string | null | undefined): string {
  return value === null || value === undefined ? NULL : copyText(value);
}

export interface EncodeContext {
  tenantId: string;
  limits: ValidationLimits;
  slowQueryThresholdMs: number;
}

/** Validates one record; returns its COPY line, or undefined after recording errors. */
export function encodeRecord(kind: RecordKind, raw: unknown, index: number, ctx: EncodeContext, errors: FieldError[]): EncodedRecord | undefined {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    errors.push({ index, field: '(record)', reason: 'must be a JSON object' });
    return undefined;
  }
  const c = new RecordChecker(index, raw as Record<string, unknown>, errors);
  const before = errors.length;
  switch (kind) {
    case 'api': {
      c.unknownFields(API_FIELDS);
      const ts = c.timestamp('timestamp', ctx.limits);
      const endpoint = c.text('endpoint', { maxChars: 500, required: true });
      const method = c.text('method', { maxChars: 16, required: true });
      const upperMethod = typeof method === 'string' ? method.toUpperCase() : method;
      if (typeof upperMethod === 'string' && !METHODS.has(upperMethod)) c.fail('method', `must be an HTTP method (${[...METHODS].join(', ')})`);
      const status = c.number('statusCode', { min: 100, max: 599, required: true, integer: true });
      const ms = c.number('responseTimeMs', { min: 0, max: MAX_DURATION_MS, required: true, real: true });
      const reqSize = c.number('requestSizeBytes', { min: 0, max: MAX_SIZE_BYTES, required: false, integer: true });
      const resSize = c.number('responseSizeBytes', { min: 0, max: MAX_SIZE_BYTES, required: false, integer: true });
      const requestId = c.text('requestId', { maxChars: 128, required: false });
      const userId = c.text('userId', { maxChars: 128, required: false });
      if (errors.length > before) return undefined;
      // "timestamp", tenant_id, response_time_ms, request_size_bytes, response_size_bytes,
      // status_code, method, endpoint, request_id, user_id
      return {
        line: `${ts}\t${ctx.tenantId}\t${ms}\t${num(reqSize)}\t${num(resSize)}\t${status}\t${txt(upperMethod)}\t${txt(endpoint)}\t${txt(requestId)}\t${txt(userId)}\n`,
        alwaysKeep: (status as number) >= 500 || (ms as number) >= ctx.slowQueryThresholdMs,
      };
    }
    case 'query': {
      c.unknownFields(QUERY_FIELDS);
      const ts = c.timestamp('timestamp', ctx.limits);
      const query = c.text('query', { maxChars: MAX_QUERY_CHARS, required: true });
      const ms = c.number('executionTimeMs', { min: 0, max: MAX_DURATION_MS, required: true, real: true });
      const rows = c.number('rows', { min: 0, max: MAX_SIZE_BYTES, required: false, integer: true });
      const endpoint = c.text('endpoint', { maxChars: 500, required: false });
      const requestId = c.text('requestId', { maxChars: 128, required: false });
      if (errors.length > before) return undefined;
      const fp = fingerprintQuery(query as string);
      const slow = (ms as number) >= ctx.slowQueryThresholdMs;
      const head = `${ts}\t${fp.hashDecimal}\t${ctx.tenantId}\t${ms}\t${num(rows)}\t${txt(endpoint)}\t${txt(requestId)}\t`;
      // "timestamp", query_hash, tenant_id, execution_time_ms, rows_returned, endpoint, request_id, query_preview
      if (slow || (ms as number) >= RUNBOOK_SLOW_QUERY_MS) {
        return { line: `${head}${copyText(fp.preview)}\n`, alwaysKeep: slow, fingerprint: fp.hashDecimal };
      }
      return { line: `${head}${NULL}\n`, alwaysKeep: false, fingerprint: fp.hashDecimal, text: copyText(fp.preview) };
    }
    case 'resource': {
      c.unknownFields(RESOURCE_FIELDS);
      const ts = c.timestamp('timestamp', ctx.limits);
      const cpu = c.number('cpuUsagePercent', { min: 0, max: 100, required: true, real: true });
      const memory = c.number('memoryUsedMb', { min: 0, max: 1e9, required: true, real: true });
      const memoryTotal = c.number('memoryTotalMb', { min: 0.001, max: 1e9, required: false, real: true });
      const connections = c.number('activeConnections', { min: 0, max: 1e7, required: true, integer: true });
      const poolMax = c.number('poolMax', { min: 1, max: 1e7, required: false, integer: true });
      const source = c.text('source', { maxChars: 128, required: false });
      if (errors.length > before) return undefined;
      // "timestamp", tenant_id, cpu_usage_percent, memory_used_mb, memory_total_mb,
      // active_connections, pool_max, source
      return {
        line: `${ts}\t${ctx.tenantId}\t${cpu}\t${memory}\t${num(memoryTotal)}\t${connections}\t${num(poolMax)}\t${copyText(source ?? 'app')}\n`,
        alwaysKeep: true,
      };
    }
  }
}

export function isUuid(value: string): boolean {
  return UUID.test(value);
}
