// Which stored rows answer a request: pure functions of the range, the request's
// intervalMs and maxDataPoints, and the clock. No database here; test/rollups.plan.test.ts
// checks them alone. The names are those of docs/design/rollups.md's glossary.
//
// What is stored (migrations/V0.0.41__baseline.sql):
//   - rollup rows at 5 minutes, 1 hour and 1 day, per key (endpoint, fingerprint) and for
//     the tenant's total (endpoint ''), and weekly rows per fingerprint, weeks from
//     Monday 00:00 UTC;
//   - 5-minute rows per key only from fineRollupStart(now) on (the current and the
//     previous UTC day); the tenant's total keeps them as long as the others;
//   - 30-minute rows of the tenant's request total, which its series read at 30-minute
//     steps (resolutionOf);
//   - the raw logs, which answer the edges of a range and short windows.
import { DAY_MS, FIVE_MINUTES_MS, HOUR_MS, RESOLUTION_MS, type Resolution, type TimeRange, WEEK_MS } from './time';

/** Time origin of every step and bucket, as the rollups' date_bin uses it. */
export const STEP_ORIGIN = '2000-01-01 00:00:00+00';
export const STEP_ORIGIN_MS = Date.parse('2000-01-01T00:00:00Z');
/** A Monday, 00:00 UTC: weekly rows begin where date_trunc('week') puts them. */
const WEEK_ORIGIN_MS = Date.parse('2000-01-03T00:00:00Z');

/** Longest window a series reads from raw rows, and only with a step under 5 minutes. */
export const RAW_WINDOW_MS = HOUR_MS;
/** Most raw rows one series reads; beyond it the 5-minute rollups answer instead. */
export const RAW_ROW_LIMIT = 50_000;
/** Most points in one series, whatever maxDataPoints asks for. */
export const MAX_POINTS = 5_000;
const DEFAULT_POINTS = 1_000;

/** Whose rows a series reads: the tenant's total, or one key (endpoint, fingerprint). */
export type SeriesKey = 'total' | 'key';

export interface Step {
  stepMs: number;
  source: 'raw' | Resolution;
}

/**
 * First bucket of the 5-minute rows kept per key: the start of the previous UTC day.
 * The same rule as fine_rollup_start() in the baseline migration.
 */
export function fineRollupStart(nowMs: number): number {
  return Math.floor(nowMs / DAY_MS) * DAY_MS - DAY_MS;
}

/**
 * Steps made of whole rows of one resolution that also nest in the next coarser one: 5,
 * 10, 15, 20 and 30 minutes of 5-minute rows; 1, 2, 3, 4, 6, 8 and 12 hours of hourly
 * rows; then whole days of daily rows. A step that does not nest (45 minutes, 5 hours)
 * would not line up with hours or days.
 */
export const ROLLUP_STEPS: ReadonlyArray<{ stepMs: number; source: Resolution }> = [
  ...[1, 2, 3, 4, 6].map((n) => ({ stepMs: n * FIVE_MINUTES_MS, source: '5m' as const })),
  ...[1, 2, 3, 4, 6, 8, 12].map((n) => ({ stepMs: n * HOUR_MS, source: '1h' as const })),
];

/**
 * The smallest rollup step at least wantedMs long, else whole days; `coarsest5m` false
 * skips the 5-minute steps (rows not stored over the range).
 */
export function rollupStep(wantedMs: number, with5m = true): Step & { source: Resolution } {
  const step = ROLLUP_STEPS.find((s) => s.stepMs >= wantedMs && (with5m || s.source !== '5m'));
  if (step) return { ...step };
  return { stepMs: Math.max(1, Math.ceil(wantedMs / DAY_MS)) * DAY_MS, source: '1d' };
}

/**
 * The resolution a request series reads for a rollup step: the stored step itself, or
 * for 30-minute steps of the tenant's total, its 30-minute rows rather than six 5-minute
 * rows per step.
 */
export function resolutionOf(step: Step & { source: Resolution }, key: SeriesKey): Resolution {
  return key === 'total' && step.source === '5m' && step.stepMs === RESOLUTION_MS['30m'] ? '30m' : step.source;
}

/** Whether 5-minute rows of `key` cover the whole range at `nowMs`. */
export function fineRowsCover(range: TimeRange, key: SeriesKey, nowMs: number): boolean {
  return key === 'total' || range.from.getTime() >= fineRollupStart(nowMs);
}

/**
 * The step of a series: the smallest stored step at least intervalMs long that gives at
 * most maxDataPoints points (capped at MAX_POINTS), among the resolutions stored over the
 * whole range for that key (DESIGN.md decision 11). A window of at most RAW_WINDOW_MS with
 * a step under 5 minutes reads raw rows, in whole seconds.
 */
export function chooseStep(
  range: TimeRange,
  { intervalMs, maxDataPoints, key, nowMs, raw = true }: { intervalMs?: number; maxDataPoints?: number; key: SeriesKey; nowMs: number; raw?: boolean },
): Step {
  const rangeMs = range.to.getTime() - range.from.getTime();
  const points = Math.min(maxDataPoints ?? DEFAULT_POINTS, MAX_POINTS);
  const wanted = Math.max(intervalMs ?? 0, Math.ceil(rangeMs / points), 1000);
  if (raw && rangeMs <= RAW_WINDOW_MS && wanted < FIVE_MINUTES_MS) {
    return { stepMs: Math.ceil(wanted / 1000) * 1000, source: 'raw' };
  }
  return rollupStep(wanted, fineRowsCover(range, key, nowMs));
}

