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
  /** Requests one tenant (or admin token) may have running at once; past it they wait. */
  tenantConcurrency: number;
  /** Requests one tenant may have waiting; past it, or after the request timeout, 429. */
  tenantQueue: number;
  /** Deadline of a whole request. */
  requestTimeoutMs: number;
}

/**
 * Each tenant's running requests: up to `limit` run, up to `queue` more wait their turn
 * (a dashboard sends all its panels at once), and beyond that, or after waiting
 * `maxWaitMs`, a request gets 429 with Retry-After.
 */
class TenantConcurrency {
  private tenants = new Map<string, { running: number; waiting: Array<() => void> }>();
  constructor(private readonly limit: number, private readonly queue: number, private readonly maxWaitMs: number) {}

  /** Resolves with the release once the request may run; rejects with 429. */
  async enter(key: string): Promise<() => void> {
    let tenant = this.tenants.get(key);
    if (!tenant) this.tenants.set(key, (tenant = { running: 0, waiting: [] }));
    if (tenant.running >= this.limit) {
      if (tenant.waiting.length >= this.queue) throw this.refusal(tenant.running, tenant.waiting.length);
      const state = tenant;
      await new Promise<void>((resolve, reject) => {
        const turn = () => {
          clearTimeout(timer);
          resolve();
        };
        const timer = setTimeout(() => {
          state.waiting.splice(state.waiting.indexOf(turn), 1);
          reject(this.refusal(state.running, state.waiting.length));
        }, this.maxWaitMs);
        state.waiting.push(turn);
      });
    }
    tenant.running++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const state = this.tenants.get(key)!;
      state.running--;
      const next = state.waiting.shift();
      if (next) next();
      else if (state.running === 0) this.tenants.delete(key);
    };
  }

  private refusal(running: number, waiting: number): ApiError {
    return new ApiError(429, 'too_many_requests',
      `this tenant already has ${running} query requests running and ${waiting} waiting (at most ${this.limit} and ${this.queue}); retry when one has finished`,
      { field: 'tenant' }, 1);
  }
}

export function registerQueryRoutes(
  app: FastifyInstance,
  deps: { pool: Pool; auth: Authenticator; settings: QuerySettings; limits?: QueryLimits; observe?: (queryType: string, ms: number) => void },
): void {
  const limits = deps.limits ?? { tenantConcurrency: 2, tenantQueue: 16, requestTimeoutMs: 30_000 };
  const concurrency = new TenantConcurrency(limits.tenantConcurrency, limits.tenantQueue, limits.requestTimeoutMs);
  // A tenant token's slot is taken before the body is read, so a tenant over its limit
  // costs neither buffering nor parsing; it is given back once the answer is sent (or
  // the client went away). An admin token names its tenant in the body: its slot is
  // taken in the handler.
  const slots = new WeakMap<FastifyRequest, () => void>();
  const giveBack = async (request: FastifyRequest) => {
    slots.get(request)?.();
    slots.delete(request);
  };
  const options = {
    bodyLimit: MAX_QUERY_BODY_BYTES,
    // Who is asking comes first, before the body is read: an unauthenticated request
    // learns nothing about its body and costs no buffering.
    onRequest: async (request: FastifyRequest) => {
      const token = await deps.auth.verify(request.headers.authorization);
      if (token.tenantId && token.scopes.includes('read')) slots.set(request, await concurrency.enter(token.tenantId));
    },
    onResponse: giveBack,
    onRequestAbort: giveBack,
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
    if (!slots.has(request)) slots.set(request, await concurrency.enter(principal.tenantId ?? `token:${principal.token.id}`));
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
      await giveBack(request);
    }
    return reply.type('application/json; charset=utf-8').send(queryResponseBytes(answer));
  });
}
