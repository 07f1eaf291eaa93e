// The monitored application's tables and indexes, from the catalog and the statistics
// views, for the index detectors. The application's tables live in the database the
// service connects to, in one schema (MONITORED_SCHEMA, default public). The product's
// own tables (PRODUCT_TABLES and their partitions) are never advised on.
import type { Pool } from 'pg';

/**
 * Every table the migrations create. A table added by a new migration must be added
 * here; test/optimizer.indexDetectors.test.ts fails when a freshly migrated database
 * shows any table as the application's.
 */
export const PRODUCT_TABLES = [
  'agog_schema_history',
  'query_performance_log', 'api_performance_log', 'system_resource_metrics', 'performance_metrics_cache',
  'performance_settings', 'api_rollup_pending', 'query_rollup_pending', 'resource_rollup_pending',
  'api_metrics_rollup', 'query_metrics_rollup', 'query_fingerprints', 'query_endpoints', 'resource_metrics_rollup',
  'rollup_refresh_state', 'api_tokens', 'scheduler_job_runs',
  'optimization_recommendations', 'storage_snapshots',
  'collected_query_stats', 'collector_snapshots',
  'ingest_idempotency_keys',
];

// A relation belongs to the application when it is in the schema and neither it nor the
// root of its partition tree is one of the product's tables.
const APPLICATION_RELATION = `
  n.nspname = $1::text
  AND (SELECT r.relname FROM pg_class r WHERE r.oid = coalesce(pg_partition_root(c.oid), c.oid)) <> ALL ($2::text[])`;

/** Application tables (ordinary and partitioned) of the schema. */
export async function applicationTables(pool: Pool, schema: string): Promise<string[]> {
  const result = await pool.query<{ relname: string }>(
    `SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE c.relkind IN ('r', 'p') AND ${APPLICATION_RELATION}
      ORDER BY c.relname`,
    [schema, PRODUCT_TABLES],
  );
  return result.rows.map((row) => row.relname);
}

export interface TableForAdvice {
  rowEstimate: number;
  columns: string[];
  /** Key columns of each valid index, in order (expressions as null). */
  indexes: Array<Array<string | null>>;
}

/** Row estimate, columns and index keys of one application table; undefined for product tables or unknown ones. */
export async function tableForAdvice(pool: Pool, schema: string, table: string): Promise<TableForAdvice | undefined> {
  const result = await pool.query<{ row_estimate: string; columns: string[]; indexes: Array<Array<string | null>> | null }>(
    `SELECT greatest(c.reltuples, 0)::bigint::text AS row_estimate,
            (SELECT array_agg(a.attname::text ORDER BY a.attnum) FROM pg_attribute a
              WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped) AS columns,
            (SELECT json_agg((SELECT json_agg(a.attname ORDER BY k.ord)
                                FROM unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord)
                                LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = k.attnum AND k.attnum > 0))
               FROM pg_index i WHERE i.indrelid = c.oid AND i.indisvalid) AS indexes
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE c.relname = $3::text AND c.relkind IN ('r', 'p') AND ${APPLICATION_RELATION}`,
    [schema, PRODUCT_TABLES, table],
  );
  const row = result.rows[0];
  if (!row) return undefined;
  return { rowEstimate: Number(row.row_estimate), columns: row.columns ?? [], indexes: row.indexes ?? [] };
}

export interface UnusedIndex {
  table: string;
  index: string;
  definition: string;
  bytes: number;
  tableReads: number;
  statsSince: Date | null;
}

/**
 * Indexes never scanned since statistics were last reset, on tables that are read,
 * that enforce nothing (not unique, not a primary key, not behind a constraint) and
 * are at least minBytes large.
 */
