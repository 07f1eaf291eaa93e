// queryDetail: one fingerprint over time. Three frames:
//   latency    time, avgMs, p50Ms, p95Ms, p99Ms, maxMs per step (5-minute rollups at least);
//   query      the text, totals over the shown steps, first and last seen (one row);
//   endpoints  every endpoint that issued it, with calls and total time.
// A fingerprint collected from pg_stat_statements in the shown range takes its calls,
// time and rows from the collected statistics (the rule of slowQueries: never added to
// reported ones), and its percentiles from the reported calls, when there are any.
import { collectedSeries } from '../../db/collectedStats';
import { fingerprintEndpoints, fingerprintInfo, fingerprintSeries } from '../../rollups/fingerprints';
import { hexToDecimal } from '../../ingest/fingerprint';
import type { QueryHandler } from '../context';
import { tenantOf } from '../context';
import { frame, ms, numberColumn, stepTimeColumn, stringColumn, timeColumn } from '../frames';
import { Histogram, stepPercentiles } from '../../rollups/histogram';
import { chooseStep, stepStart, stepTimes } from '../../rollups/plan';
import { COLLECTED_PERCENTILES_NOTICE, type FigureSource } from './slowQueries';

const ENDPOINTS_SHOWN = 100;

const PERCENTS = [50, 95, 99];

export const queryDetail: QueryHandler<'queryDetail'> = async (query, ctx) => {
  const tenantId = tenantOf(ctx, 'queryDetail');
  const queryHash = hexToDecimal(query.queryHash);
  // Rollup steps only (5 minutes at least): one fingerprint's raw rows are not indexed.
  const step = chooseStep(ctx.range, { intervalMs: ctx.intervalMs, maxDataPoints: ctx.maxDataPoints, key: 'key', nowMs: ctx.now, raw: false });
  if (step.source === 'raw') throw new Error('queryDetail: a rollup step was expected');
  const start = stepStart(ctx.range.from.getTime(), step.stepMs);
  const points = await fingerprintSeries(ctx.db, tenantId, { queryHash, resolution: step.source, start, to: ctx.range.to, stepMs: step.stepMs });
  const info = (await fingerprintInfo(ctx.db, tenantId, [queryHash])).get(queryHash);
  const endpoints = await fingerprintEndpoints(ctx.db, tenantId, queryHash, ENDPOINTS_SHOWN);

  const times = stepTimes(start, ctx.range.to, step.stepMs);
  const collected = await collectedSeries(ctx.db, tenantId, {
    queryHash, start, to: times.length > 0 ? new Date(times[times.length - 1]! + step.stepMs) : ctx.range.to, stepMs: step.stepMs,
  });
  const collectedAt = new Map(collected.map((c) => [c.time.getTime(), c]));
  // The shown steps' histograms: each step's percentiles, and merged, the p95 of them all.
  const all = new Histogram();
  const byTime = new Map(points.map((p) => {
    let percentiles: Array<number | null> = [null, null, null];
    if (p.hist) {
      all.addPacked(p.hist);
      percentiles = stepPercentiles(p.hist, PERCENTS);
    }
    return [p.time.getTime(), { ...p, percentiles }];
  }));
  const at = (f: (p: NonNullable<ReturnType<typeof byTime.get>>) => number | null) => times.map((t) => {
    const point = byTime.get(t);
    return point ? f(point) : null;
  });
  const source: FigureSource | null = collected.length === 0 ? (points.length > 0 ? 'reported' : null) : points.length > 0 ? 'both' : 'collected';
  // Counts and times per step: the collected ones when the fingerprint was collected in
  // the range, else the reported ones.
  const counted = collected.length > 0 ? collected : points;
  let calls = 0;
  let totalMs = 0;
  let slowCalls = 0;
  let rowsSum = 0;
  for (const p of counted) {
    calls += p.calls;
    totalMs += p.totalMs;
    slowCalls += p.slowCalls;
    rowsSum += p.rowsSum;
  }
  const avgAt = collected.length > 0
    ? times.map((t) => {
      const c = collectedAt.get(t);
      return c && c.calls > 0 ? c.totalMs / c.calls : null;
    })
    : at((p) => (p.calls > 0 ? p.totalMs / p.calls : null));
  const maxAt = collected.length > 0
    ? times.map((t) => {
      const values = [collectedAt.get(t)?.maxMs ?? null, byTime.get(t)?.maxMs ?? null].filter((v): v is number => v !== null);
      return values.length > 0 ? Math.max(...values) : null;
    })
    : at((p) => p.maxMs);
  const notices = info ? [] : [{ severity: 'info' as const, text: `No fingerprint ${query.queryHash} for this tenant.` }];
  if (collected.length > 0) notices.push({ severity: 'info' as const, text: COLLECTED_PERCENTILES_NOTICE });
  return {
    frames: [
      frame({ name: 'latency', refId: query.refId, notices, custom: { stepMs: step.stepMs } }, [
        stepTimeColumn(times, step.stepMs),
        numberColumn('avgMs', avgAt, ms('Average')),
        numberColumn('p50Ms', at((p) => p.percentiles[0] ?? null), ms('p50')),
        numberColumn('p95Ms', at((p) => p.percentiles[1] ?? null), ms('p95')),
        numberColumn('p99Ms', at((p) => p.percentiles[2] ?? null), ms('p99')),
        numberColumn('maxMs', maxAt, ms('Max')),
      ]),
      frame({ name: 'query', refId: query.refId, preferredVisualisationType: 'table' }, [
        stringColumn('queryHash', [query.queryHash], { displayName: 'Fingerprint' }),
        stringColumn('query', [info?.preview ?? null], { displayName: 'Query' }),
        numberColumn('calls', [calls], { unit: 'none', displayName: 'Calls', decimals: 0 }),
        numberColumn('totalMs', [totalMs], ms('Total time', 0)),
        numberColumn('avgMs', [calls > 0 ? totalMs / calls : null], ms('Average')),
        numberColumn('p95Ms', [all.percentile(0.95)], ms('p95')),
        numberColumn('slowCalls', [slowCalls], { unit: 'none', displayName: `Slow calls (≥ ${ctx.settings.slowQueryThresholdMs} ms)`, decimals: 0 }),
        numberColumn('rowsPerCall', [calls > 0 ? rowsSum / calls : null], { unit: 'none', displayName: 'Rows per call', decimals: 1 }),
        timeColumn('firstSeen', [info?.firstSeen ?? null], { displayName: 'First seen' }),
        timeColumn('lastSeen', [info?.lastSeen ?? null], { displayName: 'Last seen' }),
        stringColumn('source', [source], { displayName: 'Source' }),
      ]),
      frame({ name: 'endpoints', refId: query.refId, preferredVisualisationType: 'table' }, [
        stringColumn('endpoint', endpoints.map((e) => e.endpoint), { displayName: 'Endpoint' }),
        numberColumn('calls', endpoints.map((e) => e.calls), { unit: 'none', displayName: 'Calls (all time)', decimals: 0 }),
        numberColumn('totalMs', endpoints.map((e) => e.totalMs), ms('Total time (all time)', 0)),
        numberColumn('avgMs', endpoints.map((e) => (e.calls > 0 ? e.totalMs / e.calls : null)), ms('Average')),
        timeColumn('firstSeen', endpoints.map((e) => e.firstSeen), { displayName: 'First seen' }),
        timeColumn('lastSeen', endpoints.map((e) => e.lastSeen), { displayName: 'Last seen' }),
      ]),
    ],
  };
};
