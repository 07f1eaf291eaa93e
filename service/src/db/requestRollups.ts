// Reads of api_metrics_rollup (requests per tenant, resolution, bucket and endpoint;
// endpoint '' is the total over all endpoints) for the query API and the optimizer.
// Histograms over a range are read by src/db/rangeHistograms.ts (running totals for whole
// days); per-step histograms leave packed (several concatenated, packedHistograms). Both
// are merged by src/query/histogram.ts. Counts are cast to float8: exact below 2^53, and
// returned as numbers rather than strings.
import { packedHistograms, type Histogram } from '../query/histogram';
import { RESOLUTION_MS, type Resolution, type Segment } from '../query/timeRange';
import {
  API_ROLLUP, boundTotals, cumulativeLimitSql, dayCountSql, exactMaxima, p95CandidateKeys, rangeHistograms, rankingBoundPartsSql, rankingDayCountSql,
  rankingRowsSql, rankingSql, rankingValues, p95Complements, signedMaxSql, signedSum, type RangeRead, type RankingTotalsRow,
} from './rangeHistograms';
import { segmentUnion, segmentValues } from './rollupSegments';
import { readSendNumbers } from './sendArrays';
import type { Queryable } from './tenantSession';

/** Time origin of every step, as the rollups' date_bin uses it. */
export const STEP_ORIGIN = '2000-01-01 00:00:00+00';
export const STEP_ORIGIN_MS = Date.parse('2000-01-01T00:00:00Z');

export interface RequestTotals {
  requests: number;
  errors: number;
  clientErrors: number;
  satisfied: number;
  tolerating: number;
  sumMs: number;
  maxMs: number | null;
  dbMs: number;
  dbCalls: number;
}

/** Totals with the merged histogram of the range. */
export interface RequestTotalsWithHistogram extends RequestTotals {
  histogram: Histogram;
}

/** The columns TOTAL_COLUMNS sums, as a segmentUnion SELECT reads them. */
const TOTAL_SOURCE = 'r.requests, r.errors, r.client_errors, r.satisfied, r.tolerating, r.sum_ms, r.max_ms, r.db_ms, r.db_calls';

const TOTAL_COLUMNS = `
  coalesce(sum(r.requests), 0)::float8 AS requests, coalesce(sum(r.errors), 0)::float8 AS errors,
  coalesce(sum(r.client_errors), 0)::float8 AS client_errors, coalesce(sum(r.satisfied), 0)::float8 AS satisfied,
  coalesce(sum(r.tolerating), 0)::float8 AS tolerating, coalesce(sum(r.sum_ms), 0)::float8 AS sum_ms,
  max(r.max_ms)::float8 AS max_ms, coalesce(sum(r.db_ms), 0)::float8 AS db_ms, coalesce(sum(r.db_calls), 0)::float8 AS db_calls`;

/**
 * TOTAL_COLUMNS over rankingRowsSql's rows: signed sums, and max_ms with max_exact
 * (src/db/rangeHistograms.ts signedMaxSql).
 */
const SIGNED_TOTAL_COLUMNS = `
  ${['requests', 'errors', 'client_errors', 'satisfied', 'tolerating', 'sum_ms'].map((c) => `${signedSum(c)} AS ${c}`).join(', ')},
  ${signedMaxSql()}, ${signedSum('db_ms')} AS db_ms, ${signedSum('db_calls')} AS db_calls`;

interface TotalRow {
  requests: number;
  errors: number;
  client_errors: number;
  satisfied: number;
  tolerating: number;
  sum_ms: number;
  max_ms: number | null;
  db_ms: number;
  db_calls: number;
}

function toTotals(row: TotalRow | undefined): RequestTotals {
  return {
    requests: row?.requests ?? 0,
    errors: row?.errors ?? 0,
    clientErrors: row?.client_errors ?? 0,
    satisfied: row?.satisfied ?? 0,
    tolerating: row?.tolerating ?? 0,
    sumMs: row?.sum_ms ?? 0,
    maxMs: row?.max_ms ?? null,
    dbMs: row?.db_ms ?? 0,
    dbCalls: row?.db_calls ?? 0,
  };
}

