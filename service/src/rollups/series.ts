// Request series shared by latencyPercentiles and throughput: per endpoint ('' = the
// tenant's total) and step, the counts and the percentiles asked for, from the source
// src/rollups/plan.ts chooses: raw rows for a short window with a fine step, else the
// rollup resolution of the step.
import { readBinaryRows } from '../db/binaryRows';
import type { Queryable } from '../db/tenantSession';
import type { QueryContext } from '../query/context';
import { packedTop, percentilesInto } from './histogram';
import { busiestEndpoints } from './requests';
import {
  chooseStep, fineRowsCover, RAW_ROW_LIMIT, resolutionOf, rollupStep, STEP_ORIGIN, type Step, stepIndex, stepStart, stepTimes,
} from './plan';
import { sql } from './sql';
import { FIVE_MINUTES_MS, RESOLUTION_MS, type Resolution } from './time';

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
  source: Step['source'];
  times: number[];
  /**
   * Per endpoint: `steps`, the counts at each of `times` (same index; undefined where
   * there was none, and always when counts were not asked for); `percentiles`, per
   * requested percentile its value at each of `times` (null where the step had no requests;
   * from the rollups, to 5 significant digits: toHistogramPrecision).
   */
  series: SeriesOfEndpoint[];
  notices: Array<{ severity: 'info' | 'warning'; text: string }>;
}

/**
 * endpoints: '' is the tenant's total; `{ busiest: n }`, the n endpoints with the most
 * requests in the steps drawn (from the first step's start, not the range's: the same
 * rows the series reads, so a ranking over 30 days reads no raw rows at its head), busiest
 * first. withCounts: the request counts are needed (throughput); else they are left
 * undefined and only percentiles are read.
 *
 * One series over a window of up to an hour with a step under 5 minutes is read from
 * the raw rows, with exact percentiles, unless the window holds more than RAW_ROW_LIMIT
 * requests; then, and for every other series, from the rollup resolution of the step.
 */
export async function loadRequestSeries(
  ctx: QueryContext,
  tenantId: string,
  { endpoints: asked, percents, withCounts }: { endpoints: string[] | { busiest: number }; percents: number[]; withCounts: boolean },
): Promise<LoadedSeries> {
  const notices: LoadedSeries['notices'] = [];
  const one = Array.isArray(asked) && asked.length === 1 ? asked[0]! : null;
  const key = one === '' ? 'total' : 'key';
  const step = chooseStep(ctx.range, { intervalMs: ctx.intervalMs, maxDataPoints: ctx.maxDataPoints, key, nowMs: ctx.now, raw: one !== null });
  if (step.source === 'raw' && one !== null) {
    const raw = await loadRaw(ctx, tenantId, one, step.stepMs, percents, notices);
    if (raw) return raw;
  }
  const rollup = step.source === 'raw' ? rollupStep(FIVE_MINUTES_MS, fineRowsCover(ctx.range, key, ctx.now)) : { stepMs: step.stepMs, source: step.source };
  if (step.source === 'raw') {
    notices.push({ severity: 'info', text: `More than ${RAW_ROW_LIMIT} requests in this window: shown in ${rollup.stepMs / 60_000}-minute steps from the rollups.` });
  }
  const resolution = resolutionOf(rollup, key);
  const start = stepStart(ctx.range.from.getTime(), rollup.stepMs);
  const endpoints = Array.isArray(asked)
    ? asked
    : await busiestEndpoints(ctx.db, tenantId, { from: start, to: ctx.range.to }, ctx.settings, ctx.now, asked.busiest);
  const times = stepTimes(start, ctx.range.to, rollup.stepMs);
  const series = new Map(endpoints.map((endpoint) => [endpoint, {
    endpoint, steps: new Array<RequestStep | undefined>(times.length), percentiles: percentileColumns(percents.length, times.length),
  }]));
  // Rows come in no particular order. A step's histograms are gathered, and read as soon
  // as the step has all its rows (one per row of the resolution it spans), while the
  // database still writes the others; steps with rows missing are read at the end.
  const rowsPerStep = rollup.stepMs / RESOLUTION_MS[resolution];
  // A step of one row, at percentiles of 50 and above, reads only the top of the row's
  // histogram (packedTop): at p95 about a twentieth of its bytes.
  const lowest = Math.min(...percents);
  const top = rowsPerStep === 1 && percents.length > 0 && lowest >= 50 ? lowest / 100 : null;
  const hists = new Map<SeriesOfEndpoint, { parts: Array<Buffer | Buffer[] | undefined>; rows: Uint16Array; totals: Float64Array }>();
  await requestSeries(ctx.db, tenantId, {
    endpoints, resolution, start, to: ctx.range.to, withCounts, withHistograms: percents.length > 0, top,
  }, (row) => {
    const of = series.get(row.endpoint);
    const index = Math.floor((row.time - start.getTime()) / rollup.stepMs);
    if (!of || index < 0 || index >= times.length) return;
    if (row.counts) {
      const step = of.steps[index];
      if (step) {
        step.requests += row.counts.requests;
        step.errors += row.counts.errors;
        step.clientErrors += row.counts.clientErrors;
        step.sumMs += row.counts.sumMs;
      } else {
        of.steps[index] = { ...row.counts };
      }
    }
    if (!row.hist) return;
    if (rowsPerStep === 1) {
      percentilesInto(row.hist, percents, of.percentiles, index, true, row.total);
      return;
    }
    let gathering = hists.get(of);
    if (!gathering) {
      hists.set(of, (gathering = {
        parts: new Array<Buffer | Buffer[] | undefined>(times.length), rows: new Uint16Array(times.length), totals: new Float64Array(times.length),
      }));
    }
    const { parts, totals } = gathering;
    totals[index]! += row.total;
    const gathered = parts[index];
    if (gathered === undefined) parts[index] = row.hist;
    else if (Array.isArray(gathered)) gathered.push(row.hist);
    else parts[index] = [gathered, row.hist];
    if (++gathering.rows[index]! === rowsPerStep) {
      percentilesInto(parts[index]!, percents, of.percentiles, index, true, totals[index]);
      parts[index] = undefined;
    }
  });
  for (const [of, { parts, totals }] of hists) {
    for (let index = 0; index < parts.length; index++) {
      const gathered = parts[index];
      if (gathered !== undefined) percentilesInto(gathered, percents, of.percentiles, index, true, totals[index]);
    }
  }
  return { stepMs: rollup.stepMs, source: resolution, times, series: endpoints.map((endpoint) => series.get(endpoint)!), notices };
}

