// latencyPercentiles: p50/p95/p99 (or the percentiles asked for) per step, overall, for
// one endpoint, or one frame per endpoint (the busiest BY_ENDPOINT_LIMIT in the steps
// drawn). Percentiles come from merged histograms, never from averaged percentiles
// (DESIGN.md decision 5).
import { DEFAULT_PERCENTILES } from '../../contract/query';
import type { QueryHandler } from '../context';
import { tenantOf } from '../context';
import { frame, numberColumn, stepTimeColumn, timeColumn } from '../frames';
import { loadRequestSeries } from '../../rollups/series';

/** Most endpoints drawn by one byEndpoint query. */
export const BY_ENDPOINT_LIMIT = 20;

/** "p95", "p99.9": the field name of a percentile. */
export function percentileName(percent: number): string {
  return `p${Number(percent.toFixed(3))}`;
}

export const latencyPercentiles: QueryHandler<'latencyPercentiles'> = async (query, ctx) => {
  const tenantId = tenantOf(ctx, 'latencyPercentiles');
  const percents = [...new Set(query.percentiles ?? DEFAULT_PERCENTILES)].sort((a, b) => a - b);
  const endpoints = query.byEndpoint && !query.endpoint ? { busiest: BY_ENDPOINT_LIMIT } : [query.endpoint ?? ''];
  const loaded = await loadRequestSeries(ctx, tenantId, { endpoints, percents, withCounts: false });
  const frames = loaded.series.map(({ endpoint, percentiles }) => {
    const labels = endpoint ? { endpoint } : undefined;
    return frame(
      { name: endpoint || 'all endpoints', refId: query.refId, notices: loaded.notices, custom: { stepMs: loaded.stepMs, source: loaded.source } },
      [
        stepTimeColumn(loaded.times, loaded.stepMs),
        ...percents.map((percent, i) =>
          numberColumn(percentileName(percent), percentiles[i]!, { unit: 'ms', decimals: 1 }, labels)),
      ],
    );
  });
  return { frames: frames.length ? frames : [frame({ name: 'no endpoints', refId: query.refId }, [timeColumn('time', [])])] };
};
