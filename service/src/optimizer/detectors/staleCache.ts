// Stale cache: the tenant's hourly cache was last updated more than 10 minutes ago (the
// seed's critical alert), for tenants with cache rows in the last day.
import { CACHE_STALE_SECONDS } from '../../http/statusRoutes';
import { cacheAgeByTenant } from '../../db/optimizerWindow';
import type { Detector } from '../detector';
import { round } from '../recommendation';

export const staleCacheDetector: Detector = {
  name: 'stale cache',
  kinds: ['staleCache'],
  async detect(ctx) {
    const since = new Date(ctx.now.getTime() - 24 * 3_600_000);
    return (await cacheAgeByTenant(ctx.pool, since))
      .filter((c) => c.ageSeconds > CACHE_STALE_SECONDS)
      .map((c) => ({
        tenantId: c.tenantId,
        kind: 'staleCache' as const,
        subject: 'performance_metrics_cache',
        severity: 'critical' as const,
        title: `Stale cache: last updated ${round(c.ageSeconds / 60, 0)} minutes ago (stale after ${CACHE_STALE_SECONDS / 60})`,
        evidence: { lastUpdated: c.lastUpdated.toISOString(), ageSeconds: round(c.ageSeconds, 0), staleAfterSeconds: CACHE_STALE_SECONDS },
        action: 'Run `npx agog-perf refresh` (or SELECT refresh_performance_metrics_incremental();) and check the refresh job in GET /health: failingJobs and jobs.refresh.lastError.',
        tableName: 'performance_metrics_cache',
      }));
  },
};
