// Request series shared by latencyPercentiles and throughput: picks the source (for a
// short window with a fine step, the 5-second totals or raw rows; else the rollup
// resolution of the step) and returns, per endpoint and step, the counts and the
// percentiles asked for.
import { rawRequestSeries } from '../db/rawRequests';
import { FIVE_SECONDS_MS, requestRows5s, type Row5s } from '../db/requestRollup5s';
import { requestSeries, STEP_ORIGIN_MS, STORED_PERCENTILES, type RequestPoint } from '../db/requestRollups';
import type { QueryContext } from './context';
import { stepOf, stepStart, stepTimes } from './context';
import { Histogram, sendPercentiles } from './histogram';
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
  /** chooseStep's source, or '5s' for the 5-second totals. */
  source: Step['source'] | '5s';
  times: number[];
  /** Per endpoint, the step at each of `times` (same index), undefined where there was none. */
  series: Array<{ endpoint: string; steps: Array<RequestStep | undefined> }>;
  notices: Array<{ severity: 'info' | 'warning'; text: string }>;
}

/**
 * endpoints: '' is the total over all endpoints. withCounts: the request counts are
 * needed (throughput); else they are left at 0 and only percentiles are read.
 *
 * A single series over a window of up to an hour with a step under 5 minutes
 * (chooseStep's 'raw') is read:
 *   - for the total, with a step of 5 s or more: from the 5-second totals
 *     (src/db/requestRollup5s.ts), the step rounded up to a multiple of 5 s;
 *   - otherwise from the raw rows, with exact percentiles. When the window holds more
 *     than RAW_ROW_LIMIT rows, the 5-second totals answer instead (the 5-minute rollups
 *     for one endpoint) and a notice says so.
 * Where the 5-second totals do not reach back to the window (requests older than the
 * schema version that made them), the raw rows answer. Every other series is read from
 * the rollup resolution of its step.
 */
