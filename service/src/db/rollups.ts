// Rollup refresh: the SQL function refresh_performance_metrics_incremental does the work
// (migrations/V0.0.41__baseline.sql); this runs it and times it.
import type { Pool } from 'pg';

export interface RefreshResult {
  rowsWritten: number;
  durationMs: number;
}

export async function refreshRollups(pool: Pool, tenantId: string | null = null): Promise<RefreshResult> {
  const started = process.hrtime.bigint();
  const result = await pool.query<{ written: number }>(
    'SELECT refresh_performance_metrics_incremental($1::uuid) AS written',
    [tenantId],
  );
  return {
    rowsWritten: Number(result.rows[0]?.written ?? 0),
    durationMs: Number(process.hrtime.bigint() - started) / 1e6,
  };
}
