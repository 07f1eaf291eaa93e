// Time ranges and steps of the query API, and which source answers them.
//
// Sources (DESIGN.md decision 5: long ranges never scan raw rows):
//   - series: rollups at 5 minutes, 1 hour or 1 day; the step is the smallest of the
//     steps those rows make (ROLLUP_STEPS: a whole number of rows that nests in the
//     next resolution) at least intervalMs long and giving at most maxDataPoints. Raw rows only when the whole range is at most
//     RAW_WINDOW_MS and the step is finer than 5 minutes, and then at most
//     RAW_ROW_LIMIT rows (src/db/rawRequests.ts).
//   - totals over the range (overview, tables): the range is cut into whole days, whole
//     hours at its edges and 5-minute buckets at the very edges (rangeSegments), so a
//     30-day total reads about 30 + 46 + 22 rollup rows per key and is exact to 5 minutes.
import { MAX_RANGE_DAYS } from '../contract/query';
import { ApiError } from '../http/errors';

export const MINUTE_MS = 60_000;
export const HOUR_MS = 60 * MINUTE_MS;
export const DAY_MS = 24 * HOUR_MS;
export const FIVE_MINUTES_MS = 5 * MINUTE_MS;

/** Rollup resolutions, as the rollup tables name them. */
export type Resolution = '5m' | '1h' | '1d';
export const RESOLUTION_MS: Record<Resolution, number> = { '5m': FIVE_MINUTES_MS, '1h': HOUR_MS, '1d': DAY_MS };

/** Longest range answered from raw rows. */
export const RAW_WINDOW_MS = HOUR_MS;
/** Most raw rows one query reads; beyond it the 5-minute rollups answer instead. */
export const RAW_ROW_LIMIT = 50_000;
/** Most points in one series, whatever maxDataPoints asks for. */
export const MAX_POINTS = 5_000;
const DEFAULT_POINTS = 1_000;
/** Newest `to` accepted: ingest accepts timestamps up to a day ahead (clock skew). */
const MAX_FUTURE_MS = DAY_MS;

export interface TimeRange {
  from: Date;
  to: Date;
}

export interface Step {
  stepMs: number;
  source: 'raw' | Resolution;
}

/** Earliest and latest instants a range may name: year 1 to year 9999. */
const EARLIEST_MS = Date.parse('0001-01-01T00:00:00Z');
const LATEST_MS = Date.parse('9999-12-31T23:59:59.999Z');

/** ISO 8601 text or epoch milliseconds; anything else is a 400 naming the field. */
export function parseTimestamp(value: string | number, field: string): Date {
  let ms: number;
  if (typeof value === 'number') ms = value;
  else if (/^-?\d+$/.test(value.trim())) ms = Number(value.trim());
  else ms = Date.parse(value);
  if (!Number.isFinite(ms)) {
    throw new ApiError(400, 'invalid_range', `${field} must be ISO 8601 text or epoch milliseconds, got ${JSON.stringify(String(value).slice(0, 64))}`, { field });
  }
  // A finite number can still be no date (beyond ±8.64e15 ms), or a date PostgreSQL's
  // timestamptz cannot hold (before 4713 BC): either would fail in the database as a 500.
  if (!(ms >= EARLIEST_MS && ms <= LATEST_MS)) {
    throw new ApiError(400, 'invalid_range', `${field} must lie between ${new Date(EARLIEST_MS).toISOString()} and ${new Date(LATEST_MS).toISOString()}, got ${JSON.stringify(String(value).slice(0, 64))}`, { field });
  }
  return new Date(ms);
}

/** A validated range: from < to, at most MAX_RANGE_DAYS long, not far in the future. */
export function resolveRange(range: { from: string | number; to: string | number }, now = Date.now()): TimeRange {
  const from = parseTimestamp(range.from, 'range.from');
  const to = parseTimestamp(range.to, 'range.to');
  if (from.getTime() >= to.getTime()) {
    throw new ApiError(400, 'invalid_range', 'range.from must be before range.to', { field: 'range' });
  }
  if (to.getTime() - from.getTime() > MAX_RANGE_DAYS * DAY_MS) {
    throw new ApiError(400, 'invalid_range', `the range may cover at most ${MAX_RANGE_DAYS} days`, { field: 'range' });
  }
  if (from.getTime() > now + MAX_FUTURE_MS) {
    throw new ApiError(400, 'invalid_range', 'range.from lies more than a day in the future', { field: 'range.from' });
  }
  return { from, to };
}

