// storage_snapshots (migrations/V0.0.41__baseline.sql): one row per raw log and day with its size, row estimate
// and partition count, written by the optimization engine's run (the latest run of the
// day wins). Read for growth per day, the storage series, and "partition count growing".
import type { Pool } from 'pg';
import { listPartitions } from './partitions';
import type { Queryable } from './tenantSession';

export interface TableStorage {
  table: string;
  partitions: number;
  totalBytes: number;
  rowEstimate: number;
}

/** The raw logs now: partitions (the DEFAULT one included, as the runbook counts them), bytes, rows. */
export async function currentStorage(db: Queryable): Promise<TableStorage[]> {
  const byTable = new Map<string, TableStorage>();
  for (const p of await listPartitions(db)) {
    const entry = byTable.get(p.parent) ?? { table: p.parent, partitions: 0, totalBytes: 0, rowEstimate: 0 };
    entry.partitions += 1;
    entry.totalBytes += p.totalBytes;
    entry.rowEstimate += p.rowEstimate;
    byTable.set(p.parent, entry);
  }
  return [...byTable.values()].sort((a, b) => a.table.localeCompare(b.table));
}

export async function recordStorageSnapshot(pool: Pool, tables: TableStorage[], takenAt: Date): Promise<void> {
  await pool.query(
    `INSERT INTO storage_snapshots AS s (taken_on, table_name, partitions, total_bytes, row_estimate, taken_at)
     SELECT ($6::timestamptz AT TIME ZONE 'UTC')::date, t.table_name, t.partitions, t.total_bytes, t.row_estimate, $6::timestamptz
       FROM unnest($1::text[], $2::integer[], $3::bigint[], $4::bigint[]) AS t(table_name, partitions, total_bytes, row_estimate)
      WHERE $5::boolean
     ON CONFLICT (taken_on, table_name) DO UPDATE SET
       partitions = EXCLUDED.partitions, total_bytes = EXCLUDED.total_bytes,
       row_estimate = EXCLUDED.row_estimate, taken_at = EXCLUDED.taken_at
     WHERE s.taken_at <= EXCLUDED.taken_at`,
    [tables.map((t) => t.table), tables.map((t) => t.partitions), tables.map((t) => t.totalBytes), tables.map((t) => t.rowEstimate), tables.length > 0, takenAt],
  );
}

export interface StorageSnapshot extends TableStorage {
  takenAt: Date;
}

/** Snapshots taken in [from, to), oldest first. */
export async function storageSnapshots(db: Queryable, { from, to }: { from: Date; to: Date }): Promise<StorageSnapshot[]> {
  const result = await db.query<{ table_name: string; partitions: number; total_bytes: string; row_estimate: string; taken_at: Date }>(
    `SELECT table_name, partitions, total_bytes::text AS total_bytes, row_estimate::text AS row_estimate, taken_at
       FROM storage_snapshots
      WHERE taken_on >= ($1::timestamptz AT TIME ZONE 'UTC')::date AND taken_at >= $1::timestamptz AND taken_at < $2::timestamptz
      ORDER BY taken_at, table_name`,
    [from, to],
  );
  return result.rows.map((row) => ({
    table: row.table_name,
    partitions: row.partitions,
    totalBytes: Number(row.total_bytes),
    rowEstimate: Number(row.row_estimate),
    takenAt: row.taken_at,
  }));
}