/** The raw rows' series, or null when the window holds more than RAW_ROW_LIMIT of them. */
async function loadRaw(
  ctx: QueryContext, tenantId: string, endpoint: string, stepMs: number, percents: number[], notices: LoadedSeries['notices'],
): Promise<LoadedSeries | null> {
  const rows = await rawRequestSeries(ctx.db, tenantId, {
    from: ctx.range.from, to: ctx.range.to, endpoint: endpoint || null, limit: RAW_ROW_LIMIT, stepMs, fractions: percents.map((p) => p / 100),
  });
  if (rows.reduce((n, row) => n + row.requests, 0) > RAW_ROW_LIMIT) return null;
  const start = stepStart(ctx.range.from.getTime(), stepMs);
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

/** One column per percentile, each `length` nulls. */
function percentileColumns(count: number, length: number): Array<Array<number | null>> {
  return Array.from({ length: count }, () => new Array<number | null>(length).fill(null));
}

/** Sets one step's percentiles, one per column. */
function setPercentiles(columns: Array<Array<number | null>>, index: number, values: ReadonlyArray<number | null>): void {
  for (let i = 0; i < columns.length; i++) columns[i]![index] = values[i] ?? null;
}

/** Counts of requests in a step. */
export interface RequestCounts {
  requests: number;
  errors: number;
  clientErrors: number;
  sumMs: number;
  maxMs: number | null;
}

/** One row of requestSeries. */
export interface RequestRow {
  endpoint: string;
  /** Bucket start, ms. */
  time: number;
  /** When counts were asked for. */
  counts?: { requests: number; errors: number; clientErrors: number; sumMs: number };
  /** The row's histogram, packed (src/rollups/histogram.ts), when asked for; with `top`, only its top. */
  hist?: Buffer | null;
  /** With the histogram: the row's request count, the values its whole histogram holds. */
  total: number;
}

/**
 * The rows of one rollup resolution per endpoint ('' = all) with buckets in [start, to),
 * each given to `onRow` as it arrives, in no particular order (a sort of tens of
 * thousands of rows with their histograms cost more than placing them by time). Only
 * what is asked for is read: counts, histograms, or with `top` (a percentile 0.5..1) only
 * the top of each histogram that percentile and those above it need, with the row's total.
 * The row object is refilled for the next row: keep its values, not it.
 */
export async function requestSeries(
  db: Queryable,
  tenantId: string,
  { endpoints, resolution, start, to, withCounts, withHistograms, top = null }: {
    endpoints: string[]; resolution: Resolution; start: Date; to: Date; withCounts: boolean; withHistograms: boolean; top?: number | null;
  },
  onRow: (row: RequestRow) => void,
): Promise<void> {
  const tops = withHistograms && top !== null;
  const columns = [
    ...(withCounts ? ['r.requests::float8', 'r.errors::float8', 'r.client_errors::float8', 'r.sum_ms::float8'] : []),
    ...(withHistograms ? [tops ? packedTop('r.hist', 'r.requests', ':top::float8') : 'r.hist', 'r.requests::float8'] : []),
  ];
  const statement = sql(
    `SELECT r.endpoint, r.bucket${columns.map((c) => `, ${c}`).join('')}
       FROM api_metrics_rollup r
      WHERE r.tenant_id = :tenant::uuid AND r.resolution = :resolution AND r.endpoint = ANY (:endpoints::text[])
        AND r.bucket >= :start::timestamptz AND r.bucket < :to::timestamptz`,
    { tenant: tenantId, resolution, start, to, endpoints, ...(tops ? { top } : {}) },
  );
  const counts = { requests: 0, errors: 0, clientErrors: 0, sumMs: 0 };
  const row: RequestRow = { endpoint: '', time: 0, counts: withCounts ? counts : undefined, total: 0 };
  const histAt = withCounts ? 6 : 2;
  await readBinaryRows(db, statement, [
    'text', 'timestamptz', ...(withCounts ? ['float8', 'float8', 'float8', 'float8'] as const : []),
    ...(withHistograms ? ['bytea', 'float8'] as const : []),
  ], (values) => {
    row.endpoint = values[0] as string;
    row.time = values[1] as number;
    if (withCounts) {
      counts.requests = values[2] as number;
      counts.errors = values[3] as number;
      counts.clientErrors = values[4] as number;
      counts.sumMs = values[5] as number;
    }
    if (withHistograms) {
      row.hist = values[histAt] as Buffer | null;
      row.total = values[histAt + 1] as number;
    }
    onRow(row);
  });
}

export interface RawRequestPoint extends RequestCounts {
  time: Date;
  /** percentile_cont of the response times, one per requested fraction. */
  percentiles: number[];
}

/**
 * A series of requests from raw rows, with exact percentiles (fractions 0..1). At most
 * limit + 1 rows are read: a series whose requests add up to more was cut, and the
 * caller answers from the rollups instead. user_id is never selected.
 */
export async function rawRequestSeries(
  db: Queryable,
  tenantId: string,
  { from, to, stepMs, endpoint, fractions, limit }: { from: Date; to: Date; stepMs: number; endpoint: string | null; fractions: number[]; limit: number },
): Promise<RawRequestPoint[]> {
  const result = await db.query<{
    time: Date; requests: number; errors: number; client_errors: number; sum_ms: number; max_ms: number | null; percentiles: number[];
  }>(sql(
    `SELECT date_bin(make_interval(secs => :step_ms::float8 / 1000), "timestamp", timestamptz '${STEP_ORIGIN}') AS time,
            count(*)::float8 AS requests,
            count(*) FILTER (WHERE status_code >= 500)::float8 AS errors,
            count(*) FILTER (WHERE status_code BETWEEN 400 AND 499)::float8 AS client_errors,
            sum(response_time_ms)::float8 AS sum_ms, max(response_time_ms)::float8 AS max_ms,
            percentile_cont(:fractions::float8[]) WITHIN GROUP (ORDER BY response_time_ms) AS percentiles
       FROM (SELECT "timestamp", response_time_ms, status_code
               FROM api_performance_log
              WHERE tenant_id = :tenant::uuid AND "timestamp" >= :from::timestamptz AND "timestamp" < :to::timestamptz
                AND (:endpoint::text IS NULL OR coalesce(nullif(endpoint, ''), '(none)') = :endpoint::text)
              LIMIT :limit::integer + 1) capped
      GROUP BY 1 ORDER BY 1`,
    { tenant: tenantId, from, to, step_ms: stepMs, endpoint, fractions, limit },
  ));
  return result.rows.map((row) => ({
    time: row.time,
    requests: row.requests,
    errors: row.errors,
    clientErrors: row.client_errors,
    sumMs: row.sum_ms,
    maxMs: row.max_ms,
    percentiles: (row.percentiles ?? []).map(Number),
  }));
}
