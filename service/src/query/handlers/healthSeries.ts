// healthSeries: the health score per step with its components, from the hourly cache.
// Steps are whole hours at least (the health model scores hours); a step of several
// hours sums their counts and scores the sum, as get_performance_summary does. The
// components are the four deductions (apdex, on another scale, is in the overview).
import { healthSeries as readHealthSeries } from '../../db/healthCache';
import type { QueryHandler } from '../context';
import { tenantOf } from '../context';
import { chooseStep, rollupStep, stepStart, stepTimes } from '../../rollups/plan';
import { frame, healthConfig, numberColumn, stepTimeColumn } from '../frames';
import { HOUR_MS } from '../../rollups/time';

export const healthSeries: QueryHandler<'healthSeries'> = async (query, ctx) => {
  const tenantId = tenantOf(ctx, 'healthSeries');
  const { stepMs } = rollupStep(Math.max(chooseStep(ctx.range, { intervalMs: ctx.intervalMs, maxDataPoints: ctx.maxDataPoints, key: 'total', nowMs: ctx.now }).stepMs, HOUR_MS));
  const start = stepStart(ctx.range.from.getTime(), stepMs);
  const points = await readHealthSeries(ctx.db, tenantId, { start, to: ctx.range.to, stepMs });
  const byTime = new Map(points.map((p) => [p.time.getTime(), p]));
  const times = stepTimes(start, ctx.range.to, stepMs);
  const pick = (f: (p: NonNullable<ReturnType<typeof byTime.get>>) => number | null) => times.map((t) => {
    const point = byTime.get(t);
    return point ? f(point) : null;
  });
  const deduction = (displayName: string) => ({ unit: 'none', displayName, decimals: 1, min: 0 });
  return {
    frames: [
      frame({ name: 'health', refId: query.refId, custom: { stepMs } }, [
        stepTimeColumn(times, stepMs),
        numberColumn('healthScore', pick((p) => p.healthScore), healthConfig),
        numberColumn('latencyDeduction', pick((p) => p.latencyDeduction), deduction('Latency deduction')),
        numberColumn('errorDeduction', pick((p) => p.errorDeduction), deduction('Error deduction')),
        numberColumn('slowQueryDeduction', pick((p) => p.slowQueryDeduction), deduction('Slow query deduction')),
        numberColumn('resourceDeduction', pick((p) => p.resourceDeduction), deduction('Resource deduction')),
      ]),
    ],
  };
};
