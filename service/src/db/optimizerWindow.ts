// Reads of the optimization engine over its recent window, for every tenant at once.
// The engine runs as the tables' owner (a scheduled job, not a request), so these read
// across tenants and group by tenant_id. All read rollups, except nPlusOneGroups,
// which must see single requests and reads at most maxRows raw rows.
import type { Pool } from 'pg';

export interface Window {
  from: Date;
  to: Date;
}

export interface EndpointWindow {
  tenantId: string;
  endpoint: string;
  requests: number;
  errors: number;
  sumMs: number;
  dbMs: number;
  /** The window's histograms, packed and concatenated (src/rollups/histogram.ts). */
  hist: Buffer | null;
}

/** Requests per tenant and endpoint in the window, from the 5-minute rollups. */
export async function endpointWindowStats(pool: Pool, window: Window): Promise<EndpointWindow[]> {
  const result = await pool.query<{ tenant_id: string; endpoint: string; requests: number; errors: number; sum_ms: number; db_ms: number; hist: Buffer | null }>(
    `SELECT tenant_id::text AS tenant_id, endpoint, sum(requests)::float8 AS requests, sum(errors)::float8 AS errors,
            sum(sum_ms)::float8 AS sum_ms, sum(db_ms)::float8 AS db_ms, string_agg(hist, ''::bytea) AS hist
       FROM api_metrics_rollup
      WHERE resolution = '5m' AND bucket >= $1::timestamptz AND bucket < $2::timestamptz AND endpoint <> ''
      GROUP BY tenant_id, endpoint
     HAVING sum(requests) > 0`,
    [window.from, window.to],
  );
  return result.rows.map((row) => ({
    tenantId: row.tenant_id, endpoint: row.endpoint, requests: row.requests, errors: row.errors,
    sumMs: row.sum_ms, dbMs: row.db_ms, hist: row.hist,
  }));
}

export interface ResourceWindow {
  tenantId: string;
  source: string;
  samples: number;
  /** The highest 5-minute average CPU, and when. */
  peakCpu: number | null;
  peakCpuAt: Date | null;
  avgCpu: number | null;
  /** The highest 5-minute average memory use as a share of the total (0..100), and when. */
  peakMemoryPercent: number | null;
  peakMemoryAt: Date | null;
  memoryTotalMb: number | null;
  /** The most connections seen against the pool maximum (0..100), and when. */
  peakPoolPercent: number | null;
  peakPoolAt: Date | null;
  maxConnections: number | null;
  poolMax: number | null;
}

/**
 * Resource pressure per tenant and source in the window. CPU and memory use the highest
 * 5-minute average, so one spiky sample does not raise advice; the pool uses the peak,
 * since a pool at its maximum makes requests wait at once.
 */
export async function resourceWindowStats(pool: Pool, window: Window): Promise<ResourceWindow[]> {
  const result = await pool.query<{
    tenant_id: string; source: string; samples: number; peak_cpu: number | null; peak_cpu_at: Date | null; avg_cpu: number | null;
    peak_memory_percent: number | null; peak_memory_at: Date | null; memory_total: number | null;
    peak_pool_percent: number | null; peak_pool_at: Date | null; max_connections: number | null; pool_max: number | null;
  }>(
    `WITH buckets AS (
       SELECT tenant_id, source, bucket, samples, sum_cpu, max_connections, pool_max, memory_total,
              sum_cpu / nullif(samples, 0) AS cpu,
              100 * (sum_memory / nullif(samples, 0)) / nullif(memory_total, 0) AS memory_percent,
              100 * max_connections::float8 / nullif(pool_max, 0) AS pool_percent
         FROM resource_metrics_rollup
        WHERE bucket >= $1::timestamptz AND bucket < $2::timestamptz
     )
     SELECT tenant_id::text AS tenant_id, source, sum(samples)::float8 AS samples,
            max(cpu)::float8 AS peak_cpu, (array_agg(bucket ORDER BY cpu DESC NULLS LAST))[1] AS peak_cpu_at,
            (sum(sum_cpu) / nullif(sum(samples), 0))::float8 AS avg_cpu,
            max(memory_percent)::float8 AS peak_memory_percent,
            (array_agg(bucket ORDER BY memory_percent DESC NULLS LAST))[1] AS peak_memory_at,
            max(memory_total)::float8 AS memory_total,
            max(pool_percent)::float8 AS peak_pool_percent,
            (array_agg(bucket ORDER BY pool_percent DESC NULLS LAST))[1] AS peak_pool_at,
            max(max_connections)::float8 AS max_connections, max(pool_max)::float8 AS pool_max
       FROM buckets
      GROUP BY tenant_id, source`,
    [window.from, window.to],
  );
  return result.rows.map((row) => ({
    tenantId: row.tenant_id, source: row.source, samples: row.samples,
    peakCpu: row.peak_cpu, peakCpuAt: row.peak_cpu_at, avgCpu: row.avg_cpu,
    peakMemoryPercent: row.peak_memory_percent, peakMemoryAt: row.peak_memory_at, memoryTotalMb: row.memory_total,
    peakPoolPercent: row.peak_pool_percent, peakPoolAt: row.peak_pool_at, maxConnections: row.max_connections, poolMax: row.pool_max,
  }));
}

