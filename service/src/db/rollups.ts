// Rollup refresh: the SQL function refresh_performance_metrics_incremental does the work
// (see the migrations); this runs it and times it. And the running totals of the daily
// histograms (V0.0.48, cumulate_rollup_histograms) and of the hours within a day and the
// 5-minute buckets within an hour (V0.0.53, cumulate_rollup_prefixes), which
// long-range percentiles read.
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

export interface CumulateResult {
  /** Days added, over every tenant and rollup. */
  daysBuilt: number;
  /** Tenant and rollup pairs rebuilt from an earlier day, because a built day changed. */
  rebuilt: number;
  /** Tenant and rollup pairs stopped by maxDays, with days still to build. */
  unfinished: number;
  /** Periods (a key's day of hours, a key's hour of 5-minute buckets) whose running totals were rebuilt (V0.0.53). */
  periodsBuilt: number;
  /** Rows those periods wrote. */
  prefixRows: number;
  /** Tenant, rollup and resolution triples stopped by maxPeriods, with periods still to build. */
  prefixesUnfinished: number;
  durationMs: number;
}

/** How often the service runs cumulateHistograms (job `cumulate`). */
export const CUMULATE_INTERVAL_MS = 15 * 60_000;

/**
 * Builds the running totals of the daily rollup histograms for the days that ended at
 * least an hour ago, at most maxDays per tenant and rollup (cumulate_rollup_histograms,
 * V0.0.48), then the running totals within a day and within an hour of the periods
 * whose rollup rows changed, at most maxPeriods per tenant, rollup and resolution, the
 * newest first (cumulate_rollup_prefixes, V0.0.53).
 */
export async function cumulateHistograms(
  pool: Pool,
  { tenantId = null, maxDays = 62, maxPeriods = 20_000 }: { tenantId?: string | null; maxDays?: number; maxPeriods?: number } = {},
): Promise<CumulateResult> {
  const started = process.hrtime.bigint();
  const result = await pool.query<{ rebuilt_from: Date | null; days_built: number; built_until: Date }>(
    `SELECT c.rebuilt_from, c.days_built, c.built_until, date_bin('1 day', now() - interval '1 hour', timestamptz '2000-01-01 00:00:00+00') AS settled
       FROM cumulate_rollup_histograms($1::uuid, $2::integer) c`,
    [tenantId, maxDays],
  );
  const rows = result.rows as Array<{ rebuilt_from: Date | null; days_built: number; built_until: Date; settled: Date }>;
  const prefixes = await pool.query<{ periods: number; written: number; unfinished: number }>(
    `SELECT coalesce(sum(p.periods_built), 0)::float8 AS periods, coalesce(sum(p.rows_built), 0)::float8 AS written,
            count(*) FILTER (WHERE p.periods_built >= $2)::float8 AS unfinished
       FROM cumulate_rollup_prefixes($1::uuid, $2::integer) p`,
    [tenantId, maxPeriods],
  );
  return {
    daysBuilt: rows.reduce((sum, r) => sum + r.days_built, 0),
    rebuilt: rows.filter((r) => r.rebuilt_from !== null).length,
    unfinished: rows.filter((r) => r.built_until.getTime() < r.settled.getTime()).length,
    periodsBuilt: prefixes.rows[0]!.periods,
    prefixRows: prefixes.rows[0]!.written,
    prefixesUnfinished: prefixes.rows[0]!.unfinished,
    durationMs: Number(process.hrtime.bigint() - started) / 1e6,
  };
}
