// Raw reads of api_performance_log and system_resource_metrics for short windows
// (src/query/timeRange.ts: at most RAW_WINDOW_MS, steps finer than the 5-minute
// rollups). Every read is capped with LIMIT, so no query reads more than `limit` rows of
// the tenant; the caller first counts (also capped) and falls back to the rollups when
// the window holds more. user_id is never selected.
import { STEP_ORIGIN, type RequestCounts } from './requestRollups';
import type { Queryable } from './tenantSession';

/** Rows of the tenant in [from, to), counted up to limit + 1. */
export async function countRawRequests(
  db: Queryable,
  tenantId: string,
  { from, to, endpoint, limit }: { from: Date; to: Date; endpoint: string | null; limit: number },
): Promise<number> {
  const result = await db.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM (
       SELECT 1 FROM api_performance_log
        WHERE tenant_id = $1::uuid AND "timestamp" >= $2::timestamptz AND "timestamp" < $3::timestamptz
          AND ($4::text IS NULL OR endpoint = $4::text)
        LIMIT $5::integer + 1) capped`,
    [tenantId, from, to, endpoint, limit],
  );
  return result.rows[0]?.n ?? 0;
}

export interface RawRequestPoint extends RequestCounts {
  time: Date;
  /** percentile_cont of the response times, one per requested fraction. */
  percentiles: number[];
}

/** A series of requests from raw rows, with exact percentiles (fractions 0..1). */
export async function rawRequestSeries(
  db: Queryable,
  tenantId: string,
  { from, to, stepMs, endpoint, fractions, limit }: {
    from: Date; to: Date; stepMs: number; endpoint: string | null; fractions: number[]; limit: number;
  },
): Promise<RawRequestPoint[]> {
  const result = await db.query<{
    time: Date; requests: number; errors: number; client_errors: number; sum_ms: number; max_ms: number | null; percentiles: number[];
  }>(
    `SELECT date_bin(make_interval(secs => $4::float8 / 1000), "timestamp", timestamptz '${STEP_ORIGIN}') AS time,
            count(*)::float8 AS requests,
            count(*) FILTER (WHERE status_code >= 500)::float8 AS errors,
            count(*) FILTER (WHERE status_code BETWEEN 400 AND 499)::float8 AS client_errors,
            sum(response_time_ms)::float8 AS sum_ms, max(response_time_ms)::float8 AS max_ms,
            percentile_cont($6::float8[]) WITHIN GROUP (ORDER BY response_time_ms) AS percentiles
       FROM (SELECT "timestamp", response_time_ms, status_code
               FROM api_performance_log
              WHERE tenant_id = $1::uuid AND "timestamp" >= $2::timestamptz AND "timestamp" < $3::timestamptz
                AND ($5::text IS NULL OR endpoint = $5::text)
              LIMIT $7::integer) capped
      GROUP BY 1 ORDER BY 1`,
    [tenantId, from, to, stepMs, endpoint, fractions, limit],
  );
  return result.rows.map((row) => ({
    time: row.time,
    requests: row.requests,
    errors: row.errors,
    clientErrors: row.client_errors,
    sumMs: row.sum_ms,
    maxMs: row.max_ms,
    percentiles: (row.percentiles ?? []).map(Number),
  }));
}
