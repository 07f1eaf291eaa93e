// Rollup deltas of the rows one ingest transaction writes, computed here from the COPY
// lines themselves and inserted into *_rollup_pending in the same transaction, which the
// refresh then merges (refresh_performance_metrics_incremental). Every writer goes
// through the group commit (src/ingest/groupCommit.ts, src/db/ingestCopy.ts
// writeRecords), so this is the one place deltas come from; nothing in the database
// reacts to an INSERT, which distributed PostgreSQL could not run on distributed tables
// (docs/design/rollups.md, "Where deltas come from").
//
// Per 5-minute bucket: requests per tenant and endpoint ('(none)' for an empty one) and
// for the tenant's total (endpoint ''); queries per tenant, fingerprint and endpoint ('' for
// none); resource samples per tenant and source. The column orders of the lines are those
// of src/db/ingestCopy.ts COPY_STATEMENTS.
import type { PoolClient } from 'pg';
import type { RecordKind } from './records';

const FIVE_MINUTES_MS = 300_000;
const STEP_ORIGIN_MS = Date.parse('2000-01-01T00:00:00Z');
const LN_BASE = Math.log(1.02);
/** Highest bucket, as latency_bucket() caps it. */
const MAX_BUCKET = 4000;

/**
 * Histogram bucket of a duration, as latency_bucket() in the baseline migration computes
 * it from the stored real: 0 below 0.01 ms, then 2 %-wide log-scale buckets.
 */
export function latencyBucket(ms: number): number {
  const value = Math.fround(ms);
  if (value < 0.01) return 0;
  return Math.min(MAX_BUCKET, 1 + Math.floor(Math.log(value / 0.01) / LN_BASE));
}

/** The settings rows are classified with: Apdex T and the slow-query threshold. */
export interface DeltaSettings {
  apdexTargetMs: number;
  slowQueryThresholdMs: number;
}

type Hist = Map<number, number>;

interface ApiDelta {
  tenant: string; bucket: number; endpoint: string; requests: number; errors: number; clientErrors: number;
  satisfied: number; tolerating: number; sumMs: number; maxMs: number; hist: Hist; lastSeen: string; lastSeenMs: number;
}

interface QueryDelta {
  tenant: string; bucket: number; hash: string; endpoint: string; calls: number; slowCalls: number; totalMs: number;
  maxMs: number; rowsSum: number; hist: Hist; firstSeen: string; firstSeenMs: number; lastSeen: string; lastSeenMs: number;
}

interface ResourceDelta {
  tenant: string; bucket: number; source: string; samples: number; sumCpu: number; maxCpu: number; sumMemory: number;
  maxMemory: number; memoryTotal: number | null; sumConnections: number; maxConnections: number; poolMax: number | null;
}

/** COPY text's escapes undone (the lines escape backslash, tab, newline and carriage return). */
function unescapeCopy(value: string): string {
  if (!value.includes('\\')) return value;
  return value.replace(/\\(.)/g, (_, c: string) => (c === 't' ? '\t' : c === 'n' ? '\n' : c === 'r' ? '\r' : c));
}

const NULL = '\\N';

function bucketOf(ms: number): number {
  return STEP_ORIGIN_MS + Math.floor((ms - STEP_ORIGIN_MS) / FIVE_MINUTES_MS) * FIVE_MINUTES_MS;
}

function addTo(hist: Hist, bucket: number): void {
  hist.set(bucket, (hist.get(bucket) ?? 0) + 1);
}

/** A histogram as bigint[] text, buckets ascending: element = bucket * 2^40 + count. */
function histText(hist: Hist): string {
  const buckets = [...hist.keys()].sort((a, b) => a - b);
  return `{${buckets.map((b) => (BigInt(b) * 1099511627776n + BigInt(hist.get(b)!)).toString()).join(',')}}`;
}

export class RollupDeltas {
  private readonly api = new Map<string, ApiDelta>();
  private readonly query = new Map<string, QueryDelta>();
  private readonly resource = new Map<string, ResourceDelta>();
  /** Per tenant and fingerprint, the first text a line carried. */
  private readonly previews = new Map<string, string>();

  constructor(private readonly settings: DeltaSettings) {}

  /** Adds every line of one kind: strings or UTF-8 bytes, each element whole lines. */
  addLines(kind: RecordKind, pieces: ReadonlyArray<string | Uint8Array>): void {
    for (const piece of pieces) {
      const text = typeof piece === 'string' ? piece : Buffer.from(piece.buffer, piece.byteOffset, piece.byteLength).toString('utf8');
      let start = 0;
      while (start < text.length) {
        let end = text.indexOf('\n', start);
        if (end < 0) end = text.length;
        if (end > start) this.addLine(kind, text.slice(start, end).split('\t'));
        start = end + 1;
      }
    }
  }

