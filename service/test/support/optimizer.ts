// Helpers for the optimization engine's tests.
import type { Pool } from '../../src/db/pool';
import type { OptimizerSettings } from '../../src/optimizer/detector';

export function optimizerSettings(overrides: Partial<OptimizerSettings> = {}): OptimizerSettings {
  return {
    windowMinutes: 60,
    maxRawRows: 200_000,
    monitoredSchema: 'public',
    latencyTargetMs: 100,
    slowQueryThresholdMs: 1000,
    nPlusOneMinQueries: 5,
    nPlusOneMinTotalMs: 50,
    errorRateThreshold: 0.05,
    missingIndexMinRows: 10_000,
    retentionDays: 30,
    ...overrides,
  };
}

export interface StoredFinding {
  id: string;
  kind: string;
  severity: string;
  title: string;
  evidence: Record<string, any>;
  action: string;
  endpoint: string | null;
  table_name: string | null;
  query_hash: string | null;
  first_seen: Date;
  last_seen: Date;
  resolved_at: Date | null;
}

/** The recommendations stored for a tenant, optionally of one kind. */
export async function findingsOf(pool: Pool, tenantId: string, kind?: string): Promise<StoredFinding[]> {
  const result = await pool.query<StoredFinding>(
    `SELECT id, kind, severity, title, evidence, action, endpoint, table_name, query_hash::text AS query_hash,
            first_seen, last_seen, resolved_at
       FROM optimization_recommendations
      WHERE tenant_id = $1::uuid AND ($2::text IS NULL OR kind = $2::text)
      ORDER BY kind, endpoint NULLS FIRST, title`,
    [tenantId, kind ?? null],
  );
  return result.rows;
}
