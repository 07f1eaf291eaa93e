// Reads of api_metrics_rollup (requests per tenant, resolution, bucket and endpoint;
// endpoint '' is the total over all endpoints) for the query API and the optimizer.
// Histograms leave as text (hist::text, several concatenated by string_agg) and are
// merged by src/query/histogram.ts. Counts are cast to float8: exact below 2^53, and
// returned as numbers rather than strings.
import type { Segment } from '../query/timeRange';
import { segmentCondition, segmentValues } from './rollupSegments';
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
  histText: string | null;
}

const TOTAL_COLUMNS = `
  coalesce(sum(r.requests), 0)::float8 AS requests, coalesce(sum(r.errors), 0)::float8 AS errors,
  coalesce(sum(r.client_errors), 0)::float8 AS client_errors, coalesce(sum(r.satisfied), 0)::float8 AS satisfied,
  coalesce(sum(r.tolerating), 0)::float8 AS tolerating, coalesce(sum(r.sum_ms), 0)::float8 AS sum_ms,
  max(r.max_ms)::float8 AS max_ms, coalesce(sum(r.db_ms), 0)::float8 AS db_ms, coalesce(sum(r.db_calls), 0)::float8 AS db_calls`;

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
  hist_text: string | null;
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
    histText: row?.hist_text ?? null,
  };
}

/** Totals and merged histogram over a range for one endpoint ('' = all endpoints). */
export async function requestTotals(db: Queryable, tenantId: string, segments: Segment[], endpoint = ''): Promise<RequestTotals> {
  const result = await db.query<TotalRow>(
    `SELECT ${TOTAL_COLUMNS}, string_agg(r.hist::text, '') AS hist_text
       FROM api_metrics_rollup r
      WHERE r.tenant_id = $1::uuid AND r.endpoint = $2::text AND ${segmentCondition('r', 3)}`,
    [tenantId, endpoint, ...segmentValues(segments)],
  );
  return toTotals(result.rows[0]);
}

export interface EndpointTotals extends RequestTotals {
  endpoint: string;
}

export type EndpointOrderKey = 'requests' | 'errorRate' | 'dbShare' | 'all';

/**
 * Totals per endpoint over a range, with histograms. Ordered and cut in SQL by a key
 * that needs no histogram; 'all' returns every endpoint with traffic (for ordering by a
 * percentile, which only the caller can compute). The totals are an index-only read
 * (api_metrics_rollup_endpoint_series, V0.0.44); histograms are read only for the
 * endpoints chosen.
 */
export async function endpointTotals(
  db: Queryable,
  tenantId: string,
  segments: Segment[],
  { orderBy, limit }: { orderBy: EndpointOrderKey; limit: number | null },
): Promise<EndpointTotals[]> {
  const result = await db.query<TotalRow & { endpoint: string }>(
    `WITH totals AS (
       SELECT r.endpoint, ${TOTAL_COLUMNS}
         FROM api_metrics_rollup r
        WHERE r.tenant_id = $1::uuid AND r.endpoint <> '' AND ${segmentCondition('r', 2)}
        GROUP BY r.endpoint HAVING sum(r.requests) > 0
     ), chosen AS (
       SELECT * FROM totals
        ORDER BY CASE $12::text WHEN 'requests' THEN requests
                                WHEN 'errorRate' THEN errors / requests
                                WHEN 'dbShare' THEN db_ms / nullif(sum_ms, 0) END DESC NULLS LAST, endpoint
        LIMIT $13::integer
     )
     SELECT c.*, h.hist_text
       FROM chosen c
       LEFT JOIN (SELECT h.endpoint, string_agg(h.hist::text, '') AS hist_text
                    FROM api_metrics_rollup h
                   WHERE h.tenant_id = $1::uuid AND h.endpoint = ANY ((SELECT array_agg(endpoint) FROM chosen)::text[])
                     AND ${segmentCondition('h', 2)}
                   GROUP BY h.endpoint) h USING (endpoint)
      ORDER BY c.endpoint`,
    [tenantId, ...segmentValues(segments), orderBy, limit],
  );
  return result.rows.map((row) => ({ endpoint: row.endpoint, ...toTotals(row) }));
}

