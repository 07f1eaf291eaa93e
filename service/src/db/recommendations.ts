// optimization_recommendations (migrations/V0.0.41__baseline.sql): the engine's upserts and resolutions, and the
// query API's reads.
import type { Pool } from 'pg';
import type { Finding, RecommendationKind, Severity, StoredRecommendation } from '../optimizer/recommendation';
import { recommendationId } from '../optimizer/recommendation';
import type { Queryable } from './tenantSession';

/**
 * Records the findings of one run in one statement: new ones get first_seen = seenAt,
 * known ones move last_seen and take the new evidence, and resolved ones reopen.
 */
export async function upsertRecommendations(pool: Pool, findings: Finding[], seenAt: Date): Promise<number> {
  if (findings.length === 0) return 0;
  const result = await pool.query(
    `INSERT INTO optimization_recommendations AS r
       (tenant_id, id, kind, severity, title, evidence, action, query_hash, endpoint, table_name, first_seen, last_seen)
     SELECT f.tenant_id, f.id, f.kind, f.severity, f.title, f.evidence, f.action, f.query_hash, f.endpoint, f.table_name, $11::timestamptz, $11::timestamptz
       FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $6::jsonb[], $7::text[], $8::bigint[], $9::text[], $10::text[])
            AS f(tenant_id, id, kind, severity, title, evidence, action, query_hash, endpoint, table_name)
     ON CONFLICT (tenant_id, id) DO UPDATE SET
       severity = EXCLUDED.severity, title = EXCLUDED.title, evidence = EXCLUDED.evidence, action = EXCLUDED.action,
       query_hash = EXCLUDED.query_hash, endpoint = EXCLUDED.endpoint, table_name = EXCLUDED.table_name,
       last_seen = greatest(r.last_seen, EXCLUDED.last_seen), resolved_at = NULL`,
    [
      findings.map((f) => f.tenantId),
      findings.map((f) => recommendationId(f.kind, f.subject)),
      findings.map((f) => f.kind),
      findings.map((f) => f.severity),
      findings.map((f) => f.title.slice(0, 300)),
      findings.map((f) => JSON.stringify(f.evidence)),
      findings.map((f) => f.action.slice(0, 4000)),
      findings.map((f) => f.queryHash ?? null),
      findings.map((f) => f.endpoint ?? null),
      findings.map((f) => f.tableName ?? null),
      seenAt,
    ],
  );
  return result.rowCount ?? 0;
}

/** Marks as resolved the open findings of these kinds that the run at seenAt did not see. */
export async function resolveUnseenRecommendations(pool: Pool, kinds: RecommendationKind[], seenAt: Date): Promise<number> {
  if (kinds.length === 0) return 0;
  const result = await pool.query(
    `UPDATE optimization_recommendations SET resolved_at = $2::timestamptz
      WHERE kind = ANY ($1::text[]) AND resolved_at IS NULL AND last_seen < $2::timestamptz`,
    [kinds, seenAt],
  );
  return result.rowCount ?? 0;
}

interface RecommendationRow {
  tenant_id: string;
  id: string;
  kind: RecommendationKind;
  severity: Severity;
  title: string;
  evidence: Record<string, unknown>;
  action: string;
  query_hash: string | null;
  endpoint: string | null;
  table_name: string | null;
  first_seen: Date;
  last_seen: Date;
  resolved_at: Date | null;
}

function toRecommendation(row: RecommendationRow): StoredRecommendation {
  return {
    tenantId: row.tenant_id,
    id: row.id,
    kind: row.kind,
    severity: row.severity,
    title: row.title,
    evidence: row.evidence,
    action: row.action,
    queryHash: row.query_hash,
    endpoint: row.endpoint,
    tableName: row.table_name,
    firstSeen: row.first_seen,
    lastSeen: row.last_seen,
    resolvedAt: row.resolved_at,
  };
}

export interface RecommendationFilter {
  from: Date;
  to: Date;
  kind?: RecommendationKind;
  severity?: Severity;
  queryHash?: string;
  endpoint?: string;
  limit: number;
}

/** Recommendations of a tenant seen at some time in [from, to), most urgent and newest first. */
export async function listRecommendations(db: Queryable, tenantId: string, filter: RecommendationFilter): Promise<StoredRecommendation[]> {
  const result = await db.query<RecommendationRow>(
    `SELECT tenant_id::text AS tenant_id, id, kind, severity, title, evidence, action, query_hash::text AS query_hash,
            endpoint, table_name, first_seen, last_seen, resolved_at
       FROM optimization_recommendations
      WHERE tenant_id = $1::uuid AND last_seen >= $2::timestamptz AND first_seen < $3::timestamptz
        AND ($4::text IS NULL OR kind = $4::text) AND ($5::text IS NULL OR severity = $5::text)
        AND ($6::bigint IS NULL OR query_hash = $6::bigint) AND ($7::text IS NULL OR endpoint = $7::text)
      ORDER BY resolved_at IS NOT NULL, CASE severity WHEN 'critical' THEN 0 WHEN 'warning' THEN 1 ELSE 2 END,
               last_seen DESC, id
      LIMIT $8::integer`,
    [tenantId, filter.from, filter.to, filter.kind ?? null, filter.severity ?? null, filter.queryHash ?? null, filter.endpoint ?? null, filter.limit],
  );
  return result.rows.map(toRecommendation);
}

/** Recommendations of a tenant that first appeared in [from, to), oldest first (annotations). */
export async function recommendationsFirstSeen(db: Queryable, tenantId: string, { from, to, limit }: { from: Date; to: Date; limit: number }): Promise<StoredRecommendation[]> {
  const result = await db.query<RecommendationRow>(
    `SELECT tenant_id::text AS tenant_id, id, kind, severity, title, evidence, action, query_hash::text AS query_hash,
            endpoint, table_name, first_seen, last_seen, resolved_at
       FROM optimization_recommendations
      WHERE tenant_id = $1::uuid AND first_seen >= $2::timestamptz AND first_seen < $3::timestamptz
      ORDER BY first_seen, id
      LIMIT $4::integer`,
    [tenantId, from, to, limit],
  );
  return result.rows.map(toRecommendation);
}