/**
 * Totals and merged histogram over a range for one endpoint ('' = all endpoints); `read`
 * as rangeHistograms takes it.
 */
export async function requestTotals(db: Queryable, tenantId: string, segments: Segment[], read: RangeRead, endpoint = ''): Promise<RequestTotalsWithHistogram> {
  const result = await db.query<TotalRow & { day_count: number }>(
    `WITH lim AS (${cumulativeLimitSql(API_ROLLUP)})
     SELECT ${TOTAL_COLUMNS}, ${dayCountSql(API_ROLLUP)} AS day_count
       FROM ${segmentUnion('r', 2, `SELECT r.resolution, r.bucket, ${TOTAL_SOURCE} FROM api_metrics_rollup r
                                     WHERE r.tenant_id = $1::uuid AND r.endpoint = $12::text AND {segment}`)} r CROSS JOIN lim`,
    [tenantId, ...segmentValues(segments), endpoint],
  );
  const histograms = await rangeHistograms(db, API_ROLLUP, tenantId, segments, [{ key: endpoint, dayCount: result.rows[0]?.day_count ?? 0 }], read);
  return { ...toTotals(result.rows[0]), histogram: histograms.get(endpoint)! };
}

/** An endpoint's row of a ranking (SIGNED_TOTAL_COLUMNS). */
interface RankedTotalRow extends TotalRow {
  endpoint: string;
  max_exact: boolean;
  day_count: number;
}

export interface EndpointTotals extends RequestTotalsWithHistogram {
  endpoint: string;
}

export type EndpointOrderKey = 'requests' | 'errorRate' | 'dbShare' | 'p95';

/**
 * Totals per endpoint over a range, with histograms. Ordered and cut in SQL by a key
 * that needs no histogram; for 'p95', the endpoints that can be among the top `limit` by
 * p95 (src/db/p95Bounds.ts), for the caller to rank by their merged histograms. Totals
 * and p95 bounds are index-only reads (api_metrics_rollup_endpoint_series, V0.0.47) of
 * the whole days and of the edges as complements where those are fewer rows
 * (src/db/rangeHistograms.ts rankingRowsSql); histograms are read only for the
 * endpoints chosen. `maxima: false` for a caller that shows no maximum: maxMs is then
 * null, and the maxima a complement leaves in doubt are not read again (exactMaxima).
 */
export async function endpointTotals(
  db: Queryable,
  tenantId: string,
  segments: Segment[],
  { orderBy, limit, read, maxima: withMaxima = true }: { orderBy: EndpointOrderKey; limit: number; read: RangeRead; maxima?: boolean },
): Promise<EndpointTotals[]> {
  const rows = rankingRowsSql(API_ROLLUP, `${TOTAL_SOURCE}, r.p95_lo_bucket, r.p95_hi_bucket`, `AND r.endpoint <> ''`);
  // Every endpoint's totals, with `more` columns.
  const totals = (more = '') => `SELECT r.endpoint, ${SIGNED_TOTAL_COLUMNS}, ${rankingDayCountSql(API_ROLLUP)} AS day_count${more}
         FROM ${rows} r CROSS JOIN lim
        GROUP BY r.endpoint HAVING sum(r.sign * r.requests) > 0`;
  const values = rankingValues(tenantId, segments, read.now, orderBy !== 'p95' || p95Complements(API_ROLLUP, segments));
  let result: RankedTotalRow[];
  if (orderBy === 'p95') {
    // Totals and bounds of every endpoint in one index-only read; the running totals'
    // days apart (src/db/rangeHistograms.ts p95CandidateKeys).
    const all = await db.query<RankedTotalRow & { parts: string | null; complement_parts: string | null } & RankingTotalsRow>(
      rankingSql(API_ROLLUP, totals(`,\n              ${rankingBoundPartsSql(API_ROLLUP)}`)),
      values,
    );
    const chosen = new Set(await p95CandidateKeys(db, API_ROLLUP, tenantId, segments,
      all.rows.map((row) => ({
        key: row.endpoint, dayCount: row.day_count, parts: row.parts, complementParts: row.complement_parts, ...boundTotals(row),
      })), limit, read.cache));
    result = all.rows.filter((row) => chosen.has(row.endpoint)).sort((a, b) => (a.endpoint < b.endpoint ? -1 : a.endpoint > b.endpoint ? 1 : 0));
  } else {
    result = (await db.query<RankedTotalRow>(
      `WITH lim AS (${cumulativeLimitSql(API_ROLLUP)}),
       totals AS (${totals()})
       SELECT t.* FROM totals t
        ORDER BY CASE $9::text WHEN 'requests' THEN t.requests
                               WHEN 'errorRate' THEN t.errors / t.requests
                               WHEN 'dbShare' THEN t.db_ms / nullif(t.sum_ms, 0) END DESC NULLS LAST, t.endpoint
        LIMIT $10::integer`,
      [...values, orderBy, limit],
    )).rows;
  }
  const histograms = await rangeHistograms(db, API_ROLLUP, tenantId, segments, result.map((row) => ({ key: row.endpoint, dayCount: row.day_count })), read);
  const maxima = withMaxima ? await exactMaxima(db, API_ROLLUP, tenantId, segments, result.filter((row) => !row.max_exact).map((row) => row.endpoint)) : null;
  return result.map((row) => ({
    endpoint: row.endpoint,
    ...toTotals(maxima === null ? { ...row, max_ms: null } : row.max_exact ? row : { ...row, max_ms: maxima.get(row.endpoint) ?? null }),
    histogram: histograms.get(row.endpoint)!,
  }));
}

