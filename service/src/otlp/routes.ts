// POST /v1/traces and POST /v1/metrics: OTLP/HTTP, protobuf or JSON, gzip or not. An
// application instrumented with OpenTelemetry needs only OTEL_EXPORTER_OTLP_ENDPOINT and
// an Authorization header. Like the JSON endpoints (src/http/ingestRoutes.ts), a request
// is validated whole, its rows go through the same group commit, and the answer comes
// only after they are committed. Answers follow the OTLP/HTTP specification: 200 with an
// Export*ServiceResponse (partial_success when spans were refused), errors with a
// google.rpc.Status body in the request's encoding, and Retry-After on 429 and 503.
import type { FastifyInstance, FastifyReply, FastifyRequest, RouteShorthandOptions } from 'fastify';
import type { Config } from '../config';
import type { Authenticator } from '../http/auth';
import { ApiError, errorBody } from '../http/errors';
import { requestedTenant } from '../http/ingestRoutes';
import type { ServiceMetrics } from '../http/metrics';
import { IngestRejected, isConnectionError, type GroupCommitQueue, type Lines } from '../ingest/groupCommit';
import { MAX_FUTURE_MS, MAX_PAST_MS } from '../ingest/prepareBatch';
import type { RecordKind } from '../ingest/records';
import { decodeMetrics, mediaType, type OtlpEncoding } from './decode';
import { METRIC_ATTRIBUTES, RESOURCE_METRICS, mapResourceMetrics } from './metrics';
import { otlpTypes } from './schema';
import { TraceEndpoints, linkAcrossRequests, type MappedSpans } from './traces';
import { TraceWorkers } from './traceWorkers';

export interface OtlpDeps {
  config: Config;
  queue: GroupCommitQueue;
  auth: Authenticator;
  metrics: ServiceMetrics;
}

/** gRPC status codes for the Status body, by HTTP status. */
function grpcCode(status: number): number {
  if (status === 401) return 16; // UNAUTHENTICATED
  if (status === 403) return 7; // PERMISSION_DENIED
  if (status === 413 || status === 429) return 8; // RESOURCE_EXHAUSTED
  if (status === 503) return 14; // UNAVAILABLE
  if (status >= 500) return 13; // INTERNAL
  return 3; // INVALID_ARGUMENT
}

/** The encoding to answer in: the request's, JSON when it named neither. */
function answerEncoding(contentType: string | undefined): OtlpEncoding {
  try {
    return mediaType(contentType);
  } catch {
    return 'json';
  }
}

function sendError(reply: FastifyReply, encoding: OtlpEncoding, err: ApiError): FastifyReply {
  if (err.retryAfterSeconds) reply.header('Retry-After', String(err.retryAfterSeconds));
  reply.code(err.status);
  const code = grpcCode(err.status);
  if (encoding === 'protobuf') {
    const status = otlpTypes().status;
    return reply.type('application/x-protobuf').send(Buffer.from(status.encode(status.create({ code, message: err.message })).finish()));
  }
  // A google.rpc.Status in JSON, with the service's usual error object beside it.
  return reply.type('application/json').send({ code, message: err.message, details: [], ...errorBody(err.code, err.message, err.details) });
}

function sendSuccess(reply: FastifyReply, encoding: OtlpEncoding, signal: 'traces' | 'metrics', rejected: number, message: string): FastifyReply {
  reply.code(200);
  const partialSuccess = rejected > 0 ? { [signal === 'traces' ? 'rejectedSpans' : 'rejectedDataPoints']: rejected, errorMessage: message } : undefined;
  if (encoding === 'protobuf') {
    const type = signal === 'traces' ? otlpTypes().traceResponse : otlpTypes().metricsResponse;
    return reply.type('application/x-protobuf').send(Buffer.from(type.encode(type.create(partialSuccess ? { partialSuccess } : {})).finish()));
  }
  // OTLP/JSON writes 64-bit integers as decimal strings.
  const json = partialSuccess ? { partialSuccess: { ...partialSuccess, [Object.keys(partialSuccess)[0]!]: String(rejected) } } : {};
  return reply.type('application/json').send(json);
}

function asApiError(err: unknown): ApiError | undefined {
  if (err instanceof ApiError) return err;
  if (err instanceof IngestRejected) return new ApiError(err.status, err.code, err.message, undefined, err.retryAfterSeconds);
  if (isConnectionError(err)) return new ApiError(503, 'database_unavailable', 'PostgreSQL is unreachable; nothing was stored, retry later', undefined, 2);
  return undefined;
}

