// Read-only checks behind `agog-perf verify` and `agog-perf doctor`: the original
// runbook's post-deployment verification and its daily and weekly checks.
import type { Pool } from 'pg';

export const PRODUCT_TABLES = ['query_performance_log', 'api_performance_log', 'system_resource_metrics', 'performance_metrics_cache'];
export const PRODUCT_FUNCTIONS = ['refresh_performance_metrics_incremental', 'get_performance_summary', 'maintain_performance_partitions'];

export async function missingObjects(pool: Pool): Promise<{ tables: string[]; functions: string[]; indexes: string[] }> {
  const tables = await pool.query<{ name: string }>(
    `SELECT t AS name FROM unnest($1::text[]) t WHERE to_regclass('public.' || quote_ident(t)) IS NULL`, [PRODUCT_TABLES]);
  const functions = await pool.query<{ name: string }>(
    `SELECT f AS name FROM unnest($1::text[]) f
      WHERE NOT EXISTS (SELECT 1 FROM pg_proc WHERE proname = f AND pronamespace = 'public'::regnamespace)`, [PRODUCT_FUNCTIONS]);
  // Every index the migrations define on the partitioned parents and the cache.
  const indexes = await pool.query<{ name: string }>(
    `SELECT i AS name FROM unnest($1::text[]) i WHERE to_regclass('public.' || quote_ident(i)) IS NULL`,
    [['query_performance_log_timestamp_brin', 'api_performance_log_timestamp_brin', 'system_resource_metrics_timestamp_brin',
      'performance_metrics_cache_pkey', 'performance_metrics_cache_last_updated']]);
  return { tables: tables.rows.map((r) => r.name), functions: functions.rows.map((r) => r.name), indexes: indexes.rows.map((r) => r.name) };
}

/** Inserts one request row, reads it back and rolls the transaction back: nothing remains. */
export async function roundTripTestRow(pool: Pool): Promise<boolean> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    const marker = `verify-${process.pid}-${Date.now()}`;
    await client.query(
      `INSERT INTO api_performance_log ("timestamp", tenant_id, endpoint, method, status_code, response_time_ms, request_id)
       VALUES (now(), 'ffffffff-ffff-4fff-8fff-ffffffffffff', '/verify', 'GET', 200, 1.5, $1::text)`, [marker]);
    const back = await client.query(`SELECT response_time_ms FROM api_performance_log WHERE request_id = $1::text`, [marker]);
    return back.rows.length === 1 && back.rows[0].response_time_ms === 1.5;
  } finally {
    await client.query('ROLLBACK').catch(() => undefined);
    client.release();
  }
}

export interface DoctorFacts {
  cacheStalenessSeconds: number | null;
  partitions: Array<{ parent: string; monthly: number; defaultRows: number; oldestEnd: Date | null; hasNextMonth: boolean }>;
  tableSizes: Array<{ table: string; bytes: number }>;
  unusedIndexes: Array<{ index: string; table: string; bytes: number }>;
  pendingDeltas: number;
  failingJobs: Array<{ job: string; error: string; at: Date }>;
  lowHealth: Array<{ tenantId: string; health: number }>;
}

export async function doctorFacts(pool: Pool): Promise<DoctorFacts> {
  const staleness = await pool.query<{ s: number | null }>(
    `SELECT extract(epoch FROM now() - max(last_updated))::float8 AS s FROM performance_metrics_cache`);
  const partitions = await pool.query<{ parent: string; monthly: number; oldest_end: Date | null; has_next: boolean }>(`
    WITH parts AS (
      SELECT p.relname AS parent, c.relname AS name, pg_get_expr(c.relpartbound, c.oid) AS bound
        FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_class p ON p.oid = i.inhparent
       WHERE p.relname = ANY($1::text[]) AND p.relnamespace = 'public'::regnamespace)
    SELECT parent,
           count(*) FILTER (WHERE bound <> 'DEFAULT')::int AS monthly,
           min((regexp_match(bound, 'TO \\(''([^'']+)''\\)'))[1]::timestamptz) AS oldest_end,
           bool_or(name = parent || '_' || to_char(date_trunc('month', now()) + interval '1 month', 'YYYY_MM')) AS has_next
      FROM parts GROUP BY parent ORDER BY parent`, [PRODUCT_TABLES.slice(0, 3)]);
  const defaults = new Map<string, number>();
  for (const parent of PRODUCT_TABLES.slice(0, 3)) {
    // Bounded: only whether the DEFAULT partition holds rows, and roughly how many.
    const rows = await pool.query<{ n: string }>(`SELECT count(*) AS n FROM (SELECT 1 FROM ${parent}_default LIMIT 100000) s`);
    defaults.set(parent, Number(rows.rows[0]!.n));
  }
  const sizes = await pool.query<{ table: string; bytes: string }>(`
    SELECT c.relname AS table,
           coalesce((SELECT sum(pg_total_relation_size(i.inhrelid)) FROM pg_inherits i WHERE i.inhparent = c.oid), 0)
             + pg_total_relation_size(c.oid) AS bytes
      FROM pg_class c WHERE c.relname = ANY($1::text[]) AND c.relnamespace = 'public'::regnamespace
     ORDER BY 2 DESC`, [PRODUCT_TABLES]);
  const unused = await pool.query<{ index: string; table: string; bytes: string }>(`
    SELECT s.indexrelname AS index, s.relname AS table, pg_relation_size(s.indexrelid) AS bytes
      FROM pg_stat_user_indexes s JOIN pg_index x ON x.indexrelid = s.indexrelid
     WHERE s.idx_scan = 0 AND NOT x.indisunique AND NOT x.indisprimary
       AND (s.relname LIKE '%performance%' OR s.relname LIKE '%metrics%')
       AND pg_relation_size(s.indexrelid) > 1048576
     ORDER BY pg_relation_size(s.indexrelid) DESC LIMIT 20`);
  const pending = await pool.query<{ n: string }>(
    `SELECT (SELECT count(*) FROM api_rollup_pending) + (SELECT count(*) FROM query_rollup_pending)
          + (SELECT count(*) FROM resource_rollup_pending) AS n`);
  const jobs = await pool.query<{ job: string; last_error: string; last_error_at: Date }>(
    `SELECT job, last_error, last_error_at FROM scheduler_job_runs
      WHERE last_error_at IS NOT NULL AND (last_success IS NULL OR last_error_at > last_success) ORDER BY job`);
  const health = await pool.query<{ tenant_id: string; health: number }>(`
    SELECT tenant_id, avg(health_score)::float8 AS health FROM performance_metrics_cache
     WHERE hour_bucket >= now() - interval '1 hour' AND health_score IS NOT NULL
     GROUP BY tenant_id HAVING avg(health_score) < 80 ORDER BY 2`);
  return {
    cacheStalenessSeconds: staleness.rows[0]?.s ?? null,
    partitions: partitions.rows.map((r) => ({
      parent: r.parent, monthly: r.monthly, defaultRows: defaults.get(r.parent) ?? 0, oldestEnd: r.oldest_end, hasNextMonth: r.has_next,
    })),
    tableSizes: sizes.rows.map((r) => ({ table: r.table, bytes: Number(r.bytes) })),
    unusedIndexes: unused.rows.map((r) => ({ index: r.index, table: r.table, bytes: Number(r.bytes) })),
    pendingDeltas: Number(pending.rows[0]!.n),
    failingJobs: jobs.rows.map((r) => ({ job: r.job, error: r.last_error, at: r.last_error_at })),
    lowHealth: health.rows.map((r) => ({ tenantId: r.tenant_id, health: r.health })),
  };
}