export async function loadRequestSeries(
  ctx: QueryContext,
  tenantId: string,
  { endpoints, percents, withCounts }: { endpoints: string[]; percents: number[]; withCounts: boolean },
): Promise<LoadedSeries> {
  const notices: LoadedSeries['notices'] = [];
  const step = stepOf(ctx);
  if (step.source === 'raw' && endpoints.length === 1) {
    const total = endpoints[0] === '';
    const stepMs5s = Math.ceil(step.stepMs / FIVE_SECONDS_MS) * FIVE_SECONDS_MS;
    const fineFirst = total && step.stepMs >= FIVE_SECONDS_MS;
    if (fineFirst) {
      const fine = await load5s(ctx, tenantId, stepMs5s, percents, withCounts, notices);
      if (fine) return fine;
    }
    const raw = await loadRaw(ctx, tenantId, endpoints[0]!, step.stepMs, percents, notices);
    if (raw) return raw;
    if (total && !fineFirst) {
      const fine = await load5s(ctx, tenantId, stepMs5s, percents, withCounts, notices);
      if (fine) {
        notices.push({ severity: 'info', text: `More than ${RAW_ROW_LIMIT} requests in this window: shown in ${stepMs5s / 1000}-second steps from the 5-second totals.` });
        return fine;
      }
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
  return fromRollupRows(ctx, { stepMs: rollup.stepMs, source: rollup.source, start, endpoints, percents, useStored, notices }, rows);
}

/** The raw rows' series, or null when the window holds more than RAW_ROW_LIMIT of them. */
async function loadRaw(
  ctx: QueryContext, tenantId: string, endpoint: string, stepMs: number, percents: number[], notices: LoadedSeries['notices'],
): Promise<LoadedSeries | null> {
  const rows = await rawRequestSeries(ctx.db, tenantId, {
    from: ctx.range.from, to: ctx.range.to, endpoint: endpoint || null, limit: RAW_ROW_LIMIT,
    stepMs, fractions: percents.map((p) => p / 100),
  });
  if (rows.reduce((n, row) => n + row.requests, 0) > RAW_ROW_LIMIT) return null;
  const start = stepStart(ctx.range.from.getTime(), stepMs, STEP_ORIGIN_MS);
  const times = stepTimes(start, ctx.range.to, stepMs);
  const steps = new Array<RequestStep | undefined>(times.length);
  for (const row of rows) {
    setStep(steps, stepIndex(row.time, start, stepMs), {
      requests: row.requests, errors: row.errors, clientErrors: row.clientErrors, sumMs: row.sumMs, percentiles: row.percentiles,
    });
  }
  return { stepMs, source: 'raw', times, series: [{ endpoint, steps }], notices };
}

/**
 * The tenant's total from the 5-second totals, or null where they do not reach back to
 * the window. A step of one bucket (the usual case) takes the percentiles stored on it,
 * or reads them from its histogram when others are asked for; a longer step, or a bucket
 * with deltas not yet refreshed, merges the histograms.
 */
async function load5s(
  ctx: QueryContext, tenantId: string, stepMs: number, percents: number[], withCounts: boolean, notices: LoadedSeries['notices'],
): Promise<LoadedSeries | null> {
  const start = stepStart(ctx.range.from.getTime(), stepMs, STEP_ORIGIN_MS);
  // A step of one bucket reads the percentiles stored on it, when they are the ones asked for.
  const storable = stepMs === FIVE_SECONDS_MS && percents.length > 0 && percents.every((p) => (STORED_PERCENTILES as readonly number[]).includes(p));
  const rows = await requestRows5s(ctx.db, tenantId, {
    start, to: ctx.range.to, withCounts, withHistograms: percents.length > 0, storedPercentiles: storable ? percents : [],
  });
  if (!rows) return null;
  const times = stepTimes(start, ctx.range.to, stepMs);
  const steps = new Array<RequestStep | undefined>(times.length);
  // Per step, its first row, and the others when there are more.
  const first = new Array<Row5s | undefined>(times.length);
  const more = new Map<number, Row5s[]>();
  for (const row of rows) {
    // A bucket lies in the step that starts at or before it.
    const index = Math.floor((row.time - start.getTime()) / stepMs);
    if (index < 0 || index >= steps.length) continue;
    const step = steps[index];
    if (!step) {
      steps[index] = { requests: row.requests, errors: row.errors, clientErrors: row.clientErrors, sumMs: row.sumMs, percentiles: [] };
      first[index] = row;
    } else {
      step.requests += row.requests;
      step.errors += row.errors;
      step.clientErrors += row.clientErrors;
      step.sumMs += row.sumMs;
      const others = more.get(index);
      if (others) others.push(row);
      else more.set(index, [row]);
    }
  }
  if (percents.length > 0) {
    for (let index = 0; index < steps.length; index++) {
      const step = steps[index];
      const row = first[index];
      if (!step || !row) continue;
      const others = more.get(index);
      const single = others ? undefined : row.stored ?? sendPercentiles(row.hist!, percents);
      if (single) {
        step.percentiles = single;
      } else {
        const histogram = new Histogram();
        for (const each of [row, ...(others ?? [])]) histogram.addSend(each.hist!);
        step.percentiles = histogram.percentiles(percents);
      }
    }
  }
  return { stepMs, source: '5s', times, series: [{ endpoint: '', steps }], notices };
}

function fromRollupRows(
  ctx: QueryContext,
  { stepMs, source, start, endpoints, percents, useStored, notices }: {
    stepMs: number; source: LoadedSeries['source']; start: Date; endpoints: string[]; percents: number[]; useStored: boolean;
    notices: LoadedSeries['notices'];
  },
  rows: RequestPoint[],
): LoadedSeries {
  const times = stepTimes(start, ctx.range.to, stepMs);
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
      setStep(steps, stepIndex(row.time, start, stepMs), {
        requests: row.requests,
        errors: row.errors,
        clientErrors: row.clientErrors,
        sumMs: row.sumMs,
        percentiles,
      });
    }
  }
  return {
    stepMs,
    source,
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
