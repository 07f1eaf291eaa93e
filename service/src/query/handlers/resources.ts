// resources: CPU, memory and connections against the pool maximum per step, one frame
// per source (label `source`), from the 5-minute resource rollups, or from the raw
// samples for a short window with a fine step.
import { rawResourceSeries, resourceSeries, type ResourcePoint } from '../../db/resourceRollups';
import type { QueryHandler } from '../context';
import { tenantOf } from '../context';
import { chooseStep, RAW_ROW_LIMIT, rollupStep, stepStart, stepTimes } from '../../rollups/plan';
import { frame, numberColumn, stepTimeColumn } from '../frames';
import { FIVE_MINUTES_MS } from '../../rollups/time';

/** The seed's alert thresholds, drawn on the fields. */
const CPU_ALERT_PERCENT = 80;
const MEMORY_ALERT_PERCENT = 90;
const POOL_ALERT_PERCENT = 90;

const percent = (displayName: string, alertAt: number) => ({
  unit: 'percent', displayName, decimals: 1, min: 0, max: 100,
  thresholds: { mode: 'absolute' as const, steps: [{ value: null, color: 'green' }, { value: alertAt, color: 'red' }] },
});

export const resources: QueryHandler<'resources'> = async (query, ctx) => {
  const tenantId = tenantOf(ctx, 'resources');
  let step = chooseStep(ctx.range, { intervalMs: ctx.intervalMs, maxDataPoints: ctx.maxDataPoints, key: 'total', nowMs: ctx.now });
  const source = query.source ?? null;
  let points: ResourcePoint[];
  if (step.source === 'raw') {
    const start = stepStart(ctx.range.from.getTime(), step.stepMs);
    points = await rawResourceSeries(ctx.db, tenantId, { start: ctx.range.from, to: ctx.range.to, stepMs: step.stepMs, source, limit: RAW_ROW_LIMIT });
    return { frames: framesOf(query.refId, points, stepTimes(start, ctx.range.to, step.stepMs), step.stepMs) };
  }
  step = rollupStep(Math.max(step.stepMs, FIVE_MINUTES_MS));
  const start = stepStart(ctx.range.from.getTime(), step.stepMs);
  points = await resourceSeries(ctx.db, tenantId, { start, to: ctx.range.to, stepMs: step.stepMs, source });
  return { frames: framesOf(query.refId, points, stepTimes(start, ctx.range.to, step.stepMs), step.stepMs) };
};

function framesOf(refId: string, points: ResourcePoint[], times: number[], stepMs: number) {
  const bySource = new Map<string, Map<number, ResourcePoint>>();
  for (const p of points) {
    if (!bySource.has(p.source)) bySource.set(p.source, new Map());
    bySource.get(p.source)!.set(p.time.getTime(), p);
  }
  if (bySource.size === 0) bySource.set('', new Map());
  return [...bySource].map(([source, steps]) => {
    const at = (f: (p: ResourcePoint) => number | null) => times.map((t) => {
      const p = steps.get(t);
      return p ? f(p) : null;
    });
    const labels = source ? { source } : undefined;
    return frame({ name: source || 'no samples', refId, custom: { stepMs } }, [
      stepTimeColumn(times, stepMs),
      numberColumn('cpuUsagePercent', at((p) => p.avgCpu), percent('CPU (average)', CPU_ALERT_PERCENT), labels),
      numberColumn('cpuMaxPercent', at((p) => p.maxCpu), percent('CPU (peak)', CPU_ALERT_PERCENT), labels),
      numberColumn('memoryUsedMb', at((p) => p.avgMemoryMb), { unit: 'decmbytes', displayName: 'Memory used', decimals: 0, min: 0 }, labels),
      numberColumn('memoryTotalMb', at((p) => p.memoryTotalMb), { unit: 'decmbytes', displayName: 'Memory total', decimals: 0, min: 0 }, labels),
      numberColumn('memoryUsedPercent', at((p) => (p.maxMemoryMb !== null && p.memoryTotalMb ? (100 * p.maxMemoryMb) / p.memoryTotalMb : null)),
        percent('Memory (peak, of total)', MEMORY_ALERT_PERCENT), labels),
      numberColumn('activeConnections', at((p) => p.avgConnections), { unit: 'none', displayName: 'Connections (average)', decimals: 1, min: 0 }, labels),
      numberColumn('maxConnections', at((p) => p.maxConnections), { unit: 'none', displayName: 'Connections (peak)', decimals: 0, min: 0 }, labels),
      numberColumn('poolMax', at((p) => p.poolMax), { unit: 'none', displayName: 'Pool maximum', decimals: 0, min: 0 }, labels),
      numberColumn('poolUsedPercent', at((p) => (p.maxConnections !== null && p.poolMax ? (100 * p.maxConnections) / p.poolMax : null)),
        percent('Pool used (peak)', POOL_ALERT_PERCENT), labels),
    ]);
  });
}
