// Request series shared by latencyPercentiles and throughput: picks the source (for a
// short window with a fine step, the 5-second totals or raw rows; else the rollup
// resolution of the step) and returns, per endpoint and step, the counts and the
// percentiles asked for.
import { rawRequestSeries } from '../db/rawRequests';
import { FIVE_SECONDS_MS, requestRows5s, type Row5s } from '../db/requestRollup5s';
import { requestSeries, STEP_ORIGIN_MS, STORED_PERCENTILES, storedPercentileSeries, type RequestPoint, type StoredSeries } from '../db/requestRollups';
import type { QueryContext } from './context';
import { stepOf, stepStart, stepTimes } from './context';
import { Histogram, sendPercentiles } from './histogram';
import { FIVE_MINUTES_MS, RAW_ROW_LIMIT, RESOLUTION_MS, rollupStep, type Step } from './timeRange';

export interface RequestStep {
  requests: number;
  errors: number;
  clientErrors: number;
  sumMs: number;
}

export interface SeriesOfEndpoint {
  endpoint: string;
  steps: Array<RequestStep | undefined>;
  percentiles: Array<Array<number | null>>;
}

export interface LoadedSeries {
  stepMs: number;
  /** chooseStep's source, or '5s' for the 5-second totals. */
  source: Step['source'] | '5s';
  times: number[];
  /**
   * Per endpoint: `steps`, the counts at each of `times` (same index; undefined where
   * there was none, and always when counts were not asked for); `percentiles`, per
   * requested percentile its value at each of `times` (null where the step had no requests).
   */
  series: SeriesOfEndpoint[];
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
  // A step of one rollup row has its percentiles stored (V0.0.43): a latency series reads
  // only those. Other steps, and series with counts, merge histograms.
  const useStored = rollup.stepMs === RESOLUTION_MS[rollup.source]
    && percents.every((p) => (STORED_PERCENTILES as readonly number[]).includes(p));
  if (useStored && !withCounts && percents.length > 0) {
    const read = await storedPercentileSeries(ctx.db, tenantId, { endpoints, resolution: rollup.source, start, to: ctx.range.to, percents });
    return fromStoredSeries(ctx, { stepMs: rollup.stepMs, source: rollup.source, start, endpoints, percents, notices }, read);
  }
  const rows = await requestSeries(ctx.db, tenantId, {
    endpoints, resolution: rollup.source, start, to: ctx.range.to, stepMs: rollup.stepMs,
    withCounts,
    withHistograms: percents.length > 0,
  });
  return fromRollupRows(ctx, { stepMs: rollup.stepMs, source: rollup.source, start, endpoints, percents, notices }, rows);
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
  const percentiles = percentileColumns(percents.length, times.length);
  for (const row of rows) {
    const index = stepIndex(row.time.getTime(), start, stepMs);
    if (index < 0 || index >= times.length) continue;
    steps[index] = { requests: row.requests, errors: row.errors, clientErrors: row.clientErrors, sumMs: row.sumMs };
    setPercentiles(percentiles, index, row.percentiles);
  }
  return { stepMs, source: 'raw', times, series: [{ endpoint, steps, percentiles }], notices };
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
      steps[index] = { requests: row.requests, errors: row.errors, clientErrors: row.clientErrors, sumMs: row.sumMs };
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
  const percentiles = percentileColumns(percents.length, times.length);
  if (percents.length > 0) {
    for (let index = 0; index < steps.length; index++) {
      const step = steps[index];
      const row = first[index];
      if (!step || !row) continue;
      const others = more.get(index);
      const single = others ? undefined : row.stored ?? sendPercentiles(row.hist!, percents);
      if (single) {
        setPercentiles(percentiles, index, single);
      } else {
        const histogram = new Histogram();
        for (const each of [row, ...(others ?? [])]) histogram.addSend(each.hist!);
        setPercentiles(percentiles, index, histogram.percentiles(percents));
      }
    }
  }
  return { stepMs, source: '5s', times, series: [{ endpoint: '', steps, percentiles }], notices };
}

function fromRollupRows(
  ctx: QueryContext,
  { stepMs, source, start, endpoints, percents, notices }: {
    stepMs: number; source: LoadedSeries['source']; start: Date; endpoints: string[]; percents: number[];
    notices: LoadedSeries['notices'];
  },
  rows: RequestPoint[],
): LoadedSeries {
  const times = stepTimes(start, ctx.range.to, stepMs);
  const series = emptySeries(endpoints, times.length, percents.length);
  for (const row of rows) {
    const of = series.get(row.endpoint);
    const index = stepIndex(row.time.getTime(), start, stepMs);
    if (!of || index < 0 || index >= times.length) continue;
    of.steps[index] = { requests: row.requests, errors: row.errors, clientErrors: row.clientErrors, sumMs: row.sumMs };
    if (percents.length === 0) continue;
    const histogram = new Histogram();
    histogram.addPacked(row.histPacked);
    setPercentiles(of.percentiles, index, histogram.percentiles(percents));
  }
  return { stepMs, source, times, series: endpoints.map((endpoint) => series.get(endpoint)!), notices };
}

/** Stored percentiles read column by column into the steps' columns; no counts. */
function fromStoredSeries(
  ctx: QueryContext,
  { stepMs, source, start, endpoints, percents, notices }: {
    stepMs: number; source: LoadedSeries['source']; start: Date; endpoints: string[]; percents: number[]; notices: LoadedSeries['notices'];
  },
  read: StoredSeries[],
): LoadedSeries {
  const times = stepTimes(start, ctx.range.to, stepMs);
  const series = emptySeries(endpoints, times.length, percents.length);
  for (const { endpoint, times: bucketTimes, values } of read) {
    const of = series.get(endpoint);
    if (!of) continue;
    for (let k = 0; k < bucketTimes.length; k++) {
      const index = stepIndex(bucketTimes[k]!, start, stepMs);
      if (index < 0 || index >= times.length) continue;
      for (let i = 0; i < values.length; i++) of.percentiles[i]![index] = values[i]![k] ?? null;
    }
  }
  return { stepMs, source, times, series: endpoints.map((endpoint) => series.get(endpoint)!), notices };
}

/** Per endpoint, no steps yet and every percentile null, by endpoint. */
function emptySeries(endpoints: string[], length: number, percentCount: number): Map<string, SeriesOfEndpoint> {
  return new Map(endpoints.map((endpoint) => [endpoint, {
    endpoint, steps: new Array<RequestStep | undefined>(length), percentiles: percentileColumns(percentCount, length),
  }]));
}

/** One column per percentile, each `length` nulls. */
function percentileColumns(count: number, length: number): Array<Array<number | null>> {
  return Array.from({ length: count }, () => new Array<number | null>(length).fill(null));
}

/** Sets one step's percentiles, one per column. */
function setPercentiles(columns: Array<Array<number | null>>, index: number, values: ReadonlyArray<number | null>): void {
  for (let i = 0; i < columns.length; i++) columns[i]![index] = values[i] ?? null;
}

/** Position of a step's time (ms) among stepTimes(start, ..., stepMs). */
function stepIndex(timeMs: number, start: Date, stepMs: number): number {
  return Math.round((timeMs - start.getTime()) / stepMs);
}
