// Partition upkeep and inspection. The work is done by the SQL function
// maintain_performance_partitions (migrations/V0.0.40__add_performance_monitoring_olap.sql,
// with retention of every table since migrations/V0.0.41__baseline.sql).
import type { Pool } from 'pg';

export interface PartitionAction {
  /** purged: rows deleted past their retention (DEFAULT partitions, rollups, cache, fingerprints). */
  action: 'created' | 'dropped' | 'purged';
  tableName: string;
  detail: string;
}

export async function maintainPartitions(
  pool: Pool,
  { monthsAhead, retentionDays, now }: { monthsAhead: number; retentionDays: number; now?: Date },
): Promise<PartitionAction[]> {
  const result = await pool.query<{ action: PartitionAction['action']; table_name: string; detail: string }>(
    `SELECT action, table_name, detail
       FROM maintain_performance_partitions($1::integer, make_interval(days => $2::integer), coalesce($3::timestamptz, now()))`,
    [monthsAhead, retentionDays, now ?? null],
  );
  return result.rows.map((row) => ({ action: row.action, tableName: row.table_name, detail: row.detail }));
}

export interface PartitionInfo {
  parent: string;
  partition: string;
  isDefault: boolean;
  rangeFrom: Date | null;
  rangeTo: Date | null;
  totalBytes: number;
  rowEstimate: number;
}

// Takes a pool or a client (the query API reads it inside its read session).
export async function listPartitions(pool: Pick<Pool, 'query'>): Promise<PartitionInfo[]> {
  const result = await pool.query<{
    parent: string;
    partition: string;
    is_default: boolean;
    range_from: Date | null;
    range_to: Date | null;
    total_bytes: string;
    row_estimate: string;
  }>(`
    SELECT p.relname AS parent, c.relname AS partition,
           pg_get_expr(c.relpartbound, c.oid) = 'DEFAULT' AS is_default,
           (regexp_match(pg_get_expr(c.relpartbound, c.oid), 'FROM \\(''([^'']+)''\\)'))[1]::timestamptz AS range_from,
           (regexp_match(pg_get_expr(c.relpartbound, c.oid), 'TO \\(''([^'']+)''\\)'))[1]::timestamptz AS range_to,
           pg_total_relation_size(c.oid) AS total_bytes,
           greatest(c.reltuples, 0)::bigint AS row_estimate
      FROM pg_inherits i
      JOIN pg_class c ON c.oid = i.inhrelid
      JOIN pg_class p ON p.oid = i.inhparent
     WHERE p.relname IN ('query_performance_log', 'api_performance_log', 'system_resource_metrics')
       AND p.relnamespace = 'public'::regnamespace
     ORDER BY p.relname, c.relname`);
  return result.rows.map((row) => ({
    parent: row.parent,
    partition: row.partition,
    isDefault: row.is_default,
    rangeFrom: row.range_from,
    rangeTo: row.range_to,
    totalBytes: Number(row.total_bytes),
    rowEstimate: Number(row.row_estimate),
  }));
}
