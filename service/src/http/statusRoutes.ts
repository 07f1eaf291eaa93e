// GET /health (status, uptime and .memoryUsage, which the runbook reads; the details
// only with an admin token),
// GET /health/ready (503 while PostgreSQL is unreachable), GET /metrics, GET /v1/whoami.
import type { FastifyInstance } from 'fastify';
import type { Pool } from 'pg';
import { cacheFreshness, pingDatabase } from '../db/health';
import type { GroupCommitQueue } from '../ingest/groupCommit';
import type { Scheduler } from '../jobs/scheduler';
import type { Authenticator } from './auth';
import { ApiError } from './errors';
import { requestedTenant } from './ingestRoutes';
import type { ServiceMetrics } from './metrics';

export const CACHE_STALE_SECONDS = 600;

export function registerStatusRoutes(
  app: FastifyInstance,
  deps: { pool: Pool; queue: GroupCommitQueue; metrics: ServiceMetrics; scheduler: Scheduler; auth: Authenticator },
): void {
  const databaseState = async () => {
    try {
      const latencyMs = await pingDatabase(deps.pool);
      const freshness = await cacheFreshness(deps.pool, null);
      return { reachable: true as const, latencyMs: Math.round(latencyMs * 100) / 100, freshness };
    } catch (err) {
      return { reachable: false as const, error: (err as Error).message };
    }
  };

  app.get('/health', async (request) => {
    // Without a token: the status alone. Job errors and database errors can say what
    // other tenants' data or queries look like, so the details need an admin token.
    const detailed = request.headers.authorization !== undefined;
    if (detailed) {
      const token = await deps.auth.verify(request.headers.authorization);
      if (!token.scopes.includes('admin')) {
        throw new ApiError(403, 'forbidden', 'the details of /health need an admin token; without an Authorization header /health answers the status alone', { field: 'scope' });
      }
    }
    const db = await databaseState();
    const staleness = db.reachable ? db.freshness.stalenessSeconds : null;
    const jobs = deps.scheduler.status();
    const failingJobs = Object.entries(jobs).filter(([, j]) => j.lastError && (!j.lastSuccessAt || j.lastErrorAt! > j.lastSuccessAt)).map(([name]) => name);
    const stale = staleness !== null && staleness > CACHE_STALE_SECONDS;
    const status = !db.reachable ? 'unavailable' : stale || failingJobs.length ? 'degraded' : 'ok';
    if (!detailed) return { status, uptimeSeconds: Math.round(process.uptime()), memoryUsage: process.memoryUsage() };
    return {
      status,
      uptimeSeconds: Math.round(process.uptime()),
      database: db.reachable ? { reachable: true, latencyMs: db.latencyMs } : { reachable: false, error: db.error },
      cache: db.reachable
        ? { lastUpdated: db.freshness.lastUpdated, stalenessSeconds: staleness, stale, staleAfterSeconds: CACHE_STALE_SECONDS }
        : null,
      ingest: { queueDepth: deps.queue.depth, accepting: deps.queue.databaseAvailable },
      jobs,
      failingJobs,
      memoryUsage: process.memoryUsage(),
    };
  });

  app.get('/health/ready', async (_request, reply) => {
    const db = await databaseState();
    return reply.code(db.reachable ? 200 : 503).send({ ready: db.reachable });
  });

  app.get('/metrics', async (_request, reply) => {
    return reply.type('text/plain; version=0.0.4').send(deps.metrics.render(deps.queue));
  });

  app.get('/v1/whoami', async (request) => {
    const tenant = requestedTenant(request);
    const principal = await deps.auth.authorize(request.headers.authorization, 'read', tenant).catch(async (err) => {
      // An ingest-only token may still ask who it is (its own tenant and scopes); naming
      // another tenant stays refused, as on every other route.
      if ((err as { status?: number }).status === 403 && tenant === undefined) {
        const token = await deps.auth.verify(request.headers.authorization);
        return { token, tenantId: token.tenantId };
      }
      throw err;
    });
    const freshness = await cacheFreshness(deps.pool, principal.tenantId);
    return {
      tenantId: principal.tenantId,
      admin: principal.token.scopes.includes('admin'),
      scopes: principal.token.scopes,
      cache: {
        lastUpdated: freshness.lastUpdated ? freshness.lastUpdated.toISOString() : null,
        stalenessSeconds: freshness.stalenessSeconds === null ? null : Math.round(freshness.stalenessSeconds),
      },
    };
  });
}
