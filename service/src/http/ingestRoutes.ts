// POST /v1/ingest/{api-requests,queries,resources}. A batch is validated whole: one
// invalid record rejects it with 400 and every (index, field, reason), and nothing of it
// is written. A valid batch is answered only after its rows are committed. A batch sent
// with an Idempotency-Key that was committed before is answered as then, not stored again.
import type { FastifyInstance, FastifyRequest, RouteShorthandOptions } from 'fastify';
import type { Config } from '../config';
import { IngestRejected, type EnqueueOutcome, type GroupCommitQueue, type Lines } from '../ingest/groupCommit';
import type { IngestWorkers, Prepared } from '../ingest/ingestWorkers';
import type { RecordKind } from '../ingest/records';
import type { Authenticator, Principal } from './auth';
import { ApiError } from './errors';
import type { ServiceMetrics } from './metrics';

export { MAX_FUTURE_MS, MAX_PAST_MS } from '../ingest/prepareBatch';

const ROUTES: Array<[string, RecordKind]> = [
  ['/v1/ingest/api-requests', 'api'],
  ['/v1/ingest/queries', 'query'],
  ['/v1/ingest/resources', 'resource'],
];

export function requestedTenant(request: FastifyRequest): string | undefined {
  const header = request.headers['x-tenant-id'];
  if (typeof header === 'string' && header) return header;
  const query = request.query as Record<string, unknown> | undefined;
  if (query && typeof query.tenant === 'string' && query.tenant) return query.tenant;
  return undefined;
}

/** Idempotency-Key: 1 to 128 visible ASCII characters (a UUID, a hash, a batch id). */
const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,128}$/;

export function idempotencyKeyOf(request: FastifyRequest): string | undefined {
  const header = request.headers['idempotency-key'];
  if (header === undefined) return undefined;
  if (typeof header !== 'string' || !IDEMPOTENCY_KEY.test(header)) {
    throw new ApiError(400, 'invalid_idempotency_key', 'the Idempotency-Key header must be 1 to 128 visible ASCII characters, sent once', { field: 'Idempotency-Key' });
  }
  return header;
}

const principals = new WeakMap<FastifyRequest, Principal>();

/**
 * Route options of an ingest route: its body limit, and authentication in onRequest,
 * before a byte of the body is read; an unauthenticated request is answered without
 * buffering its body. The handler takes the principal with ingestPrincipal(request).
 */
export function ingestRouteOptions(deps: { config: Pick<Config, 'bodyLimitBytes'>; auth: Authenticator }): RouteShorthandOptions {
  return {
    bodyLimit: deps.config.bodyLimitBytes,
    onRequest: async (request) => {
      principals.set(request, await deps.auth.authorize(request.headers.authorization, 'ingest', requestedTenant(request)));
    },
  };
}

/** The principal ingestRouteOptions authenticated; its tenant, which an admin token must name. */
export function ingestPrincipal(request: FastifyRequest): Principal & { tenantId: string } {
  const principal = principals.get(request);
  if (!principal) throw new Error('ingest route registered without ingestRouteOptions');
  if (!principal.tenantId) {
    throw new ApiError(400, 'tenant_required', 'an admin token must name the tenant to ingest for (X-Tenant-Id header or ?tenant=)', { field: 'tenant' });
  }
  return principal as Principal & { tenantId: string };
}

export function registerIngestRoutes(
  app: FastifyInstance,
  deps: { config: Config; queue: GroupCommitQueue; auth: Authenticator; metrics: ServiceMetrics; workers: IngestWorkers },
): void {
  for (const [path, kind] of ROUTES) {
    app.post(path, ingestRouteOptions(deps), async (request, reply) => {
      const principal = ingestPrincipal(request);
      const idempotencyKey = idempotencyKeyOf(request);
      const body = request.body;
      if (!Buffer.isBuffer(body) || body.length === 0) throw new ApiError(400, 'empty_body', 'the body is empty; send a JSON array or NDJSON of records', { field: '(body)' });
      let prepared: Prepared;
      try {
        prepared = await deps.workers.prepare({
          kind,
          body,
          contentType: request.headers['content-type'],
          contentEncoding: request.headers['content-encoding'],
          bodyLimitBytes: deps.config.bodyLimitBytes,
          tenantId: principal.tenantId,
          nowMs: Date.now(),
          slowQueryThresholdMs: deps.config.slowQueryThresholdMs,
          samplingRate: deps.config.samplingRate,
        });
      } catch (err) {
        const received = (err as ApiError).details as { received?: number } | undefined;
        if (err instanceof ApiError && err.code === 'invalid_records' && received?.received) {
          deps.metrics.recordsRejected[kind]! += received.received;
        }
        throw err;
      }
      if (!deps.config.metricsEnabled) {
        return reply.code(200).send({ accepted: 0, discarded: prepared.received, reason: 'PERFORMANCE_METRICS_ENABLED=false: valid records are discarded' });
      }
      const batch: Lines = { api: [], query: [], resource: [] };
      batch[kind] = [prepared.copy];
      let outcome: EnqueueOutcome;
      try {
        outcome = await deps.queue.enqueue(batch, prepared.kept, {
          idempotency: idempotencyKey === undefined ? undefined : { tenantId: principal.tenantId, key: idempotencyKey, accepted: prepared.kept, sampledOut: prepared.sampledOut },
        });
      } catch (err) {
        if (err instanceof IngestRejected) {
          deps.metrics.batchesRefused[err.code] = (deps.metrics.batchesRefused[err.code] ?? 0) + 1;
          throw new ApiError(err.status, err.code, err.message, undefined, err.retryAfterSeconds);
        }
        throw err;
      }
      if (outcome.replayed) {
        // A retry of a committed batch: the first answer again, nothing stored twice.
        return reply.code(200).send({ ...outcome.replayed, replayed: true });
      }
      deps.metrics.recordsAccepted[kind]! += prepared.kept;
      deps.metrics.recordsSampledOut[kind]! += prepared.sampledOut;
      return reply.code(200).send({ accepted: prepared.kept, sampledOut: prepared.sampledOut });
    });
  }
}
