// Request series shared by latencyPercentiles and throughput: picks the source (raw rows
// for a short window with a fine step, else the rollup resolution of the step) and
// returns, per endpoint and step, the counts and the percentiles asked for.
import { rawRequestSeries } from '../db/rawRequests';
import { requestSeries, STEP_ORIGIN_MS, STORED_PERCENTILES } from '../db/requestRollups';
import type { QueryContext } from './context';
import { stepOf, stepStart, stepTimes } from './context';
import { Histogram } from './histogram';
import { FIVE_MINUTES_MS, RAW_ROW_LIMIT, RESOLUTION_MS, rollupStep, type Step } from './timeRange';

export interface RequestStep {
  requests: number;
  errors: number;
  clientErrors: number;
  sumMs: number;
  /** One per requested percentile, null when the step had no requests. */
  percentiles: Array<number | null>;
}

export interface LoadedSeries {
  stepMs: number;
  source: Step['source'];
  times: number[];
  /** Per endpoint, the step at each of `times` (same index), undefined where there was none. */
  series: Array<{ endpoint: string; steps: Array<RequestStep | undefined> }>;
  notices: Array<{ severity: 'info' | 'warning'; text: string }>;
}

/**
 * endpoints: '' is the total over all endpoints. withCounts: the request counts are
 * needed (throughput); else they are left at 0 and only percentiles are read. Raw rows are read only for a single
 * series; when the window holds more than RAW_ROW_LIMIT rows, the 5-minute rollups
 * answer and a notice says so.
 */
export async function loadRequestSeries(
  ctx: QueryContext,
  tenantId: string,
  { endpoints, percents, withCounts }: { endpoints: string[]; percents: number[]; withCounts: boolean },
): Promise<LoadedSeries> {
  const notices: LoadedSeries['notices'] = [];
  const step = stepOf(ctx);
  if (step.source === 'raw' && endpoints.length === 1) {
    const rows = await rawRequestSeries(ctx.db, tenantId, {
      from: ctx.range.from, to: ctx.range.to, endpoint: endpoints[0] || null, limit: RAW_ROW_LIMIT,
      stepMs: step.stepMs, fractions: percents.map((p) => p / 100),
    });
    if (rows.reduce((n, row) => n + row.requests, 0) <= RAW_ROW_LIMIT) {
      const start = stepStart(ctx.range.from.getTime(), step.stepMs, STEP_ORIGIN_MS);
      const times = stepTimes(start, ctx.range.to, step.stepMs);
      const steps = new Array<RequestStep | undefined>(times.length);
      for (const row of rows) {
        setStep(steps, stepIndex(row.time, start, step.stepMs), {
          requests: row.requests, errors: row.errors, clientErrors: row.clientErrors, sumMs: row.sumMs, percentiles: row.percentiles,
        });
      }
      return { stepMs: step.stepMs, source: 'raw', times, series: [{ endpoint: endpoints[0]!, steps }], notices };
    }
    notices.push({ severity: 'info', text: `More than ${RAW_ROW_LIMIT} requests in this window: shown in 5-minute steps from the rollups.` });
  }
  const rollup = step.source === 'raw' ? rollupStep(FIVE_MINUTES_MS) : { stepMs: step.stepMs, source: step.source };
  const start = stepStart(ctx.range.from.getTime(), rollup.stepMs, STEP_ORIGIN_MS);
  // A step of one rollup row has its percentiles stored (V0.0.43); others merge histograms.
  const stored = percents.map((p) => (STORED_PERCENTILES as readonly number[]).indexOf(p));
  const useStored = rollup.stepMs === RESOLUTION_MS[rollup.source] && stored.every((i) => i >= 0);
  const rows = await requestSeries(ctx.db, tenantId, {
    endpoints, resolution: rollup.source, start, to: ctx.range.to, stepMs: rollup.stepMs,
    withCounts,
    withHistograms: percents.length > 0 && !useStored,
    storedPercentiles: useStored ? percents : [],
  });
  const times = stepTimes(start, ctx.range.to, rollup.stepMs);
  const series = new Map<string, Array<RequestStep | undefined>>(endpoints.map((e) => [e, new Array<RequestStep | undefined>(times.length)]));
  for (const row of rows) {
    let percentiles: Array<number | null>;
    if (useStored) {
      percentiles = percents.map((_, i) => row.storedPercentiles?.[i] ?? null);
    } else {
      const histogram = new Histogram();
      histogram.addPacked(row.histPacked);
      percentiles = histogram.percentiles(percents);
    }
    const steps = series.get(row.endpoint);
    if (steps) {
      setStep(steps, stepIndex(row.time, start, rollup.stepMs), {
        requests: row.requests,
        errors: row.errors,
        clientErrors: row.clientErrors,
        sumMs: row.sumMs,
        percentiles,
      });
    }
  }
  return {
    stepMs: rollup.stepMs,
    source: rollup.source,
    times,
    series: endpoints.map((endpoint) => ({ endpoint, steps: series.get(endpoint)! })),
    notices,
  };
}

/** Position of a step's time among stepTimes(start, ..., stepMs). */
function stepIndex(time: Date, start: Date, stepMs: number): number {
  return Math.round((time.getTime() - start.getTime()) / stepMs);
}

/** Sets a step that falls among the series' times; a step outside them is not shown. */
function setStep(steps: Array<RequestStep | undefined>, index: number, step: RequestStep): void {
  if (index >= 0 && index < steps.length) steps[index] = step;
}
