// Reads of query_metrics_rollup (per fingerprint), query_fingerprints and
// query_endpoints for the query API. query_hash travels as a decimal string (bigint);
// src/ingest/fingerprint.ts converts it to and from the 16 hex digits the API shows.
import { Histogram, packedHistograms } from '../query/histogram';
import type { Segment } from '../query/timeRange';
import {
  boundTotals, cumulativeLimitSql, edgePieces, exactMaxima, p95CandidateKeys, QUERY_ROLLUP, rangeHistograms, rankingBoundPartsSql, rankingDayCountSql,
  rankingRowsSql, rankingSql, rankingValues, p95Complements, signedMaxSql, signedSum, type RangeRead, type RankingTotalsRow,
} from './rangeHistograms';
import { STEP_ORIGIN } from './requestRollups';
import type { Queryable } from './tenantSession';

export type FingerprintOrderKey = 'total' | 'avg' | 'count' | 'p95';

/** A fingerprint's numbers over a range or a step. */
export interface FingerprintNumbers {
  calls: number;
  slowCalls: number;
  totalMs: number;
  maxMs: number | null;
  rowsSum: number;
  histPacked: string | null;
}

export interface FingerprintTotals extends Omit<FingerprintNumbers, 'histPacked'> {
  queryHash: string;
  /** Merged over the range (src/db/rangeHistograms.ts). */
  histogram: Histogram;
}

/**
 * Totals per fingerprint over a range, with histograms. Ordered and cut in SQL by a key
 * that needs no histogram; for 'p95', the fingerprints that can be among the top `limit`
 * by p95 (src/db/p95Bounds.ts, src/db/rangeHistograms.ts p95CandidateKeys), unordered,
 * for the caller to rank by their merged histograms. With an endpoint, only fingerprints that endpoint has issued
 * (query_endpoints); their numbers are still their totals over all endpoints, since the
 * rollup is per fingerprint. Totals and p95 bounds are index-only reads
 * (query_metrics_rollup_totals, V0.0.47) of the whole days and of the edges as
 * complements where those are fewer rows (src/db/rangeHistograms.ts rankingRowsSql);
 * histograms are read only for the fingerprints chosen.
 */
export async function fingerprintTotals(
  db: Queryable,
  tenantId: string,
  segments: Segment[],
  { orderBy, limit, endpoint, read }: { orderBy: FingerprintOrderKey; limit: number; endpoint: string | null; read: RangeRead },
): Promise<FingerprintTotals[]> {
  const rows = rankingRowsSql(QUERY_ROLLUP, 'r.calls, r.slow_calls, r.total_ms, r.max_ms, r.rows_sum, r.p95_lo_bucket, r.p95_hi_bucket');
  const ofEndpoint = `($9::text IS NULL OR r.query_hash IN (SELECT e.query_hash FROM query_endpoints e
                                                            WHERE e.tenant_id = $1::uuid AND e.endpoint = $9::text))`;
  // Every fingerprint's totals, with `more` columns.
  const totals = (more = '') => `SELECT r.query_hash, ${signedSum('calls')} AS calls, ${signedSum('slow_calls')} AS slow_calls,
              ${signedSum('total_ms')} AS total_ms, ${signedMaxSql()}, ${signedSum('rows_sum')} AS rows_sum,
              ${rankingDayCountSql(QUERY_ROLLUP)} AS day_count${more}
         FROM ${rows} r CROSS JOIN lim
        WHERE ${ofEndpoint}
        GROUP BY r.query_hash HAVING sum(r.sign * r.calls) > 0`;
  const values = [...rankingValues(tenantId, segments, read.now, orderBy !== 'p95' || p95Complements(QUERY_ROLLUP, segments)), endpoint];
  if (orderBy === 'p95') {
    // Totals and bounds of every fingerprint in one index-only read; the running totals'
    // days apart (src/db/rangeHistograms.ts p95CandidateKeys).
    const all = await db.query<TotalsRow & RankingTotalsRow & { parts: string | null; complement_parts: string | null }>(
      rankingSql(QUERY_ROLLUP, totals(`,\n              ${rankingBoundPartsSql(QUERY_ROLLUP)}`)),
      values,
    );
    const chosenKeys = new Set(await p95CandidateKeys(db, QUERY_ROLLUP, tenantId, segments,
      all.rows.map((row) => ({
        key: row.query_hash, dayCount: row.day_count, parts: row.parts, complementParts: row.complement_parts, ...boundTotals(row),
      })), limit, read.cache));
    return withHistograms(db, tenantId, segments, all.rows.filter((row) => chosenKeys.has(row.query_hash)), read);
  }
  const result = await db.query<TotalsRow>(
    `WITH lim AS (${cumulativeLimitSql(QUERY_ROLLUP)}),
     totals AS (${totals()})
     SELECT t.query_hash::text AS query_hash, t.calls, t.slow_calls, t.total_ms, t.max_ms, t.max_exact, t.rows_sum, t.day_count
       FROM totals t
      ORDER BY CASE $10::text WHEN 'total' THEN t.total_ms WHEN 'avg' THEN t.total_ms / t.calls WHEN 'count' THEN t.calls END DESC NULLS LAST,
               t.query_hash
      LIMIT $11::integer`,
    [...values, orderBy, limit],
  );
  return withHistograms(db, tenantId, segments, result.rows, read);
}

