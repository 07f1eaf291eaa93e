// Resource series (CPU, memory, connections against the pool maximum) per source,
// from resource_metrics_rollup (5-minute buckets) or, for short windows, from the raw
// samples in system_resource_metrics (its BRIN index on time; LIMIT-capped).
import { STEP_ORIGIN } from '../rollups/plan';
import type { Queryable } from './tenantSession';

export interface ResourcePoint {
  source: string;
  time: Date;
  samples: number;
  avgCpu: number | null;
  maxCpu: number | null;
  avgMemoryMb: number | null;
  maxMemoryMb: number | null;
  memoryTotalMb: number | null;
  avgConnections: number | null;
  maxConnections: number | null;
  poolMax: number | null;
}

interface PointRow {
  source: string;
  time: Date;
  samples: number;
  avg_cpu: number | null;
  max_cpu: number | null;
  avg_memory: number | null;
  max_memory: number | null;
  memory_total: number | null;
  avg_connections: number | null;
  max_connections: number | null;
  pool_max: number | null;
}

function toPoint(row: PointRow): ResourcePoint {
  return {
    source: row.source,
    time: row.time,
    samples: row.samples,
    avgCpu: row.avg_cpu,
    maxCpu: row.max_cpu,
    avgMemoryMb: row.avg_memory,
    maxMemoryMb: row.max_memory,
    memoryTotalMb: row.memory_total,
    avgConnections: row.avg_connections,
    maxConnections: row.max_connections,
    poolMax: row.pool_max,
  };
}

export interface ResourceSeriesOptions {
  start: Date;
  to: Date;
  stepMs: number;
  source: string | null;
}

/** Per source, 5-minute rollups summed into steps (a multiple of 5 minutes). */
export async function resourceSeries(db: Queryable, tenantId: string, options: ResourceSeriesOptions): Promise<ResourcePoint[]> {
  const result = await db.query<PointRow>(
    `SELECT r.source, date_bin(make_interval(secs => $4::float8 / 1000), r.bucket, timestamptz '${STEP_ORIGIN}') AS time,
            sum(r.samples)::float8 AS samples,
            (sum(r.sum_cpu) / nullif(sum(r.samples), 0))::float8 AS avg_cpu, max(r.max_cpu)::float8 AS max_cpu,
            (sum(r.sum_memory) / nullif(sum(r.samples), 0))::float8 AS avg_memory, max(r.max_memory)::float8 AS max_memory,
            max(r.memory_total)::float8 AS memory_total,
            (sum(r.sum_connections) / nullif(sum(r.samples), 0))::float8 AS avg_connections,
            max(r.max_connections)::float8 AS max_connections, max(r.pool_max)::float8 AS pool_max
       FROM resource_metrics_rollup r
      WHERE r.tenant_id = $1::uuid AND r.bucket >= $2::timestamptz AND r.bucket < $3::timestamptz
        AND ($5::text IS NULL OR r.source = $5::text)
      GROUP BY 1, 2 ORDER BY 1, 2`,
    [tenantId, options.start, options.to, options.stepMs, options.source],
  );
  return result.rows.map(toPoint);
}

/** Per source from raw samples, at most `limit` of them. */
export async function rawResourceSeries(db: Queryable, tenantId: string, options: ResourceSeriesOptions & { limit: number }): Promise<ResourcePoint[]> {
  const result = await db.query<PointRow>(
    `SELECT source, date_bin(make_interval(secs => $4::float8 / 1000), "timestamp", timestamptz '${STEP_ORIGIN}') AS time,
            count(*)::float8 AS samples,
            avg(cpu_usage_percent)::float8 AS avg_cpu, max(cpu_usage_percent)::float8 AS max_cpu,
            avg(memory_used_mb)::float8 AS avg_memory, max(memory_used_mb)::float8 AS max_memory,
            max(memory_total_mb)::float8 AS memory_total,
            avg(active_connections)::float8 AS avg_connections, max(active_connections)::float8 AS max_connections,
            max(pool_max)::float8 AS pool_max
       FROM (SELECT * FROM system_resource_metrics
              WHERE tenant_id = $1::uuid AND "timestamp" >= $2::timestamptz AND "timestamp" < $3::timestamptz
                AND ($5::text IS NULL OR source = $5::text)
              ORDER BY "timestamp" LIMIT $6::integer) capped
      GROUP BY 1, 2 ORDER BY 1, 2`,
    [tenantId, options.start, options.to, options.stepMs, options.source, options.limit],
  );
  return result.rows.map(toPoint);
}
