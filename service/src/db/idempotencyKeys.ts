// Idempotency keys of ingest batches (migrations/V0.0.41__baseline.sql, "Ingest idempotency keys").
// The group commit claims the keys of its batches inside the transaction that writes
// their rows, so a stored key means the rows are stored.
import type { Pool, PoolClient } from 'pg';

export interface IdempotencyClaim {
  tenantId: string;
  key: string;
  /** The counts the answer carries, stored so that a retry gets the same answer. */
  accepted: number;
  sampledOut: number;
}

/** Keys are kept this long; a retry later than that stores the batch again. */
export const IDEMPOTENCY_KEY_HOURS = 24;

function claimId(claim: Pick<IdempotencyClaim, 'tenantId' | 'key'>): string {
  return `${claim.tenantId}\u0000${claim.key}`;
}

/**
 * Inserts the keys that are new, in the caller's open transaction; returns the claims
 * whose key was stored before (by a committed transaction, or by a concurrent one that
 * committed while this one waited on the key), with the counts stored then.
 */
export async function claimIdempotencyKeys(client: Pick<PoolClient, 'query'>, claims: IdempotencyClaim[]): Promise<Map<string, { accepted: number; sampledOut: number }>> {
  const existing = new Map<string, { accepted: number; sampledOut: number }>();
  if (claims.length === 0) return existing;
  const inserted = await client.query<{ tenant_id: string; idempotency_key: string }>(
    `INSERT INTO ingest_idempotency_keys (tenant_id, idempotency_key, accepted, sampled_out)
     SELECT * FROM unnest($1::uuid[], $2::text[], $3::integer[], $4::integer[])
     ON CONFLICT (tenant_id, idempotency_key) DO NOTHING
     RETURNING tenant_id, idempotency_key`,
    [claims.map((c) => c.tenantId), claims.map((c) => c.key), claims.map((c) => c.accepted), claims.map((c) => c.sampledOut)],
  );
  if (inserted.rows.length === claims.length) return existing;
  const fresh = new Set(inserted.rows.map((r) => claimId({ tenantId: r.tenant_id, key: r.idempotency_key })));
  const stale = claims.filter((c) => !fresh.has(claimId(c)));
  const stored = await client.query<{ tenant_id: string; idempotency_key: string; accepted: number; sampled_out: number }>(
    `SELECT k.tenant_id, k.idempotency_key, k.accepted, k.sampled_out
       FROM ingest_idempotency_keys k
       JOIN unnest($1::uuid[], $2::text[]) AS s(tenant_id, idempotency_key) USING (tenant_id, idempotency_key)`,
    [stale.map((c) => c.tenantId), stale.map((c) => c.key)],
  );
  for (const row of stored.rows) existing.set(claimId({ tenantId: row.tenant_id, key: row.idempotency_key }), { accepted: row.accepted, sampledOut: row.sampled_out });
  return existing;
}

export { claimId as idempotencyClaimId };

/** Deletes keys older than IDEMPOTENCY_KEY_HOURS; returns how many. */
export async function expireIdempotencyKeys(pool: Pick<Pool, 'query'>, hours = IDEMPOTENCY_KEY_HOURS): Promise<number> {
  const result = await pool.query(`DELETE FROM ingest_idempotency_keys WHERE created_at < now() - make_interval(hours => $1::integer)`, [hours]);
  return result.rowCount ?? 0;
}
