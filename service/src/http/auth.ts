// Bearer-token authentication. The tenant always comes from the token; only an admin
// token may name a tenant (X-Tenant-Id header, ?tenant= or the body's tenantId).
// Verified tokens are cached for a few seconds, so a revocation takes effect within
// TOKEN_CACHE_MS.
import type { Pool } from 'pg';
import { findActiveToken, type Scope, type TokenInfo } from '../db/tokens';
import { isUuid } from '../ingest/records';
import { ApiError } from './errors';

const TOKEN_CACHE_MS = 5_000;
const AUTHORIZATION = { field: 'Authorization' };

export interface Principal {
  token: TokenInfo;
  /** The tenant this request acts for; null for an admin token acting for all tenants. */
  tenantId: string | null;
}

export class Authenticator {
  private cache = new Map<string, { info: TokenInfo | undefined; expires: number }>();

  constructor(private readonly pool: Pool) {}

  async verify(authorization: string | undefined): Promise<TokenInfo> {
    if (!authorization) throw new ApiError(401, 'unauthorized', 'missing Authorization header; send "Authorization: Bearer <token>"', AUTHORIZATION);
    const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization);
    if (!match) throw new ApiError(401, 'unauthorized', 'the Authorization header must be "Bearer <token>"', AUTHORIZATION);
    const token = match[1]!;
    const now = Date.now();
    let entry = this.cache.get(token);
    if (!entry || entry.expires < now) {
      entry = { info: await findActiveToken(this.pool, token), expires: now + TOKEN_CACHE_MS };
      if (this.cache.size > 10_000) this.cache.clear();
      this.cache.set(token, entry);
    }
    if (!entry.info) throw new ApiError(401, 'unauthorized', 'the token in the Authorization header is unknown or revoked', AUTHORIZATION);
    return entry.info;
  }

  async authorize(authorization: string | undefined, scope: Scope, requestedTenant: string | undefined): Promise<Principal> {
    const token = await this.verify(authorization);
    const isAdmin = token.scopes.includes('admin');
    if (!token.scopes.includes(scope) && !isAdmin) {
      throw new ApiError(403, 'forbidden', `the token lacks the ${scope} scope (it has: ${token.scopes.join(', ')})`, { field: 'scope' });
    }
    if (requestedTenant !== undefined) {
      if (!isUuid(requestedTenant)) throw new ApiError(400, 'invalid_tenant', `tenant must be a UUID, got "${requestedTenant.slice(0, 60)}"`, { field: 'tenant' });
      if (!isAdmin) {
        if (requestedTenant.toLowerCase() !== token.tenantId) {
          throw new ApiError(403, 'forbidden', 'a tenant token acts only for its own tenant; naming another tenant needs an admin token', { field: 'tenant' });
        }
      }
      return { token, tenantId: requestedTenant.toLowerCase() };
    }
    return { token, tenantId: token.tenantId };
  }
}