  private addLine(kind: RecordKind, f: string[]): void {
    if (kind === 'api') this.addRequest(f);
    else if (kind === 'query') this.addQuery(f);
    else this.addResource(f);
  }

  // "timestamp", tenant_id, response_time_ms, request_size_bytes, response_size_bytes,
  // status_code, method, endpoint, request_id, user_id
  private addRequest(f: string[]): void {
    const at = f[0]!;
    const atMs = Date.parse(at);
    const tenant = f[1]!;
    const ms = Number(f[2]);
    const status = Number(f[5]);
    const raw = f[7] === NULL ? '' : unescapeCopy(f[7]!);
    const endpoint = raw === '' ? '(none)' : raw;
    const bucket = bucketOf(atMs);
    const b = latencyBucket(ms);
    const t = Math.fround(this.settings.apdexTargetMs);
    const stored = Math.fround(ms);
    for (const key of [endpoint, '']) {
      const id = `${tenant}\u0000${bucket}\u0000${key}`;
      let d = this.api.get(id);
      if (!d) {
        d = { tenant, bucket, endpoint: key, requests: 0, errors: 0, clientErrors: 0, satisfied: 0, tolerating: 0, sumMs: 0, maxMs: stored, hist: new Map(), lastSeen: at, lastSeenMs: atMs };
        this.api.set(id, d);
      }
      d.requests++;
      if (status >= 500) d.errors++;
      else if (status >= 400) d.clientErrors++;
      if (stored <= t) d.satisfied++;
      else if (stored <= 4 * t) d.tolerating++;
      d.sumMs += stored;
      if (stored > d.maxMs) d.maxMs = stored;
      addTo(d.hist, b);
      if (atMs > d.lastSeenMs) {
        d.lastSeenMs = atMs;
        d.lastSeen = at;
      }
    }
  }

  // "timestamp", query_hash, tenant_id, execution_time_ms, rows_returned, endpoint, request_id, query_preview
  private addQuery(f: string[]): void {
    const at = f[0]!;
    const atMs = Date.parse(at);
    const hash = f[1]!;
    const tenant = f[2]!;
    const stored = Math.fround(Number(f[3]));
    const rows = f[4] === NULL ? 0 : Number(f[4]);
    const endpoint = f[5] === NULL ? '' : unescapeCopy(f[5]!);
    if (f[7] !== undefined && f[7] !== NULL) {
      const key = `${tenant}\u0000${hash}`;
      if (!this.previews.has(key)) this.previews.set(key, unescapeCopy(f[7]));
    }
    const bucket = bucketOf(atMs);
    const id = `${tenant}\u0000${bucket}\u0000${hash}\u0000${endpoint}`;
    let d = this.query.get(id);
    if (!d) {
      d = {
        tenant, bucket, hash, endpoint, calls: 0, slowCalls: 0, totalMs: 0, maxMs: stored, rowsSum: 0, hist: new Map(),
        firstSeen: at, firstSeenMs: atMs, lastSeen: at, lastSeenMs: atMs,
      };
      this.query.set(id, d);
    }
    d.calls++;
    if (stored >= Math.fround(this.settings.slowQueryThresholdMs)) d.slowCalls++;
    d.totalMs += stored;
    if (stored > d.maxMs) d.maxMs = stored;
    d.rowsSum += rows;
    addTo(d.hist, latencyBucket(stored));
    if (atMs < d.firstSeenMs) {
      d.firstSeenMs = atMs;
      d.firstSeen = at;
    }
    if (atMs > d.lastSeenMs) {
      d.lastSeenMs = atMs;
      d.lastSeen = at;
    }
  }

  // "timestamp", tenant_id, cpu_usage_percent, memory_used_mb, memory_total_mb,
  // active_connections, pool_max, source
  private addResource(f: string[]): void {
    const tenant = f[1]!;
    const bucket = bucketOf(Date.parse(f[0]!));
    const cpu = Math.fround(Number(f[2]));
    const memory = Math.fround(Number(f[3]));
    const memoryTotal = f[4] === NULL ? null : Math.fround(Number(f[4]));
    const connections = Number(f[5]);
    const poolMax = f[6] === NULL ? null : Number(f[6]);
    const source = unescapeCopy(f[7]!);
    const id = `${tenant}\u0000${bucket}\u0000${source}`;
    let d = this.resource.get(id);
    if (!d) {
      d = { tenant, bucket, source, samples: 0, sumCpu: 0, maxCpu: cpu, sumMemory: 0, maxMemory: memory, memoryTotal: null, sumConnections: 0, maxConnections: connections, poolMax: null };
      this.resource.set(id, d);
    }
    d.samples++;
    d.sumCpu += cpu;
    d.maxCpu = Math.max(d.maxCpu, cpu);
    d.sumMemory += memory;
    d.maxMemory = Math.max(d.maxMemory, memory);
    if (memoryTotal !== null) d.memoryTotal = Math.max(d.memoryTotal ?? memoryTotal, memoryTotal);
    d.sumConnections += connections;
    d.maxConnections = Math.max(d.maxConnections, connections);
    if (poolMax !== null) d.poolMax = Math.max(d.poolMax ?? poolMax, poolMax);
  }