interface TotalsRow {
  query_hash: string; calls: number; slow_calls: number; total_ms: number; max_ms: number | null; max_exact: boolean; rows_sum: number; day_count: number;
}

/**
 * The fingerprints' totals with their histograms over the range (src/db/rangeHistograms.ts),
 * and their maxima from their own rows where the ranking's could lie outside the range.
 */
async function withHistograms(db: Queryable, tenantId: string, segments: Segment[], rows: TotalsRow[], read: RangeRead): Promise<FingerprintTotals[]> {
  const histograms = await rangeHistograms(db, QUERY_ROLLUP, tenantId, segments, rows.map((row) => ({ key: row.query_hash, dayCount: row.day_count })), read);
  const maxima = await exactMaxima(db, QUERY_ROLLUP, tenantId, segments, rows.filter((row) => !row.max_exact).map((row) => row.query_hash));
  return rows.map((row) => ({
    queryHash: row.query_hash,
    calls: row.calls,
    slowCalls: row.slow_calls,
    totalMs: row.total_ms,
    maxMs: row.max_exact ? row.max_ms : maxima.get(row.query_hash) ?? null,
    rowsSum: row.rows_sum,
    histogram: histograms.get(row.query_hash)!,
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

export interface FingerprintPoint extends FingerprintNumbers {
  time: Date;
  /**
   * p50, p95 and p99 stored on the step's one row (`stored` asked), or null when the row
   * has none (written before V0.0.52) and histPacked holds its histogram instead.
   */
  stored: Array<number | null> | null;
}

/** The percentiles stored on query_metrics_rollup's rows (V0.0.52) that a series can read. */
export const SERIES_STORED_PERCENTS = [50, 95, 99] as const;

/**
 * One fingerprint's series from one rollup resolution, in steps of stepMs. stored: the
 * step is the resolution (one row per step), and the rows' stored percentiles are read
 * instead of their histograms, whose width grows with traffic; a row written before
 * V0.0.52 has none and sends its histogram.
 */
export async function fingerprintSeries(
  db: Queryable,
  tenantId: string,
  { queryHash, resolution, start, to, stepMs, stored }: {
    queryHash: string; resolution: string; start: Date; to: Date; stepMs: number; stored: boolean;
  },
): Promise<FingerprintPoint[]> {
  const where = `r.tenant_id = $1::uuid AND r.resolution = $2::text AND r.bucket >= $3::timestamptz AND r.bucket < $4::timestamptz
        AND r.query_hash = $5::bigint`;
  // Times as epoch ms: parsing 288 timestamps' text costs more than the rest of the rows.
  const result = await db.query<{
    time: number; calls: number; slow_calls: number; total_ms: number; max_ms: number | null; rows_sum: number; hist_packed: string | null;
    p50_ms: number | null; p95_ms: number | null; p99_ms: number | null;
  }>(stored
    ? {
      text: `SELECT extract(epoch FROM r.bucket)::float8 * 1000 AS time, r.calls::float8 AS calls, r.slow_calls::float8 AS slow_calls, r.total_ms,
                    r.max_ms::float8 AS max_ms, r.rows_sum::float8 AS rows_sum,
                    CASE WHEN r.p50_ms IS NULL THEN encode(array_send(r.hist), 'base64') END AS hist_packed,
                    r.p50_ms, r.p95_ms, r.p99_ms
               FROM query_metrics_rollup r
              WHERE ${where}
              ORDER BY r.bucket`,
      values: [tenantId, resolution, start, to, queryHash],
    }
    : {
      text: `SELECT extract(epoch FROM date_bin(make_interval(secs => $6::float8 / 1000), r.bucket, timestamptz '${STEP_ORIGIN}'))::float8 * 1000 AS time,
                    sum(r.calls)::float8 AS calls, sum(r.slow_calls)::float8 AS slow_calls, sum(r.total_ms)::float8 AS total_ms,
                    max(r.max_ms)::float8 AS max_ms, sum(r.rows_sum)::float8 AS rows_sum, ${packedHistograms('r.hist')} AS hist_packed,
                    NULL::real AS p50_ms, NULL::real AS p95_ms, NULL::real AS p99_ms
               FROM query_metrics_rollup r
              WHERE ${where}
              GROUP BY 1 ORDER BY 1`,
      values: [tenantId, resolution, start, to, queryHash, stepMs],
    });
  return result.rows.map((row) => ({
    time: new Date(row.time),
    calls: row.calls,
    slowCalls: row.slow_calls,
    totalMs: row.total_ms,
    maxMs: row.max_ms,
    rowsSum: row.rows_sum,
    histPacked: row.hist_packed,
    stored: stored && row.hist_packed === null ? [row.p50_ms, row.p95_ms, row.p99_ms] : null,
  }));
}

/**
 * One fingerprint's histogram over a range (its rangeSegments): the edges as edgePieces
 * chooses them and the whole days as daily rows, one index range per piece, in a
 * statement small enough to plan in a fraction of a millisecond. For one fingerprint
 * over the ranges a series shows, the daily rows are few; rangeHistograms, which can
 * take the days from running totals, costs more to plan than this costs to run.
 */
export async function fingerprintRangeHistogram(
  db: Queryable, tenantId: string, queryHash: string, segments: Segment[], now: number,
): Promise<Histogram> {
  const days = segments[2]!;
  const pieces = [...edgePieces(segments, now), { resolution: '1d', from: days.from.getTime(), to: days.to.getTime(), sign: 1 }]
    .filter((p) => p.to > p.from);
  const result = await db.query<[number, Buffer]>({
    text: `SELECT p.sign, array_send(r.hist)
             FROM unnest($3::text[], $4::timestamptz[], $5::timestamptz[], $6::int4[]) AS p(resolution, f, t, sign)
            CROSS JOIN LATERAL (SELECT r.hist FROM query_metrics_rollup r
                                 WHERE r.tenant_id = $1::uuid AND r.resolution = p.resolution AND r.query_hash = $2::bigint
                                   AND r.bucket >= p.f AND r.bucket < p.t AND r.hist IS NOT NULL OFFSET 0) r`,
    values: [tenantId, queryHash, pieces.map((p) => p.resolution), pieces.map((p) => new Date(p.from)), pieces.map((p) => new Date(p.to)), pieces.map((p) => p.sign)],
    rowMode: 'array',
  });
  const histogram = new Histogram();
  for (const [sign, bytes] of result.rows) histogram.addSend(bytes, sign < 0 ? -1 : 1);
  return histogram;
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
