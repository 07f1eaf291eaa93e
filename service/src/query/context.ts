// What every query handler receives, and the helpers they share.
import type { QueryOf, QueryResult, QueryType } from '../contract/query';
import type { RangeRead } from '../db/rangeHistograms';
import type { RunningTotalsCache } from '../db/runningTotalsCache';
import type { Queryable } from '../db/tenantSession';
import { ApiError } from '../http/errors';
import type { Step, TimeRange } from './timeRange';
import { chooseStep } from './timeRange';

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
  /** Running totals already read from this database (src/db/runningTotalsCache.ts). */
  totalsCache: RunningTotalsCache;
}

/** What the range reads of src/db need from the request (src/db/rangeHistograms.ts). */
export function rangeRead(ctx: QueryContext): RangeRead {
  return { now: ctx.now, cache: ctx.totalsCache };
}

export type QueryHandler<T extends QueryType> = (query: QueryOf<T>, ctx: QueryContext) => Promise<QueryResult>;

/** The tenant, or a 400 telling an admin to name one. */
export function tenantOf(ctx: QueryContext, queryType: QueryType): string {
  if (ctx.tenantId) return ctx.tenantId;
  throw new ApiError(400, 'tenant_required', `an admin token must name the tenant (the body's tenantId) for ${queryType} queries`, { field: 'tenantId' });
}

export function stepOf(ctx: QueryContext): Step {
  return chooseStep(ctx.range, ctx.intervalMs, ctx.maxDataPoints);
}

/** Start of the step that contains `ms`, on the grid all series share (STEP_ORIGIN). */
export function stepStart(ms: number, stepMs: number, originMs: number): Date {
  return new Date(originMs + Math.floor((ms - originMs) / stepMs) * stepMs);
}

/** Every step start from `start` up to (not including) `to`: series show empty steps too. */
export function stepTimes(start: Date, to: Date, stepMs: number): number[] {
  const times: number[] = [];
  for (let t = start.getTime(); t < to.getTime(); t += stepMs) times.push(t);
  return times;
}