  /** Rows of deltas held, over the three kinds. */
  get size(): number {
    return this.api.size + this.query.size + this.resource.size;
  }

  /** Inserts the deltas into the pending tables on the client's open transaction. */
  async write(client: Pick<PoolClient, 'query'>): Promise<void> {
    const iso = (ms: number) => new Date(ms).toISOString();
    if (this.api.size > 0) {
      const d = [...this.api.values()];
      await client.query(
        `INSERT INTO api_rollup_pending (tenant_id, bucket, endpoint, requests, errors, client_errors, satisfied, tolerating, sum_ms, max_ms, hist, last_seen)
         SELECT t, b, e, n, er, ce, s, tl, sm, mx, h::bigint[], ls
           FROM unnest($1::uuid[], $2::timestamptz[], $3::text[], $4::int8[], $5::int8[], $6::int8[], $7::int8[], $8::int8[],
                       $9::float8[], $10::real[], $11::text[], $12::timestamptz[]) AS u(t, b, e, n, er, ce, s, tl, sm, mx, h, ls)`,
        [d.map((x) => x.tenant), d.map((x) => iso(x.bucket)), d.map((x) => x.endpoint), d.map((x) => x.requests), d.map((x) => x.errors),
          d.map((x) => x.clientErrors), d.map((x) => x.satisfied), d.map((x) => x.tolerating), d.map((x) => x.sumMs), d.map((x) => x.maxMs),
          d.map((x) => histText(x.hist)), d.map((x) => x.lastSeen)],
      );
    }
    if (this.query.size > 0) {
      const d = [...this.query.values()];
      await client.query(
        `INSERT INTO query_rollup_pending (tenant_id, bucket, query_hash, endpoint, calls, slow_calls, total_ms, max_ms, rows_sum, hist,
                                           first_seen, last_seen, query_preview)
         SELECT t, b, q, e, n, sl, tm, mx, rs, h::bigint[], fs, ls, p
           FROM unnest($1::uuid[], $2::timestamptz[], $3::int8[], $4::text[], $5::int8[], $6::int8[], $7::float8[], $8::real[], $9::int8[],
                       $10::text[], $11::timestamptz[], $12::timestamptz[], $13::text[]) AS u(t, b, q, e, n, sl, tm, mx, rs, h, fs, ls, p)`,
        [d.map((x) => x.tenant), d.map((x) => iso(x.bucket)), d.map((x) => x.hash), d.map((x) => x.endpoint), d.map((x) => x.calls),
          d.map((x) => x.slowCalls), d.map((x) => x.totalMs), d.map((x) => x.maxMs), d.map((x) => x.rowsSum), d.map((x) => histText(x.hist)),
          d.map((x) => x.firstSeen), d.map((x) => x.lastSeen), d.map((x) => this.previews.get(`${x.tenant}\u0000${x.hash}`) ?? '')],
      );
    }
    if (this.resource.size > 0) {
      const d = [...this.resource.values()];
      await client.query(
        `INSERT INTO resource_rollup_pending (tenant_id, bucket, source, samples, sum_cpu, max_cpu, sum_memory, max_memory, memory_total,
                                              sum_connections, max_connections, pool_max)
         SELECT * FROM unnest($1::uuid[], $2::timestamptz[], $3::text[], $4::int8[], $5::float8[], $6::real[], $7::float8[], $8::real[],
                              $9::real[], $10::float8[], $11::int4[], $12::int4[])`,
        [d.map((x) => x.tenant), d.map((x) => iso(x.bucket)), d.map((x) => x.source), d.map((x) => x.samples), d.map((x) => x.sumCpu),
          d.map((x) => x.maxCpu), d.map((x) => x.sumMemory), d.map((x) => x.maxMemory), d.map((x) => x.memoryTotal),
          d.map((x) => x.sumConnections), d.map((x) => x.maxConnections), d.map((x) => x.poolMax)],
      );
    }
  }
}