export interface NPlusOneGroup {
  tenantId: string;
  endpoint: string;
  queryHash: string;
  preview: string;
  requestsAffected: number;
  avgQueriesPerRequest: number;
  maxQueriesPerRequest: number;
  avgRepeatedMsPerRequest: number;
  maxRepeatedMsPerRequest: number;
}

/**
 * Requests in the window that ran one fingerprint at least minQueries times for more
 * than minTotalMs in all (Sentry's N+1 rule: 5 or more similar queries over 50 ms),
 * grouped by tenant, endpoint and fingerprint. Reads at most maxRows raw rows of the
 * window per tenant, so one busy tenant cannot use up the others' share; rowsRead is
 * the most any tenant had read (the cap was reached when it equals maxRows), and each
 * group carries its own tenant's.
 */
export async function nPlusOneGroups(
  pool: Pool,
  window: Window,
  { minQueries, minTotalMs, maxRows }: { minQueries: number; minTotalMs: number; maxRows: number },
): Promise<{ groups: Array<NPlusOneGroup & { rowsRead: number }>; rowsRead: number }> {
  const result = await pool.query<{
    tenant_id: string; endpoint: string; query_hash: string; preview: string; requests: number;
    avg_queries: number; max_queries: number; avg_ms: number; max_ms: number; rows_read: number; most_rows_read: number;
  }>(
    `WITH numbered AS (
       SELECT tenant_id, request_id, query_hash, endpoint, execution_time_ms, query_preview,
              row_number() OVER (PARTITION BY tenant_id) AS nth
         FROM query_performance_log
        WHERE "timestamp" >= $1::timestamptz AND "timestamp" < $2::timestamptz AND request_id IS NOT NULL
     ), raw AS (
       SELECT * FROM numbered WHERE nth <= $5::integer
     ), read_per_tenant AS (
       SELECT tenant_id, count(*)::float8 AS n FROM raw GROUP BY tenant_id
     ), per_request AS (
       SELECT tenant_id, request_id, query_hash, coalesce(min(endpoint), '') AS endpoint, count(*) AS n,
              sum(execution_time_ms) AS total_ms, min(query_preview) AS preview
         FROM raw GROUP BY tenant_id, request_id, query_hash
        HAVING count(*) >= $3::integer AND sum(execution_time_ms) > $4::float8
     )
     SELECT tenant_id::text AS tenant_id, endpoint, query_hash::text AS query_hash,
            -- Fast rows leave query_preview NULL; the fingerprint has the text.
            coalesce(min(preview), (SELECT f.query_preview FROM query_fingerprints f
                                     WHERE f.tenant_id = per_request.tenant_id AND f.query_hash = per_request.query_hash), '') AS preview,
            count(*)::float8 AS requests, avg(n)::float8 AS avg_queries, max(n)::float8 AS max_queries,
            avg(total_ms)::float8 AS avg_ms, max(total_ms)::float8 AS max_ms,
            (SELECT r.n FROM read_per_tenant r WHERE r.tenant_id = per_request.tenant_id) AS rows_read,
            (SELECT max(r.n) FROM read_per_tenant r) AS most_rows_read
       FROM per_request
      GROUP BY tenant_id, endpoint, query_hash
      ORDER BY tenant_id, avg(total_ms) * count(*) DESC`,
    [window.from, window.to, minQueries, minTotalMs, maxRows],
  );
  const rowsRead = result.rows[0]?.most_rows_read ?? (await countRaw(pool, window, maxRows));
  return {
    rowsRead,
    groups: result.rows.map((row) => ({
      tenantId: row.tenant_id, endpoint: row.endpoint, queryHash: row.query_hash, preview: row.preview,
      requestsAffected: row.requests, avgQueriesPerRequest: row.avg_queries, maxQueriesPerRequest: row.max_queries,
      avgRepeatedMsPerRequest: row.avg_ms, maxRepeatedMsPerRequest: row.max_ms, rowsRead: row.rows_read,
    })),
  };
}

