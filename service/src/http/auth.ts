// Bearer-token authentication. The tenant always comes from the token; only an admin
// token may name a tenant (X-Tenant-Id header, ?tenant= or the body's tenantId).
// Verified tokens are cached for a few seconds, so a revocation takes effect within
// TOKEN_CACHE_MS.
import type { Pool } from 'pg';
import { findActiveToken, hashToken, type Scope, type TokenInfo } from '../db/tokens';
import { LruCache } from '../lruCache';
import { isUuid } from '../ingest/records';
import { ApiError } from './errors';

const TOKEN_CACHE_MS = 5_000;
/** Tokens remembered per kind (known, unknown). */
const TOKEN_CACHE_ENTRIES = 10_000;
const AUTHORIZATION = { field: 'Authorization' };

export interface Principal {
  token: TokenInfo;
  /** The tenant this request acts for; null for an admin token acting for all tenants. */
  tenantId: string | null;
}

export interface AuthenticatorOptions {
  cacheMs?: number;
  cacheEntries?: number;
  /** The clock (tests). */
  now?: () => number;
}

interface CachedToken {
  info: TokenInfo | undefined;
  expires: number;
}

/**
 * Caches are keyed by the token's SHA-256, never its text: a flood of long made-up
 * tokens costs 32 bytes of key each. Known and unknown tokens are kept in separate LRUs,
 * so made-up tokens can only evict each other, never a token in use.
 */
export class Authenticator {
  private readonly known: LruCache<CachedToken>;
  private readonly unknown: LruCache<CachedToken>;
  private readonly cacheMs: number;
  private readonly now: () => number;
  /** Database lookups made (cache misses). */
  lookups = 0;

  constructor(private readonly pool: Pool, options: AuthenticatorOptions = {}) {
    this.known = new LruCache(options.cacheEntries ?? TOKEN_CACHE_ENTRIES);
    this.unknown = new LruCache(options.cacheEntries ?? TOKEN_CACHE_ENTRIES);
    this.cacheMs = options.cacheMs ?? TOKEN_CACHE_MS;
    this.now = options.now ?? Date.now;
  }

  async verify(authorization: string | undefined): Promise<TokenInfo> {
    if (!authorization) throw new ApiError(401, 'unauthorized', 'missing Authorization header; send "Authorization: Bearer <token>"', AUTHORIZATION);
    const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization);
    if (!match) throw new ApiError(401, 'unauthorized', 'the Authorization header must be "Bearer <token>"', AUTHORIZATION);
    const hash = hashToken(match[1]!);
    const key = hash.toString('base64');
    const now = this.now();
    let entry = this.known.get(key) ?? this.unknown.get(key);
    if (!entry || entry.expires < now) {
      this.lookups++;
      entry = { info: await findActiveToken(this.pool, hash), expires: now + this.cacheMs };
      if (entry.info) {
        this.unknown.delete(key);
        this.known.set(key, entry);
      } else {
        this.known.delete(key);
        this.unknown.set(key, entry);
      }
    }
    if (!entry.info) throw new ApiError(401, 'unauthorized', 'the token in the Authorization header is unknown or revoked', AUTHORIZATION);
    return entry.info;
  }

  /** Cache keys (tests: they are hashes, not tokens). */
  cachedKeys(): string[] {
    return [...this.known.keys(), ...this.unknown.keys()];
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