export async function unusedIndexes(pool: Pool, schema: string, minBytes: number): Promise<UnusedIndex[]> {
  const result = await pool.query<{ table: string; index: string; definition: string; bytes: string; table_reads: string; stats_since: Date | null }>(
    `SELECT s.relname AS table, s.indexrelname AS index, pg_get_indexdef(s.indexrelid) AS definition,
            pg_relation_size(s.indexrelid)::text AS bytes,
            (coalesce(t.seq_scan, 0) + coalesce(t.idx_scan, 0))::text AS table_reads,
            (SELECT stats_reset FROM pg_stat_database WHERE datname = current_database()) AS stats_since
       FROM pg_stat_user_indexes s
       JOIN pg_index i ON i.indexrelid = s.indexrelid
       JOIN pg_stat_user_tables t ON t.relid = s.relid
       JOIN pg_class c ON c.oid = s.relid
       JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE ${APPLICATION_RELATION}
        AND s.idx_scan = 0 AND i.indisvalid AND NOT i.indisunique AND NOT i.indisprimary
        AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = s.indexrelid)
        AND pg_relation_size(s.indexrelid) >= $3::bigint
        AND coalesce(t.seq_scan, 0) + coalesce(t.idx_scan, 0) > 0
      ORDER BY pg_relation_size(s.indexrelid) DESC, s.indexrelname`,
    [schema, PRODUCT_TABLES, minBytes],
  );
  return result.rows.map((row) => ({
    table: row.table,
    index: row.index,
    definition: row.definition,
    bytes: Number(row.bytes),
    tableReads: Number(row.table_reads),
    statsSince: row.stats_since,
  }));
}

export interface DuplicateIndex {
  table: string;
  /** The index that can go. */
  index: string;
  definition: string;
  bytes: number;
  /** The index that covers it. */
  coveredBy: string;
  coveredByDefinition: string;
  /** exact: same key; prefix: its key is a leading part of the other's. */
  relation: 'exact' | 'prefix';
}

/**
 * Pairs of indexes of one table with the same access method, predicate, expressions,
 * operator classes and collations, where one's key equals or is a leading prefix of the
 * other's. The redundant one is never unique or behind a constraint; for equal keys the
 * one with the higher oid (the later) goes.
 */
export async function duplicateIndexes(pool: Pool, schema: string): Promise<DuplicateIndex[]> {
  const result = await pool.query<{
    table: string; index: string; definition: string; bytes: string; covered_by: string; covered_by_definition: string; relation: 'exact' | 'prefix';
  }>(
    `WITH idx AS (
       SELECT i.indexrelid, i.indrelid, c.relname AS table_name, x.relname AS index_name, x.relam,
              i.indkey::text AS keys, i.indclass::text AS classes, i.indcollation::text AS collations,
              coalesce(pg_get_expr(i.indexprs, i.indrelid), '') AS exprs, coalesce(pg_get_expr(i.indpred, i.indrelid), '') AS pred,
              i.indisunique OR i.indisprimary OR EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid) AS enforces
         FROM pg_index i
         JOIN pg_class c ON c.oid = i.indrelid
         JOIN pg_class x ON x.oid = i.indexrelid
         JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE i.indisvalid AND ${APPLICATION_RELATION}
     )
     SELECT a.table_name AS table, a.index_name AS index, pg_get_indexdef(a.indexrelid) AS definition,
            pg_relation_size(a.indexrelid)::text AS bytes, b.index_name AS covered_by,
            pg_get_indexdef(b.indexrelid) AS covered_by_definition,
            CASE WHEN a.keys = b.keys THEN 'exact' ELSE 'prefix' END AS relation
       FROM idx a
       JOIN idx b ON b.indrelid = a.indrelid AND b.indexrelid <> a.indexrelid AND b.relam = a.relam
                 AND b.exprs = a.exprs AND b.pred = a.pred
      WHERE NOT a.enforces
        AND a.relam = (SELECT oid FROM pg_am WHERE amname = 'btree')
        AND ((a.keys = b.keys AND a.classes = b.classes AND a.collations = b.collations
              AND (b.enforces OR a.indexrelid > b.indexrelid))
          OR (b.keys LIKE a.keys || ' %' AND b.classes LIKE a.classes || ' %' AND b.collations LIKE a.collations || ' %'))
      ORDER BY a.table_name, a.index_name, a.keys = b.keys DESC, b.index_name`,
    [schema, PRODUCT_TABLES],
  );
  // One finding per redundant index: an exact duplicate first, else the first index that covers it.
  const seen = new Set<string>();
  return result.rows
    .filter((row) => !seen.has(row.index) && seen.add(row.index))
    .map((row) => ({
      table: row.table,
      index: row.index,
      definition: row.definition,
      bytes: Number(row.bytes),
      coveredBy: row.covered_by,
      coveredByDefinition: row.covered_by_definition,
      relation: row.relation,
    }));
}
