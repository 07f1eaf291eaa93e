// API tokens: random secrets shown once; only their SHA-256 hash is stored.
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import type { Pool } from 'pg';

export type Scope = 'read' | 'ingest' | 'admin';
export const SCOPES: readonly Scope[] = ['read', 'ingest', 'admin'];

export interface TokenInfo {
  id: string;
  tenantId: string | null;
  scopes: Scope[];
  name: string;
  createdAt: Date;
  lastUsedAt: Date | null;
  revokedAt: Date | null;
}

export function hashToken(token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest();
}

export async function createToken(
  pool: Pool,
  { tenantId, scopes, name = '' }: { tenantId: string | null; scopes: Scope[]; name?: string },
): Promise<{ token: string; info: TokenInfo }> {
  const token = 'agog_' + randomBytes(32).toString('base64url');
  const id = randomUUID();
  const result = await pool.query(
    `INSERT INTO api_tokens (id, token_hash, tenant_id, scopes, name)
     VALUES ($1::uuid, $2::bytea, $3::uuid, $4::text[], $5::text)
     RETURNING id, tenant_id, scopes, name, created_at, last_used_at, revoked_at`,
    [id, hashToken(token), tenantId, scopes, name],
  );
  return { token, info: toInfo(result.rows[0]) };
}

/** The active token whose SHA-256 is `hash` (hashToken), marked as used now. */
export async function findActiveToken(pool: Pool, token: string | Buffer): Promise<TokenInfo | undefined> {
  const hash = typeof token === 'string' ? hashToken(token) : token;
  const result = await pool.query(
    `UPDATE api_tokens SET last_used_at = now()
      WHERE token_hash = $1::bytea AND revoked_at IS NULL
      RETURNING id, tenant_id, scopes, name, created_at, last_used_at, revoked_at`,
    [hash],
  );
  return result.rows[0] ? toInfo(result.rows[0]) : undefined;
}

export async function listTokens(pool: Pool): Promise<TokenInfo[]> {
  const result = await pool.query(
    `SELECT id, tenant_id, scopes, name, created_at, last_used_at, revoked_at FROM api_tokens ORDER BY created_at, id`,
  );
  return result.rows.map(toInfo);
}

/** Revokes by id; returns false when no active token has that id. */
export async function revokeToken(pool: Pool, id: string): Promise<boolean> {
  const result = await pool.query(
    `UPDATE api_tokens SET revoked_at = now() WHERE id = $1::uuid AND revoked_at IS NULL`,
    [id],
  );
  return (result.rowCount ?? 0) > 0;
}

function toInfo(row: Record<string, unknown>): TokenInfo {
  return {
    id: row.id as string,
    tenantId: (row.tenant_id as string | null) ?? null,
    scopes: row.scopes as Scope[],
    name: row.name as string,
    createdAt: row.created_at as Date,
    lastUsedAt: (row.last_used_at as Date | null) ?? null,
    revokedAt: (row.revoked_at as Date | null) ?? null,
  };
}

/** Revokes every active token with this name (e.g. the demo's token of an earlier run). */
export async function revokeTokensNamed(pool: Pool, name: string): Promise<number> {
  const result = await pool.query(`UPDATE api_tokens SET revoked_at = now() WHERE name = $1::text AND revoked_at IS NULL`, [name]);
  return result.rowCount ?? 0;
}