/** Endpoints with requests in a range, busiest first (template variables, per-endpoint series). */
export async function busiestEndpoints(db: Queryable, tenantId: string, segments: Segment[], limit: number): Promise<string[]> {
  const result = await db.query<{ endpoint: string }>(
    `SELECT r.endpoint
       FROM ${segmentUnion('r', 2, `SELECT r.endpoint, r.requests FROM api_metrics_rollup r
                                     WHERE r.tenant_id = $1::uuid AND r.endpoint <> '' AND {segment}`)} r
      GROUP BY r.endpoint HAVING sum(r.requests) > 0
      ORDER BY sum(r.requests) DESC, r.endpoint
      LIMIT $12::integer`,
    [tenantId, ...segmentValues(segments), limit],
  );
  return result.rows.map((row) => row.endpoint);
}

/** Percentiles stored on every api_metrics_rollup row (V0.0.43: p50_ms, p90_ms, p95_ms, p99_ms). */
export const STORED_PERCENTILES = [50, 90, 95, 99] as const;

/** Counts of requests in a step or range; shared with the raw reads (rawRequests.ts). */
export interface RequestCounts {
  requests: number;
  errors: number;
  clientErrors: number;
  sumMs: number;
  maxMs: number | null;
}

export interface RequestPoint extends RequestCounts {
  endpoint: string;
  time: Date;
  histPacked: string | null;
}

const STORED_COLUMN: Record<number, string> = { 50: 'p50_ms', 90: 'p90_ms', 95: 'p95_ms', 99: 'p99_ms' };

/** The columns of stored percentiles (each one of STORED_PERCENTILES), in the order asked. */
export function storedColumns(percents: readonly number[]): string[] {
  return percents.map((p) => {
    const column = STORED_COLUMN[p];
    if (!column) throw new Error(`no stored percentile ${p}`);
    return column;
  });
}

export interface StoredSeries {
  endpoint: string;
  /** Bucket starts in ms, in order. */
  times: Array<number | null>;
  /** Per percentile asked for, its stored value at each of `times`. */
  values: Array<Array<number | null>>;
}

/**
 * Stored percentiles (some of STORED_PERCENTILES) per endpoint ('' = all) and bucket of
 * one rollup resolution in [start, to): what a latency panel whose step is one rollup row
 * draws. Per endpoint, the times and each percentile arrive as arrays in array_send's
 * binary form, decoded without parsing text; the aggregates read the same rows in the
 * same order, so their elements pair up. Columnar all the way: a day in 5-minute steps
 * for 20 endpoints is 5760 buckets, and an object per bucket cost more than the read.
 */