/** Start of the step that contains `ms`, on the grid all series share (STEP_ORIGIN). */
export function stepStart(ms: number, stepMs: number): Date {
  return new Date(STEP_ORIGIN_MS + Math.floor((ms - STEP_ORIGIN_MS) / stepMs) * stepMs);
}

/** Every step start from `start` up to (not including) `to`: series show empty steps too. */
export function stepTimes(start: Date, to: Date, stepMs: number): number[] {
  const times: number[] = [];
  for (let t = start.getTime(); t < to.getTime(); t += stepMs) times.push(t);
  return times;
}

/** Position of a step's time (ms) among stepTimes(start, ..., stepMs). */
export function stepIndex(timeMs: number, start: Date, stepMs: number): number {
  return Math.round((timeMs - start.getTime()) / stepMs);
}

/** Half-open interval [from, to) in ms; empty when from = to. */
export interface Span {
  from: number;
  to: number;
}

/**
 * A range cut into what answers its totals exactly: raw rows up to the first whole 5
 * minutes, 5-minute rows up to the first whole hour, hourly rows up to the first whole
 * day, daily rows, then hourly rows, 5-minute rows and raw rows to the end. 5-minute
 * pieces are used only from `fineFromMs` on (where the rows read have them: always for
 * the tenant's total, within the fine window for keys); before it a partial hour is raw
 * rows. With `weeks` (rows that have a weekly level: fingerprints), the whole weeks among
 * the days are weekly rows, the days before and after them daily rows. Always these nine
 * spans in this order; absent ones are empty, so the SQL that reads them has one shape.
 * A 30-day range reads about 30 daily (or 4 weekly and up to 12 daily) and 46 hourly
 * rows per key, up to 22 five-minute rows, and at most two partial 5 minutes of raw rows
 * (a partial hour where 5-minute rows are not kept).
 */
export interface RangePieces {
  rawHead: Span;
  fiveHead: Span;
  hoursHead: Span;
  /** The whole days, or with weeks those before the first whole week. */
  days: Span;
  weeks: Span;
  daysTail: Span;
  hoursTail: Span;
  fiveTail: Span;
  rawTail: Span;
}

function floorTo(ms: number, unit: number, origin = 0): number {
  return origin + Math.floor((ms - origin) / unit) * unit;
}

function ceilTo(ms: number, unit: number, origin = 0): number {
  return origin + Math.ceil((ms - origin) / unit) * unit;
}

export function rangePieces(range: TimeRange, fineFromMs = Number.NEGATIVE_INFINITY, { weeks = false }: { weeks?: boolean } = {}): RangePieces {
  const start = range.from.getTime();
  const end = range.to.getTime();
  if (ceilTo(start, HOUR_MS) >= end) {
    // Within one hour: raw rows, whole 5 minutes, raw rows.
    const fiveFrom = ceilTo(start, FIVE_MINUTES_MS);
    const fiveTo = floorTo(end, FIVE_MINUTES_MS);
    const five = start >= fineFromMs && fiveFrom < fiveTo;
    const none = (at: number): Span => ({ from: at, to: at });
    const to = five ? fiveTo : end;
    return {
      rawHead: { from: start, to: five ? fiveFrom : end },
      fiveHead: five ? { from: fiveFrom, to: fiveTo } : none(to),
      hoursHead: none(to),
      days: none(to),
      weeks: none(to),
      daysTail: none(to),
      hoursTail: none(to),
      fiveTail: none(to),
      rawTail: { from: to, to: end },
    };
  }
  const hourStart = Math.min(ceilTo(start, HOUR_MS), end);
  const hourEnd = Math.max(floorTo(end, HOUR_MS), hourStart);
  const dayStart = Math.min(ceilTo(hourStart, DAY_MS), hourEnd);
  const dayEnd = Math.max(floorTo(hourEnd, DAY_MS), dayStart);
  const weekStart = weeks ? Math.min(ceilTo(dayStart, WEEK_MS, WEEK_ORIGIN_MS), dayEnd) : dayEnd;
  const weekEnd = weeks ? Math.max(floorTo(dayEnd, WEEK_MS, WEEK_ORIGIN_MS), weekStart) : dayEnd;
  // The head's partial hour [start, hourStart): raw up to whole 5 minutes, then 5-minute rows.
  const fiveHeadFrom = start >= fineFromMs ? Math.min(ceilTo(start, FIVE_MINUTES_MS), hourStart) : hourStart;
  // The tail's partial hour [hourEnd, end): 5-minute rows, then raw.
  const fiveTailTo = hourEnd >= fineFromMs ? Math.max(floorTo(end, FIVE_MINUTES_MS), hourEnd) : hourEnd;
  return {
    rawHead: { from: start, to: fiveHeadFrom },
    fiveHead: { from: fiveHeadFrom, to: hourStart },
    hoursHead: { from: hourStart, to: dayStart },
    days: { from: dayStart, to: weekStart },
    weeks: { from: weekStart, to: weekEnd },
    daysTail: { from: weekEnd, to: dayEnd },
    hoursTail: { from: dayEnd, to: hourEnd },
    fiveTail: { from: hourEnd, to: fiveTailTo },
    rawTail: { from: fiveTailTo, to: end },
  };
}