/** The most raw rows of the window any tenant has, at most maxRows. */
async function countRaw(pool: Pool, window: Window, maxRows: number): Promise<number> {
  const result = await pool.query<{ n: number }>(
    `SELECT coalesce(least(max(n), $3::integer), 0)::float8 AS n FROM (SELECT count(*) AS n FROM query_performance_log
       WHERE "timestamp" >= $1::timestamptz AND "timestamp" < $2::timestamptz AND request_id IS NOT NULL GROUP BY tenant_id) per_tenant`,
    [window.from, window.to, maxRows],
  );
  return result.rows[0]?.n ?? 0;
}

export interface SlowFingerprint {
  tenantId: string;
  queryHash: string;
  preview: string;
  calls: number;
  slowCalls: number;
  totalMs: number;
  maxMs: number | null;
  /** Collected from a monitored database's pg_stat_statements in the window. */
  collected: boolean;
}

/** Per tenant, the perTenant fingerprints with slow calls in the window that took the most time. */
export async function slowFingerprints(pool: Pool, window: Window, perTenant: number): Promise<SlowFingerprint[]> {
  // A fingerprint collected from pg_stat_statements in the window counts its collected
  // calls instead of its reported ones (the rule of slowQueries).
  const result = await pool.query<{
    tenant_id: string; query_hash: string; query_preview: string; calls: number; slow_calls: number; total_ms: number; max_ms: number | null;
    collected: boolean;
  }>(
    `WITH reported AS (
       SELECT tenant_id, query_hash, sum(calls)::float8 AS calls, sum(slow_calls)::float8 AS slow_calls,
              sum(total_ms)::float8 AS total_ms, max(max_ms)::float8 AS max_ms
         FROM query_metrics_rollup
        WHERE resolution = '5m' AND bucket >= $1::timestamptz AND bucket < $2::timestamptz
        GROUP BY tenant_id, query_hash
     ), collected AS (
       SELECT tenant_id, query_hash, sum(calls)::float8 AS calls, sum(slow_calls)::float8 AS slow_calls,
              sum(total_ms)::float8 AS total_ms, max(max_ms)::float8 AS max_ms
         FROM collected_query_stats
        WHERE resolution = '5m' AND bucket >= $1::timestamptz AND bucket < $2::timestamptz
        GROUP BY tenant_id, query_hash
     ), merged AS (
       SELECT coalesce(c.tenant_id, r.tenant_id) AS tenant_id, coalesce(c.query_hash, r.query_hash) AS query_hash,
              CASE WHEN c.query_hash IS NULL THEN r.calls ELSE c.calls END AS calls,
              CASE WHEN c.query_hash IS NULL THEN r.slow_calls ELSE c.slow_calls END AS slow_calls,
              CASE WHEN c.query_hash IS NULL THEN r.total_ms ELSE c.total_ms END AS total_ms,
              greatest(c.max_ms, r.max_ms) AS max_ms, c.query_hash IS NOT NULL AS collected
         FROM reported r FULL JOIN collected c ON c.tenant_id = r.tenant_id AND c.query_hash = r.query_hash
     )
     SELECT s.tenant_id::text AS tenant_id, s.query_hash::text AS query_hash, f.query_preview, s.calls, s.slow_calls, s.total_ms, s.max_ms, s.collected
       FROM (SELECT m.*, row_number() OVER (PARTITION BY m.tenant_id ORDER BY m.total_ms DESC, m.query_hash) AS rank
               FROM merged m WHERE m.slow_calls > 0) s
       JOIN query_fingerprints f ON f.tenant_id = s.tenant_id AND f.query_hash = s.query_hash
      WHERE s.rank <= $3::integer
      ORDER BY s.tenant_id, s.total_ms DESC`,
    [window.from, window.to, perTenant],
  );
  return result.rows.map((row) => ({
    tenantId: row.tenant_id, queryHash: row.query_hash, preview: row.query_preview, calls: row.calls,
    slowCalls: row.slow_calls, totalMs: row.total_ms, maxMs: row.max_ms, collected: row.collected,
  }));
}

/** Per tenant with cache rows since activeSince: seconds since its cache was last updated. */
export async function cacheAgeByTenant(pool: Pool, activeSince: Date): Promise<Array<{ tenantId: string; lastUpdated: Date; ageSeconds: number }>> {
  const result = await pool.query<{ tenant_id: string; last_updated: Date; age: number }>(
    `SELECT tenant_id::text AS tenant_id, max(last_updated) AS last_updated,
            extract(epoch FROM now() - max(last_updated))::float8 AS age
       FROM performance_metrics_cache
      WHERE hour_bucket >= date_trunc('hour', $1::timestamptz, 'UTC')
      GROUP BY tenant_id`,
    [activeSince],
  );
  return result.rows.map((row) => ({ tenantId: row.tenant_id, lastUpdated: row.last_updated, ageSeconds: row.age }));
}
