// overview: the seed's performanceOverview(timeRange) as one row. Response times, rate
// and errors come from the request rollups over the range cut into segments (exact to
// 5 minutes); the health score, its components and the slow-query count from the hourly
// cache over the hours the range touches (the health model scores whole hours).
import { cacheFreshness } from '../../db/health';
import { healthTotals } from '../../db/healthCache';
import { requestTotals } from '../../rollups/requests';
import { CACHE_STALE_SECONDS } from '../../http/statusRoutes';
import type { QueryHandler } from '../context';
import { tenantOf } from '../context';
import { booleanColumn, frame, HEALTH_CRITICAL, HEALTH_GOOD, healthConfig, ms, numberColumn, ratio, stringColumn, timeColumn } from '../frames';
import { elapsedSeconds } from '../../rollups/time';

export type HealthStatus = 'healthy' | 'degraded' | 'critical' | 'unknown';

/** The seed's bands: at least 80 healthy, below 60 critical; no data is unknown. */
export function healthStatus(score: number | null): HealthStatus {
  if (score === null) return 'unknown';
  if (score >= HEALTH_GOOD) return 'healthy';
  if (score >= HEALTH_CRITICAL) return 'degraded';
  return 'critical';
}

export const overview: QueryHandler<'overview'> = async (query, ctx) => {
  const tenantId = tenantOf(ctx, 'overview');
  const totals = await requestTotals(ctx.db, tenantId, ctx.range, ctx.settings, ctx.now);
  const health = await healthTotals(ctx.db, tenantId, ctx.range);
  const freshness = await cacheFreshness(ctx.db, tenantId);
  const seconds = elapsedSeconds(ctx.range, ctx.now);
  const requests = totals.requests;
  const deduction = (displayName: string, max: number) => ({ unit: 'none', displayName, decimals: 1, min: 0, max });
  return {
    frames: [
      frame({ name: 'overview', refId: query.refId }, [
        numberColumn('healthScore', [health.healthScore], healthConfig),
        stringColumn('status', [healthStatus(health.healthScore)], { displayName: 'Status' }),
        numberColumn('apdex', [health.apdex], { unit: 'none', displayName: 'Apdex', decimals: 3, min: 0, max: 1 }),
        numberColumn('latencyDeduction', [health.latencyDeduction], deduction('Latency deduction', 40)),
        numberColumn('errorDeduction', [health.errorDeduction], deduction('Error deduction', 30)),
        numberColumn('slowQueryDeduction', [health.slowQueryDeduction], deduction('Slow query deduction', 15)),
        numberColumn('resourceDeduction', [health.resourceDeduction], deduction('Resource deduction', 15)),
        numberColumn('avgResponseTimeMs', [requests > 0 ? totals.sumMs / requests : null], ms('Average response time')),
        numberColumn('p95ResponseTimeMs', [totals.histogram.percentile(0.95)], ms('p95 response time')),
        numberColumn('requestsPerSecond', [seconds > 0 ? requests / seconds : null], { unit: 'reqps', displayName: 'Requests per second', decimals: 2 }),
        numberColumn('errorRate', [requests > 0 ? totals.errors / requests : null], ratio('Error rate (5xx)')),
        numberColumn('slowQueryCount', [health.slowQueries], { unit: 'none', displayName: 'Slow queries', decimals: 0 }),
        numberColumn('totalRequests', [requests], { unit: 'none', displayName: 'Requests', decimals: 0 }),
        timeColumn('cacheLastUpdated', [freshness.lastUpdated], { displayName: 'Cache updated' }),
        numberColumn('cacheAgeSeconds', [freshness.stalenessSeconds === null ? null : Math.max(0, freshness.stalenessSeconds)], {
          unit: 's',
          displayName: 'Cache age',
          decimals: 0,
          thresholds: { mode: 'absolute', steps: [{ value: null, color: 'green' }, { value: CACHE_STALE_SECONDS, color: 'red' }] },
        }),
        booleanColumn('cacheStale', [freshness.stalenessSeconds === null ? null : freshness.stalenessSeconds > CACHE_STALE_SECONDS], { displayName: 'Cache stale' }),
      ]),
    ],
  };
};