export async function storedPercentileSeries(
  db: Queryable,
  tenantId: string,
  { endpoints, resolution, start, to, percents }: { endpoints: string[]; resolution: Resolution; start: Date; to: Date; percents: readonly number[] },
): Promise<StoredSeries[]> {
  const stored = storedColumns(percents);
  if (stored.length === 0) throw new Error('storedPercentileSeries needs at least one percentile');
  const result = await db.query<{ endpoint: string; times: Buffer; [column: string]: Buffer | string }>(
    `SELECT r.endpoint, array_send(array_agg(date_part('epoch', r.bucket) * 1000)) AS times
            ${stored.map((c, i) => `, array_send(array_agg(r.${c})) AS v${i}`).join('')}
       FROM api_metrics_rollup r
      WHERE r.tenant_id = $1::uuid AND r.resolution = $2::text AND r.bucket >= $3::timestamptz AND r.bucket < $4::timestamptz
        AND r.endpoint = ANY ($5::text[])
      GROUP BY r.endpoint
      ORDER BY r.endpoint`,
    [tenantId, resolution, start, to, endpoints],
  );
  return result.rows.map((row) => ({
    endpoint: row.endpoint,
    times: readSendNumbers(row.times),
    values: stored.map((_, i) => readSendNumbers(row[`v${i}`] as Buffer)),
  }));
}

/**
 * A series per endpoint ('' = all) from one rollup resolution: buckets in [start, to)
 * summed into steps of stepMs (a multiple of the resolution), aligned to STEP_ORIGIN.
 * Only what is asked for is read: counts (else 0), histograms (else null; without them
 * the read is index-only, V0.0.44). Stored percentiles alone are read by
 * storedPercentileSeries. Fewer columns matter here: a series of thousands of rows parses
 * in proportion, so a step of one row is read without grouping and rows arrive as arrays.
 */
export async function requestSeries(
  db: Queryable,
  tenantId: string,
  { endpoints, resolution, start, to, stepMs, withCounts, withHistograms }: {
    endpoints: string[];
    resolution: Resolution;
    start: Date;
    to: Date;
    stepMs: number;
    withCounts: boolean;
    withHistograms: boolean;
  },
): Promise<RequestPoint[]> {
  const single = stepMs === RESOLUTION_MS[resolution];
  const columns = [
    ...(withCounts
      ? single
        ? ['r.requests::float8', 'r.errors::float8', 'r.client_errors::float8', 'r.sum_ms::float8', 'r.max_ms::float8']
        : ['sum(r.requests)::float8', 'sum(r.errors)::float8', 'sum(r.client_errors)::float8', 'sum(r.sum_ms)::float8', 'max(r.max_ms)::float8']
      : []),
    ...(withHistograms ? [single ? `encode(array_send(r.hist), 'base64')` : packedHistograms('r.hist')] : []),
  ];
  const time = single
    ? `extract(epoch FROM r.bucket)::float8 * 1000`
    : `extract(epoch FROM date_bin(make_interval(secs => $6::float8 / 1000), r.bucket, timestamptz '${STEP_ORIGIN}'))::float8 * 1000`;
  const result = await db.query<unknown[]>({
    text: `SELECT r.endpoint, ${time} AS time_ms${columns.map((c) => `, ${c}`).join('')}
             FROM api_metrics_rollup r
            WHERE r.tenant_id = $1::uuid AND r.resolution = $2::text AND r.bucket >= $3::timestamptz AND r.bucket < $4::timestamptz
              AND r.endpoint = ANY ($5::text[]) AND $6::float8 > 0
            ${single ? '' : 'GROUP BY 1, 2'}
            ORDER BY 1, 2`,
    values: [tenantId, resolution, start, to, endpoints, stepMs],
    rowMode: 'array',
  });
  return result.rows.map((row) => {
    let i = 2;
    const next = () => row[i++] as never;
    return {
      endpoint: row[0] as string,
      time: new Date(row[1] as number),
      requests: withCounts ? next() : 0,
      errors: withCounts ? next() : 0,
      clientErrors: withCounts ? next() : 0,
      sumMs: withCounts ? next() : 0,
      maxMs: withCounts ? next() : null,
      histPacked: withHistograms ? next() : null,
    };
  });
}
