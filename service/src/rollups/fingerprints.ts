// Fingerprints (query_metrics_rollup, query_fingerprints, query_endpoints and the raw
// query log) for the query API: totals and rankings over a range, one fingerprint's
// series, previews and endpoints. query_hash travels as a decimal string (bigint);
// src/ingest/fingerprint.ts converts it to and from the 16 hex digits the API shows.
import { readBinaryColumns } from '../db/binaryRows';
import type { Queryable } from '../db/tenantSession';
import type { QuerySettings } from '../query/context';
import { packedHistograms, type Histogram } from './histogram';
import { STEP_ORIGIN } from './plan';
import { rankKeys } from './ranking';
import { type KeyFilter, QUERIES, sql } from './sql';
import { RESOLUTION_MS, type Resolution, type TimeRange } from './time';

export type FingerprintOrderKey = 'total' | 'avg' | 'count' | 'p95';

export interface FingerprintTotals {
  queryHash: string;
  calls: number;
  slowCalls: number;
  totalMs: number;
  maxMs: number | null;
  rowsSum: number;
  /** Merged over the range. */
  histogram: Histogram;
}

const ORDER_SQL: Record<Exclude<FingerprintOrderKey, 'p95'>, string> = {
  total: 't.total_ms',
  avg: 't.total_ms / t.calls',
  count: 't.calls',
};

/**
 * Totals per fingerprint over a range, with histograms. By a sum, the top `limit` in SQL
 * order; by p95, every fingerprint, for the caller to rank by its merged histogram. With
 * an endpoint, only fingerprints that endpoint has issued (query_endpoints); their
 * numbers are still their totals over all endpoints, since the rollup is per fingerprint.
 */
export async function fingerprintTotals(
  db: Queryable,
  tenantId: string,
  range: TimeRange,
  settings: QuerySettings,
  nowMs: number,
  { orderBy, limit, endpoint }: { orderBy: FingerprintOrderKey; limit: number; endpoint: string | null },
): Promise<FingerprintTotals[]> {
  const filter: KeyFilter = endpoint ? { kind: 'issuedBy', endpoint } : { kind: 'each' };
  const rows = await rankKeys(db, QUERIES, tenantId, range, settings, orderBy === 'p95'
    ? { filter, nowMs, histograms: 'all' }
    : { filter, nowMs, orderBy: ORDER_SQL[orderBy], limit, histograms: 'returned' });
  return rows.map((row) => ({
    queryHash: row.key,
    calls: row.sums.calls!,
    slowCalls: row.sums.slow_calls!,
    totalMs: row.sums.total_ms!,
    maxMs: row.maxMs,
    rowsSum: row.sums.rows_sum!,
    histogram: row.histogram,
  }));
}

export interface FingerprintInfo {
  queryHash: string;
  preview: string;
  calls: number;
  firstSeen: Date;
  lastSeen: Date;
  /** Up to five endpoints that issue it, busiest first. */
  endpoints: string[];
}

/** Preview, first and last seen, and endpoints of some fingerprints. */
export async function fingerprintInfo(db: Queryable, tenantId: string, queryHashes: string[]): Promise<Map<string, FingerprintInfo>> {
  const result = await db.query<{
    query_hash: string; query_preview: string; calls: number; first_seen: Date; last_seen: Date; endpoints: string[] | null;
  }>(
    `SELECT f.query_hash::text AS query_hash, f.query_preview, f.calls::float8 AS calls, f.first_seen, f.last_seen,
            (SELECT array_agg(e.endpoint ORDER BY e.calls DESC, e.endpoint)
               FROM (SELECT endpoint, calls FROM query_endpoints q
                      WHERE q.tenant_id = f.tenant_id AND q.query_hash = f.query_hash
                      ORDER BY calls DESC, endpoint LIMIT 5) e) AS endpoints
       FROM query_fingerprints f
      WHERE f.tenant_id = $1::uuid AND f.query_hash = ANY ($2::bigint[])`,
    [tenantId, queryHashes],
  );
  return new Map(result.rows.map((row) => [row.query_hash, {
    queryHash: row.query_hash,
    preview: row.query_preview,
    calls: row.calls,
    firstSeen: row.first_seen,
    lastSeen: row.last_seen,
    endpoints: row.endpoints ?? [],
  }]));
}