/**
 * The step of a series: the smallest stored step (ROLLUP_STEPS_MS) that is at least
 * intervalMs and wide enough for at most maxDataPoints (capped at MAX_POINTS) points; then
 * the source that answers it. A window of at most RAW_WINDOW_MS with a step under 5
 * minutes is answered from raw rows in whole seconds instead.
 */
export function chooseStep(range: TimeRange, intervalMs?: number, maxDataPoints?: number): Step {
  const rangeMs = range.to.getTime() - range.from.getTime();
  const points = Math.min(maxDataPoints ?? DEFAULT_POINTS, MAX_POINTS);
  const wanted = Math.max(intervalMs ?? 0, Math.ceil(rangeMs / points), 1000);
  if (rangeMs <= RAW_WINDOW_MS && wanted < FIVE_MINUTES_MS) {
    return { stepMs: Math.ceil(wanted / 1000) * 1000, source: 'raw' };
  }
  return rollupStep(wanted);
}

/**
 * Steps made of whole rows of one rollup resolution that also nest in the next coarser
 * one: 5, 10, 15, 20 and 30 minutes of 5-minute rows; 1, 2, 3, 4, 6, 8 and 12 hours of
 * hourly rows. Beyond 12 hours, whole days of daily rows (ROLLUP_DAYS). A step that does
 * not nest (45 minutes, 5 hours) would merge rows of a finer resolution than a coarser
 * step a few points away, and its points would not line up with hours or days.
 */
export const ROLLUP_STEPS: ReadonlyArray<{ stepMs: number; source: Resolution }> = [
  ...[1, 2, 3, 4, 6].map((n) => ({ stepMs: n * FIVE_MINUTES_MS, source: '5m' as const })),
  ...[1, 2, 3, 4, 6, 8, 12].map((n) => ({ stepMs: n * HOUR_MS, source: '1h' as const })),
];

/**
 * The smallest step of ROLLUP_STEPS at least wantedMs long, else whole days, and the
 * resolution whose rows it sums.
 */
export function rollupStep(wantedMs: number): Step & { source: Resolution } {
  const step = ROLLUP_STEPS.find((s) => s.stepMs >= wantedMs);
  if (step) return { ...step };
  return { stepMs: Math.max(1, Math.ceil(wantedMs / DAY_MS)) * DAY_MS, source: '1d' };
}

function floorTo(ms: number, unit: number): number {
  return Math.floor(ms / unit) * unit;
}

export function ceilTo(ms: number, unit: number): number {
  return Math.ceil(ms / unit) * unit;
}

export interface Segment {
  resolution: Resolution;
  from: Date;
  to: Date;
}

/**
 * The range cut into rollup buckets: 5-minute buckets up to the first whole hour, hours
 * up to the first whole day, days, then hours and 5-minute buckets again. Every
 * 5-minute bucket that overlaps the range is included once (buckets are UTC-aligned,
 * as the refresh builds them). Always five pieces, in this order; absent ones are empty
 * (from = to), so the SQL that reads them has a fixed shape (src/db/rollupSegments.ts).
 */
export function rangeSegments(range: TimeRange): Segment[] {
  const start = floorTo(range.from.getTime(), FIVE_MINUTES_MS);
  const end = ceilTo(range.to.getTime(), FIVE_MINUTES_MS);
  const hourStart = Math.min(ceilTo(start, HOUR_MS), end);
  const hourEnd = Math.max(floorTo(end, HOUR_MS), hourStart);
  const dayStart = Math.min(ceilTo(hourStart, DAY_MS), hourEnd);
  const dayEnd = Math.max(floorTo(hourEnd, DAY_MS), dayStart);
  const pieces: Array<[Resolution, number, number]> = [
    ['5m', start, hourStart],
    ['1h', hourStart, dayStart],
    ['1d', dayStart, dayEnd],
    ['1h', dayEnd, hourEnd],
    ['5m', hourEnd, end],
  ];
  return pieces.map(([resolution, from, to]) => ({ resolution, from: new Date(from), to: new Date(Math.max(from, to)) }));
}

/** Seconds of the range that have passed, for rates (a range reaching into the future has no traffic there). */
export function elapsedSeconds(range: TimeRange, now = Date.now()): number {
  return Math.max(0, Math.min(range.to.getTime(), now) - range.from.getTime()) / 1000;
}