/** Endpoints with requests in a range, busiest first (template variables, per-endpoint series). */
export async function busiestEndpoints(db: Queryable, tenantId: string, segments: Segment[], limit: number): Promise<string[]> {
  const result = await db.query<{ endpoint: string }>(
    `SELECT r.endpoint
       FROM api_metrics_rollup r
      WHERE r.tenant_id = $1::uuid AND r.endpoint <> '' AND ${segmentCondition('r', 2)}
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
  histText: string | null;
  /** STORED_PERCENTILES of the step, when it is a single rollup row; else null. */
  storedPercentiles: Array<number | null> | null;
}

/**
 * A series per endpoint ('' = all) from one rollup resolution: buckets in [start, to)
 * summed into steps of stepMs (a multiple of the resolution), aligned to STEP_ORIGIN.
 * Only what is asked for is read: counts (else 0), histograms (else null; without them
 * the read is index-only, V0.0.44), stored percentiles (else null; they are those of a
 * step made of one row, which is all a series whose step is the resolution needs).
 * Fewer columns matter here: a series of thousands of rows parses in proportion.
 */
export async function requestSeries(
  db: Queryable,
  tenantId: string,
  { endpoints, resolution, start, to, stepMs, withCounts, withHistograms, withStoredPercentiles }: {
    endpoints: string[];
    resolution: string;
    start: Date;
    to: Date;
    stepMs: number;
    withCounts: boolean;
    withHistograms: boolean;
    withStoredPercentiles: boolean;
  },
): Promise<RequestPoint[]> {
  const columns = [
    withCounts ? `sum(r.requests)::float8 AS requests, sum(r.errors)::float8 AS errors, sum(r.client_errors)::float8 AS client_errors,
                  sum(r.sum_ms)::float8 AS sum_ms, max(r.max_ms)::float8 AS max_ms` : null,
    withHistograms ? `string_agg(r.hist::text, '') AS hist_text` : null,
    withStoredPercentiles ? `count(*) = 1 AS single, max(r.p50_ms)::float8 AS p50, max(r.p90_ms)::float8 AS p90,
                             max(r.p95_ms)::float8 AS p95, max(r.p99_ms)::float8 AS p99` : null,
  ].filter(Boolean);
  const result = await db.query<{
    endpoint: string; time_ms: number; requests?: number; errors?: number; client_errors?: number;
    sum_ms?: number; max_ms?: number | null; hist_text?: string | null;
    p50?: number | null; p90?: number | null; p95?: number | null; p99?: number | null; single?: boolean;
  }>(
    `SELECT r.endpoint,
            extract(epoch FROM date_bin(make_interval(secs => $6::float8 / 1000), r.bucket, timestamptz '${STEP_ORIGIN}'))::float8 * 1000 AS time_ms
            ${columns.map((c) => `, ${c}`).join('')}
       FROM api_metrics_rollup r
      WHERE r.tenant_id = $1::uuid AND r.resolution = $2::text AND r.bucket >= $3::timestamptz AND r.bucket < $4::timestamptz
        AND r.endpoint = ANY ($5::text[])
      GROUP BY 1, 2
      ORDER BY 1, 2`,
    [tenantId, resolution, start, to, endpoints, stepMs],
  );
  return result.rows.map((row) => ({
    endpoint: row.endpoint,
    time: new Date(row.time_ms),
    requests: row.requests ?? 0,
    errors: row.errors ?? 0,
    clientErrors: row.client_errors ?? 0,
    sumMs: row.sum_ms ?? 0,
    maxMs: row.max_ms ?? null,
    histText: row.hist_text ?? null,
    storedPercentiles: row.single ? [row.p50 ?? null, row.p90 ?? null, row.p95 ?? null, row.p99 ?? null] : null,
  }));
}
