// POST /v1/query: the plugin's API (contract: src/contract/query.ts; documented in
// service/README.md "Query API"). The tenant comes from the token; an admin token may
// name one in the body's tenantId (or X-Tenant-Id / ?tenant=).
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Pool } from 'pg';
import type { QuerySettings } from '../query/context';
import { runQueries, validateQueryRequest } from '../query/runQueries';
import type { Authenticator } from './auth';
import { requireJsonRequest } from '../ingest/parseBody';
import { ApiError } from './errors';
import { requestedTenant } from './ingestRoutes';
import { queryResponseBytes } from './responseBytes';

/** Query bodies are small: the route's body limit. */
export const MAX_QUERY_BODY_BYTES = 256 * 1024;

export interface QueryLimits {
  /** Requests one tenant (or admin token) may have running at once; past it, 429. */
  tenantConcurrency: number;
  /** Deadline of a whole request. */
  requestTimeoutMs: number;
}

/** Counts each tenant's running requests. */
class TenantConcurrency {
  private running = new Map<string, number>();
  constructor(private readonly limit: number) {}

  /** Takes a slot for the key, or throws 429; returns the release. */
  enter(key: string): () => void {
    const now = this.running.get(key) ?? 0;
    if (now >= this.limit) {
      throw new ApiError(429, 'too_many_requests', `this tenant already has ${now} query requests running (at most ${this.limit}); retry when one has finished`, { field: 'tenant' }, 1);
    }
    this.running.set(key, now + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = (this.running.get(key) ?? 1) - 1;
      if (left <= 0) this.running.delete(key);
      else this.running.set(key, left);
    };
  }
}

export function registerQueryRoutes(
  app: FastifyInstance,
  deps: { pool: Pool; auth: Authenticator; settings: QuerySettings; limits?: QueryLimits; observe?: (queryType: string, ms: number) => void },
): void {
  const limits = deps.limits ?? { tenantConcurrency: 4, requestTimeoutMs: 30_000 };
  const concurrency = new TenantConcurrency(limits.tenantConcurrency);
  const options = {
    bodyLimit: MAX_QUERY_BODY_BYTES,
    // Who is asking comes first, before the body is read: an unauthenticated request
    // learns nothing about its body and costs no buffering.
    onRequest: async (request: FastifyRequest) => {
      await deps.auth.verify(request.headers.authorization);
    },
  };
  app.post('/v1/query', options, async (request, reply) => {
    const raw = request.body;
    if (!Buffer.isBuffer(raw) || raw.length === 0) {
      throw new ApiError(400, 'empty_body', 'the body is empty; send {"range": {...}, "queries": [...]}', { field: '(body)' });
    }
    requireJsonRequest(request.headers['content-type'], request.headers['content-encoding']);
    let body: unknown;
    try {
      body = JSON.parse(raw.toString('utf8'));
    } catch (err) {
      throw new ApiError(400, 'invalid_json', `the body is not JSON: ${(err as Error).message}`, { field: '(body)' });
    }
    const validated = validateQueryRequest(body);
    const principal = await deps.auth.authorize(request.headers.authorization, 'read', validated.tenantId ?? requestedTenant(request));
    const release = concurrency.enter(principal.tenantId ?? `token:${principal.token.id}`);
    let answer;
    try {
      answer = await runQueries(
        deps.pool,
        validated,
        { tenantId: principal.tenantId, admin: principal.token.scopes.includes('admin') },
        deps.settings,
        deps.observe,
        { deadline: Date.now() + limits.requestTimeoutMs },
      );
    } finally {
      release();
    }
    return reply.type('application/json; charset=utf-8').send(queryResponseBytes(answer));
  });
}
