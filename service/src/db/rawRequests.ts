// Raw reads of api_performance_log and system_resource_metrics for short windows
// (src/query/timeRange.ts: at most RAW_WINDOW_MS, steps finer than the 5-minute
// rollups). Every read is capped with LIMIT, so no query reads more than `limit` + 1 rows
// of the tenant; a series whose requests add up to more than `limit` was cut, and the
// caller answers from the rollups instead. user_id is never selected.
import { STEP_ORIGIN, type RequestCounts } from './requestRollups';
import type { Queryable } from './tenantSession';

export interface RawRequestPoint extends RequestCounts {
  time: Date;
  /** percentile_cont of the response times, one per requested fraction. */
  percentiles: number[];
}

/** A series of requests from raw rows, with exact percentiles (fractions 0..1); at most limit + 1 rows read. */
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
              LIMIT $7::integer + 1) capped
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
