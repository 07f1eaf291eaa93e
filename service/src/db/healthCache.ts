// Reads of performance_metrics_cache (one row per tenant and hour) for the query API:
// health score series and totals, recomputed with health_score_components (model v2,
// V0.0.41) from the summed counts of the hours in each step, exactly as
// get_performance_summary does for its period; and the hourly scores for annotations.
import { STEP_ORIGIN } from '../rollups/plan';
import type { Queryable } from './tenantSession';

export interface HealthPoint {
  time: Date;
  healthScore: number | null;
  apdex: number | null;
  latencyDeduction: number | null;
  errorDeduction: number | null;
  slowQueryDeduction: number | null;
  resourceDeduction: number | null;
  requests: number;
  queries: number;
  slowQueries: number;
}

interface HealthRow {
  time: Date;
  health_score: number | null;
  apdex: number | null;
  latency_deduction: number | null;
  error_deduction: number | null;
  slow_query_deduction: number | null;
  resource_deduction: number | null;
  requests: number;
  queries: number;
  slow_queries: number;
}

function toPoint(row: HealthRow): HealthPoint {
  return {
    time: row.time,
    healthScore: row.health_score,
    apdex: row.apdex,
    latencyDeduction: row.latency_deduction,
    errorDeduction: row.error_deduction,
    slowQueryDeduction: row.slow_query_deduction,
    resourceDeduction: row.resource_deduction,
    requests: row.requests,
    queries: row.queries,
    slowQueries: row.slow_queries,
  };
}

// The hours of each step summed, then scored. Shared by the series and the totals.
const scoredSteps = (extraColumns = '') => `
  SELECT s.time,${extraColumns} c.health_score::float8 AS health_score, c.apdex::float8 AS apdex,
         c.latency_deduction::float8 AS latency_deduction, c.error_deduction::float8 AS error_deduction,
         c.slow_query_deduction::float8 AS slow_query_deduction, c.resource_deduction::float8 AS resource_deduction,
         coalesce(s.requests, 0)::float8 AS requests, coalesce(s.queries, 0)::float8 AS queries,
         coalesce(s.slow_queries, 0)::float8 AS slow_queries
    FROM steps s
    CROSS JOIN LATERAL health_score_components(
      s.requests, s.satisfied, s.tolerating, s.errors, s.queries, s.slow_queries,
      s.max_cpu, s.max_memory, s.memory_total, s.max_connections, s.pool_max) c`;

const STEP_SUMS = `
  sum(total_requests)::bigint AS requests, sum(satisfied_count)::bigint AS satisfied,
  sum(tolerating_count)::bigint AS tolerating, sum(error_count)::bigint AS errors,
  sum(total_queries)::bigint AS queries, sum(slow_query_count)::bigint AS slow_queries,
  max(max_cpu_usage_percent) AS max_cpu, max(max_memory_used_mb) AS max_memory,
  max(memory_total_mb) AS memory_total, max(max_active_connections) AS max_connections, max(pool_max) AS pool_max`;

/** Health per step (a multiple of one hour) over the hours in [start, to). */
export async function healthSeries(db: Queryable, tenantId: string, { start, to, stepMs }: { start: Date; to: Date; stepMs: number }): Promise<HealthPoint[]> {
  const result = await db.query<HealthRow>(
    `WITH steps AS (
       SELECT date_bin(make_interval(secs => $4::float8 / 1000), hour_bucket, timestamptz '${STEP_ORIGIN}') AS time, ${STEP_SUMS}
         FROM performance_metrics_cache
        WHERE tenant_id = $1::uuid AND hour_bucket >= $2::timestamptz AND hour_bucket < $3::timestamptz
        GROUP BY 1
     ) ${scoredSteps()} ORDER BY s.time`,
    [tenantId, start, to, stepMs],
  );
  return result.rows.map(toPoint);
}

export interface HealthTotals extends HealthPoint {
  lastUpdated: Date | null;
}

/** Health of a whole period: the hours that overlap [from, to), summed and scored once. */
export async function healthTotals(db: Queryable, tenantId: string, { from, to }: { from: Date; to: Date }): Promise<HealthTotals> {
  const result = await db.query<HealthRow & { last_updated: Date | null }>(
    `WITH steps AS (
       SELECT $2::timestamptz AS time, ${STEP_SUMS}, max(last_updated) AS last_updated
         FROM performance_metrics_cache
        WHERE tenant_id = $1::uuid AND hour_bucket >= date_trunc('hour', $2::timestamptz, 'UTC') AND hour_bucket < $3::timestamptz
     ) ${scoredSteps(' s.last_updated,')}`,
    [tenantId, from, to],
  );
  const row = result.rows[0]!;
  return { ...toPoint(row), lastUpdated: row.last_updated };
}

/** The stored hourly scores in [from, to), with the hour before for the first comparison. */
export async function hourlyHealthScores(db: Queryable, tenantId: string, { from, to }: { from: Date; to: Date }): Promise<Array<{ hour: Date; healthScore: number }>> {
  const result = await db.query<{ hour_bucket: Date; health_score: number }>(
    `SELECT hour_bucket, health_score::float8 AS health_score
       FROM performance_metrics_cache
      WHERE tenant_id = $1::uuid AND health_score IS NOT NULL
        AND hour_bucket >= date_trunc('hour', $2::timestamptz, 'UTC') - interval '1 hour' AND hour_bucket < $3::timestamptz
      ORDER BY hour_bucket`,
    [tenantId, from, to],
  );
  return result.rows.map((row) => ({ hour: row.hour_bucket, healthScore: row.health_score }));
}

/** Tenants with cache rows in [from, to): the admin's tenant variable. */
export async function tenantsWithData(db: Queryable, { from, to }: { from: Date; to: Date }): Promise<string[]> {
  const result = await db.query<{ tenant_id: string }>(
    `SELECT DISTINCT tenant_id::text AS tenant_id FROM performance_metrics_cache
      WHERE hour_bucket >= date_trunc('hour', $1::timestamptz, 'UTC') AND hour_bucket < $2::timestamptz
      ORDER BY 1`,
    [from, to],
  );
  return result.rows.map((row) => row.tenant_id);
}