export function registerOtlpRoutes(app: FastifyInstance, deps: OtlpDeps): void {
  const endpoints = new TraceEndpoints();
  const workers = new TraceWorkers(deps.config.ingestWorkers);
  // After the server closed, no request is left that needs a worker.
  app.addHook('onClose', async () => workers.close());
  const limits = () => {
    const now = Date.now();
    return { minTimeMs: now - MAX_PAST_MS, maxTimeMs: now + MAX_FUTURE_MS };
  };

  async function commit(lines: Record<RecordKind, string>, kept: Record<RecordKind, number>): Promise<void> {
    const batch: Lines = { api: [], query: [], resource: [] };
    let count = 0;
    for (const kind of ['api', 'query', 'resource'] as const) {
      if (kept[kind] === 0) continue;
      batch[kind] = [lines[kind]];
      count += kept[kind];
    }
    try {
      await deps.queue.enqueue(batch, count);
    } catch (err) {
      if (err instanceof IngestRejected) deps.metrics.batchesRefused[err.code] = (deps.metrics.batchesRefused[err.code] ?? 0) + 1;
      throw err;
    }
    for (const kind of ['api', 'query', 'resource'] as const) deps.metrics.recordsAccepted[kind]! += kept[kind];
  }

  /**
   * Route options: the ingest body limit, and authentication in onRequest, before a byte of
   * the body is read, answered in the client's encoding. The tenant comes from the token only.
   */
  const tenants = new WeakMap<FastifyRequest, string>();
  const routeOptions: RouteShorthandOptions = {
    bodyLimit: deps.config.bodyLimitBytes,
    onRequest: async (request, reply) => {
      try {
        const principal = await deps.auth.authorize(request.headers.authorization, 'ingest', requestedTenant(request));
        if (!principal.tenantId) {
          throw new ApiError(400, 'tenant_required', 'an admin token must name the tenant to ingest for (X-Tenant-Id header)', { field: 'tenant' });
        }
        tenants.set(request, principal.tenantId);
      } catch (err) {
        const apiError = asApiError(err);
        if (!apiError) throw err;
        return sendError(reply, answerEncoding(request.headers['content-type']), apiError);
      }
    },
  };

  /** The tenant onRequest authenticated, and the body. */
  function admit(request: FastifyRequest): { tenantId: string; body: Buffer; encoding: OtlpEncoding } {
    const tenantId = tenants.get(request);
    if (!tenantId) throw new Error('OTLP route registered without its onRequest authentication');
    const encoding = mediaType(request.headers['content-type']);
    const body = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
    return { tenantId, body, encoding };
  }

  app.post('/v1/traces', routeOptions, async (request, reply) => {
    const encoding = answerEncoding(request.headers['content-type']);
    try {
      const { tenantId, body } = admit(request);
      let mapped: MappedSpans;
      try {
        mapped = await workers.prepare({
          body, encoding, contentEncoding: request.headers['content-encoding'], bodyLimitBytes: deps.config.bodyLimitBytes,
          tenantId, nowMs: Date.now(), slowQueryThresholdMs: deps.config.slowQueryThresholdMs, samplingRate: deps.config.samplingRate,
        });
      } catch (err) {
        const received = (err as ApiError).details as { received?: number } | undefined;
        if (err instanceof ApiError && received?.received) deps.metrics.recordsRejected.api! += received.received;
        throw err;
      }
      const query = linkAcrossRequests(mapped, tenantId, deps.config.slowQueryThresholdMs, endpoints);
      if (deps.config.metricsEnabled) {
        await commit({ api: mapped.lines.api, query, resource: '' }, mapped.kept);
        for (const kind of ['api', 'query'] as const) deps.metrics.recordsSampledOut[kind]! += mapped.sampledOut[kind];
      }
      return sendSuccess(reply, encoding, 'traces', mapped.rejected, mapped.rejectedReasons.join('; '));
    } catch (err) {
      const apiError = asApiError(err);
      if (!apiError) throw err;
      return sendError(reply, encoding, apiError);
    }
  });

  app.post('/v1/metrics', routeOptions, async (request, reply) => {
    const encoding = answerEncoding(request.headers['content-type']);
    try {
      const { tenantId, body } = admit(request);
      const resources = decodeMetrics(body, encoding, request.headers['content-encoding'], deps.config.bodyLimitBytes, RESOURCE_METRICS, METRIC_ATTRIBUTES);
      const mapped = mapResourceMetrics(resources, { tenantId, limits: limits(), slowQueryThresholdMs: deps.config.slowQueryThresholdMs });
      if (deps.config.metricsEnabled) {
        await commit({ api: '', query: '', resource: mapped.lines }, { api: 0, query: 0, resource: mapped.kept });
      }
      return sendSuccess(reply, encoding, 'metrics', mapped.rejected, mapped.rejectedReason ?? '');
    } catch (err) {
      const apiError = asApiError(err);
      if (!apiError) throw err;
      return sendError(reply, encoding, apiError);
    }
  });
}
