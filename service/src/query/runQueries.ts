// POST /v1/query, after authentication: validates the whole request first (any invalid
// query answers 400 naming its refId, an unknown query type names the type), then runs
// the queries one after another in one read session for the token's tenant.
import { z } from 'zod';
import type { Pool } from 'pg';
import { query as querySchema, queryRequest, QUERY_TYPES, type Query, type QueryResponse, type QueryType } from '../contract/query';
import { READ_TIMEOUT_MS, withTenantReadSession } from '../db/tenantSession';
import { ApiError } from '../http/errors';
import type { QueryContext, QueryHandler, QuerySettings } from './context';
import { annotations } from './handlers/annotations';
import { endpoints } from './handlers/endpoints';
import { healthSeries } from './handlers/healthSeries';
import { latencyPercentiles } from './handlers/latencyPercentiles';
import { overview } from './handlers/overview';
import { queryDetail } from './handlers/queryDetail';
import { recommendations } from './handlers/recommendations';
import { resources } from './handlers/resources';
import { slowQueries } from './handlers/slowQueries';
import { storage } from './handlers/storage';
import { throughput } from './handlers/throughput';
import { variable } from './handlers/variable';
import { resolveRange } from '../rollups/time';

const HANDLERS: { [T in QueryType]: QueryHandler<T> } = {
  overview,
  healthSeries,
  latencyPercentiles,
  throughput,
  slowQueries,
  queryDetail,
  endpoints,
  resources,
  storage,
  recommendations,
  annotations,
  variable,
};

/** Where and what; an empty path is named `root` ("(body)", as the ingest API names it, or "(query)"). */
function issues(error: z.ZodError, root: string): Array<{ path: string; message: string }> {
  return error.issues.slice(0, 20).map((issue) => ({ path: issue.path.join('.') || root, message: issue.message }));
}

export interface ValidatedRequest {
  range: { from: string | number; to: string | number };
  intervalMs?: number;
  maxDataPoints?: number;
  tenantId?: string;
  queries: Query[];
}

/** The request body checked against the contract; every failure is a 400 that says where. */
export function validateQueryRequest(body: unknown): ValidatedRequest {
  const parsed = queryRequest.safeParse(body);
  if (!parsed.success) {
    throw new ApiError(400, 'invalid_request', `the query request is invalid: ${issues(parsed.error, '(body)').map((i) => `${i.path} ${i.message}`).join('; ')}`, { issues: issues(parsed.error, '(body)') });
  }
  const queries: Query[] = [];
  const refIds = new Set<string>();
  parsed.data.queries.forEach((raw, index) => {
    const candidate = (raw ?? {}) as { refId?: unknown; queryType?: unknown };
    const refId = typeof candidate.refId === 'string' ? candidate.refId : `#${index}`;
    if (typeof candidate.queryType !== 'string' || !(QUERY_TYPES as readonly string[]).includes(candidate.queryType)) {
      const named = typeof candidate.queryType === 'string' ? `"${candidate.queryType.slice(0, 64)}"` : 'missing';
      throw new ApiError(400, 'unknown_query_type', `query ${refId}: unknown query type ${named}; known types: ${QUERY_TYPES.join(', ')}`, {
        refId, queryType: candidate.queryType ?? null, known: QUERY_TYPES,
      });
    }
    const query = querySchema.safeParse(raw);
    if (!query.success) {
      throw new ApiError(400, 'invalid_query', `query ${refId} (${candidate.queryType}) is invalid: ${issues(query.error, '(query)').map((i) => `${i.path} ${i.message}`).join('; ')}`, {
        refId, queryType: candidate.queryType, issues: issues(query.error, '(query)'),
      });
    }
    if (refIds.has(query.data.refId)) {
      throw new ApiError(400, 'duplicate_ref_id', `two queries share the refId "${query.data.refId}"`, { refId: query.data.refId });
    }
    refIds.add(query.data.refId);
    queries.push(query.data);
  });
  return { ...parsed.data, queries };
}

export interface QueryPrincipal {
  tenantId: string | null;
  admin: boolean;
}

export async function runQueries(
  pool: Pool,
  request: ValidatedRequest,
  principal: QueryPrincipal,
  settings: QuerySettings,
  observe?: (queryType: QueryType, ms: number) => void,
  { deadline }: { deadline?: number } = {},
): Promise<QueryResponse> {
  const now = Date.now();
  const range = resolveRange(request.range, now);
  const timedOut = () => new ApiError(503, 'request_timeout',
    `the request ran past its deadline (QUERY_REQUEST_TIMEOUT_MS); nothing was answered, retry with fewer queries or a shorter range`, undefined, 1);
  return withTenantReadSession(pool, principal.tenantId, async (db) => {
    const ctx: QueryContext = {
      tenantId: principal.tenantId,
      admin: principal.admin,
      range,
      intervalMs: request.intervalMs,
      maxDataPoints: request.maxDataPoints,
      db,
      settings,
      now,
    };
    const results: QueryResponse['results'] = {};
    let statementTimeoutMs = READ_TIMEOUT_MS;
    for (const query of request.queries) {
      if (query.hide) continue;
      if (deadline !== undefined) {
        // The whole request answers by its deadline: no statement may run past it.
        const remaining = Math.floor(deadline - Date.now());
        if (remaining <= 0) throw timedOut();
        if (remaining < statementTimeoutMs) {
          statementTimeoutMs = remaining;
          await db.query(`SELECT set_config('statement_timeout', $1::text, true)`, [String(remaining)]);
        }
      }
      const started = process.hrtime.bigint();
      const handler = HANDLERS[query.queryType] as QueryHandler<QueryType>;
      try {
        results[query.refId] = await handler(query as never, ctx);
      } catch (err) {
        if ((err as { code?: string }).code === '57014' && deadline !== undefined && statementTimeoutMs < READ_TIMEOUT_MS) throw timedOut();
        throw err;
      }
      observe?.(query.queryType, Number(process.hrtime.bigint() - started) / 1e6);
    }
    return { results };
  });
}
