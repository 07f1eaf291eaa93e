// throughput: requests and errors per second per step, and the error rates, overall or
// for one endpoint. Steps without requests show 0 requests and no error rate.
import type { QueryHandler } from '../context';
import { tenantOf } from '../context';
import { frame, numberColumn, ratio, stepTimeColumn } from '../frames';
import { loadRequestSeries } from '../../rollups/series';

const NO_REQUESTS = { requests: 0, errors: 0, clientErrors: 0 };

export const throughput: QueryHandler<'throughput'> = async (query, ctx) => {
  const tenantId = tenantOf(ctx, 'throughput');
  const loaded = await loadRequestSeries(ctx, tenantId, { endpoints: [query.endpoint ?? ''], percents: [], withCounts: true });
  const { steps } = loaded.series[0]!;
  const seconds = loaded.stepMs / 1000;
  const each = <T>(f: (s: { requests: number; errors: number; clientErrors: number }) => T) =>
    Array.from(steps, (step) => f(step ?? NO_REQUESTS));
  const labels = query.endpoint ? { endpoint: query.endpoint } : undefined;
  return {
    frames: [
      frame({ name: query.endpoint ?? 'all endpoints', refId: query.refId, notices: loaded.notices, custom: { stepMs: loaded.stepMs, source: loaded.source } }, [
        stepTimeColumn(loaded.times, loaded.stepMs),
        numberColumn('requestsPerSecond', each((s) => s.requests / seconds), { unit: 'reqps', displayName: 'Requests per second', decimals: 2, min: 0 }, labels),
        numberColumn('errorsPerSecond', each((s) => s.errors / seconds), { unit: 'reqps', displayName: 'Server errors per second', decimals: 2, min: 0 }, labels),
        numberColumn('errorRate', each((s) => (s.requests > 0 ? s.errors / s.requests : null)), ratio('Error rate (5xx)'), labels),
        numberColumn('clientErrorRate', each((s) => (s.requests > 0 ? s.clientErrors / s.requests : null)), ratio('Client error rate (4xx)'), labels),
      ]),
    ],
  };
};
