// POST /v1/ingest/{api-requests,queries,resources}. A batch is validated whole: one
// invalid record rejects it with 400 and every (index, field, reason), and nothing of it
// is written. A valid batch is answered only after its rows are committed.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Config } from '../config';
import { IngestRejected, type GroupCommitQueue, type Lines } from '../ingest/groupCommit';
import { decodeBody, parseRecords } from '../ingest/parseBody';
import { encodeRecord, type FieldError, type RecordKind } from '../ingest/records';
import type { Authenticator } from './auth';
import { ApiError } from './errors';
import type { ServiceMetrics } from './metrics';

const ROUTES: Array<[string, RecordKind]> = [
  ['/v1/ingest/api-requests', 'api'],
  ['/v1/ingest/queries', 'query'],
  ['/v1/ingest/resources', 'resource'],
];

const MAX_ERRORS_LISTED = 100;
/** Accepted timestamps: up to this far in the past ... */
export const MAX_PAST_MS = 400 * 86_400_000;
/** ... and this far in the future (clock skew). */
export const MAX_FUTURE_MS = 86_400_000;

export function requestedTenant(request: FastifyRequest): string | undefined {
  const header = request.headers['x-tenant-id'];
  if (typeof header === 'string' && header) return header;
  const query = request.query as Record<string, unknown> | undefined;
  if (query && typeof query.tenant === 'string' && query.tenant) return query.tenant;
  return undefined;
}

export function registerIngestRoutes(
  app: FastifyInstance,
  deps: { config: Config; queue: GroupCommitQueue; auth: Authenticator; metrics: ServiceMetrics; random?: () => number },
): void {
  const random = deps.random ?? Math.random;
  for (const [path, kind] of ROUTES) {
    app.post(path, async (request, reply) => {
      const principal = await deps.auth.authorize(request.headers.authorization, 'ingest', requestedTenant(request));
      if (!principal.tenantId) {
        throw new ApiError(400, 'tenant_required', 'an admin token must name the tenant to ingest for (X-Tenant-Id header or ?tenant=)', { field: 'tenant' });
      }
      const body = request.body;
      if (!Buffer.isBuffer(body) || body.length === 0) throw new ApiError(400, 'empty_body', 'the body is empty; send a JSON array or NDJSON of records', { field: '(body)' });
      const text = decodeBody(body, request.headers['content-encoding'], deps.config.bodyLimitBytes);
      const records = parseRecords(text, request.headers['content-type']);

      const now = Date.now();
      const errors: FieldError[] = [];
      const lines: string[] = [];
      let sampledOut = 0;
      const ctx = {
        tenantId: principal.tenantId,
        limits: { minTimeMs: now - MAX_PAST_MS, maxTimeMs: now + MAX_FUTURE_MS },
        slowQueryThresholdMs: deps.config.slowQueryThresholdMs,
      };
      const rate = deps.config.samplingRate;
      for (let i = 0; i < records.length; i++) {
        const encoded = encodeRecord(kind, records[i], i, ctx, errors);
        if (!encoded || errors.length) continue;
        if (rate < 1 && !encoded.alwaysKeep && random() >= rate) {
          sampledOut++;
          continue;
        }
        lines.push(encoded.line);
      }
      if (errors.length) {
        deps.metrics.recordsRejected[kind]! += records.length;
        const invalidRecords = new Set(errors.map((e) => e.index)).size;
        throw new ApiError(400, 'invalid_records',
          `${invalidRecords} of ${records.length} records are invalid; nothing was stored (first: record ${errors[0]!.index}, ${errors[0]!.field} ${errors[0]!.reason})`,
          { errors: errors.slice(0, MAX_ERRORS_LISTED), errorCount: errors.length });
      }
      if (!deps.config.metricsEnabled) {
        return reply.code(200).send({ accepted: 0, discarded: records.length, reason: 'PERFORMANCE_METRICS_ENABLED=false: valid records are discarded' });
      }
      const batch: Lines = { api: [], query: [], resource: [] };
      batch[kind] = lines;
      try {
        await deps.queue.enqueue(batch);
      } catch (err) {
        if (err instanceof IngestRejected) {
          deps.metrics.batchesRefused[err.code] = (deps.metrics.batchesRefused[err.code] ?? 0) + 1;
          throw new ApiError(err.status, err.code, err.message, undefined, err.retryAfterSeconds);
        }
        throw err;
      }
      deps.metrics.recordsAccepted[kind]! += lines.length;
      deps.metrics.recordsSampledOut[kind]! += sampledOut;
      return reply.code(200).send({ accepted: lines.length, sampledOut });
    });
  }
}