export interface FingerprintPoint {
  time: Date;
  calls: number;
  slowCalls: number;
  totalMs: number;
  maxMs: number | null;
  rowsSum: number;
  /** The step's histograms, packed (several concatenated when the step is several rows). */
  hist: Buffer | null;
}

/** One fingerprint's series from one rollup resolution, in steps of stepMs aligned to STEP_ORIGIN. */
export async function fingerprintSeries(
  db: Queryable,
  tenantId: string,
  { queryHash, resolution, start, to, stepMs }: { queryHash: string; resolution: Resolution; start: Date; to: Date; stepMs: number },
): Promise<FingerprintPoint[]> {
  const single = stepMs === RESOLUTION_MS[resolution];
  const time = single
    ? 'r.bucket'
    : `date_bin(make_interval(secs => :step_ms::float8 / 1000), r.bucket, timestamptz '${STEP_ORIGIN}')`;
  const [times, calls, slowCalls, totalMs, maxMs, rowsSum, hist] = await readBinaryColumns(db, sql(
    `SELECT ${time} AS time,
            sum(r.calls)::float8 AS calls, sum(r.slow_calls)::float8 AS slow_calls, sum(r.total_ms)::float8 AS total_ms,
            max(r.max_ms)::float8 AS max_ms, sum(r.rows_sum)::float8 AS rows_sum, ${packedHistograms('r.hist')} AS hist
       FROM query_metrics_rollup r
      WHERE r.tenant_id = :tenant::uuid AND r.resolution = :resolution AND r.query_hash = :query_hash::bigint
        AND r.bucket >= :start::timestamptz AND r.bucket < :to::timestamptz
      GROUP BY 1 ORDER BY 1`,
    { tenant: tenantId, resolution, query_hash: queryHash, start, to, ...(single ? {} : { step_ms: stepMs }) },
  ), ['timestamptz', 'float8', 'float8', 'float8', 'float8', 'float8', 'bytea']);
  return times!.map((t, i) => ({
    time: new Date(t as number),
    calls: calls![i] as number,
    slowCalls: slowCalls![i] as number,
    totalMs: totalMs![i] as number,
    maxMs: maxMs![i] as number | null,
    rowsSum: rowsSum![i] as number,
    hist: hist![i] as Buffer | null,
  }));
}

/** Fingerprints seen in a range, most called first (template variables). */
export async function fingerprintsSeen(
  db: Queryable,
  tenantId: string,
  { from, to, limit }: { from: Date; to: Date; limit: number },
): Promise<Array<{ queryHash: string; preview: string }>> {
  const result = await db.query<{ query_hash: string; query_preview: string }>(
    `SELECT query_hash::text AS query_hash, query_preview
       FROM query_fingerprints
      WHERE tenant_id = $1::uuid AND last_seen >= $2::timestamptz AND first_seen < $3::timestamptz
      ORDER BY calls DESC, query_hash
      LIMIT $4::integer`,
    [tenantId, from, to, limit],
  );
  return result.rows.map((row) => ({ queryHash: row.query_hash, preview: row.query_preview }));
}

export interface FingerprintEndpoint {
  endpoint: string;
  calls: number;
  totalMs: number;
  firstSeen: Date;
  lastSeen: Date;
}

/** Every endpoint that has issued one fingerprint (since it was first seen), busiest first. */
export async function fingerprintEndpoints(db: Queryable, tenantId: string, queryHash: string, limit: number): Promise<FingerprintEndpoint[]> {
  const result = await db.query<{ endpoint: string; calls: number; total_ms: number; first_seen: Date; last_seen: Date }>(
    `SELECT endpoint, calls::float8 AS calls, total_ms::float8 AS total_ms, first_seen, last_seen
       FROM query_endpoints
      WHERE tenant_id = $1::uuid AND query_hash = $2::bigint
      ORDER BY calls DESC, endpoint
      LIMIT $3::integer`,
    [tenantId, queryHash, limit],
  );
  return result.rows.map((row) => ({ endpoint: row.endpoint, calls: row.calls, totalMs: row.total_ms, firstSeen: row.first_seen, lastSeen: row.last_seen }));
}
