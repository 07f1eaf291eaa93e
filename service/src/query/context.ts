// What every query handler receives, and the helpers they share.
import type { QueryOf, QueryResult, QueryType } from '../contract/query';
import type { Queryable } from '../db/tenantSession';
import { ApiError } from '../http/errors';
import type { TimeRange } from '../rollups/time';

export interface QuerySettings {
  /** Apdex target T and the slow-endpoint target (LATENCY_TARGET_MS). */
  latencyTargetMs: number;
  slowQueryThresholdMs: number;
}

export interface QueryContext {
  /** The tenant the token acts for; null only for an admin token that named none. */
  tenantId: string | null;
  admin: boolean;
  range: TimeRange;
  intervalMs?: number;
  maxDataPoints?: number;
  db: Queryable;
  settings: QuerySettings;
  now: number;
}

export type QueryHandler<T extends QueryType> = (query: QueryOf<T>, ctx: QueryContext) => Promise<QueryResult>;

/** The tenant, or a 400 telling an admin to name one. */
export function tenantOf(ctx: QueryContext, queryType: QueryType): string {
  if (ctx.tenantId) return ctx.tenantId;
  throw new ApiError(400, 'tenant_required', `an admin token must name the tenant (the body's tenantId) for ${queryType} queries`, { field: 'tenantId' });
}
