// Time ranges of the query API: parsing and validating them, and the units every
// module shares. What answers a range is planned in src/rollups/plan.ts.
import { MAX_RANGE_DAYS } from '../contract/query';
import { ApiError } from '../http/errors';

export const MINUTE_MS = 60_000;
export const HOUR_MS = 60 * MINUTE_MS;
export const DAY_MS = 24 * HOUR_MS;
export const WEEK_MS = 7 * DAY_MS;
export const FIVE_MINUTES_MS = 5 * MINUTE_MS;

/** Rollup resolutions, as the rollup tables name them ('30m': the tenant's request total only). */
export type Resolution = '5m' | '30m' | '1h' | '1d';
export const RESOLUTION_MS: Record<Resolution, number> = { '5m': FIVE_MINUTES_MS, '30m': 30 * MINUTE_MS, '1h': HOUR_MS, '1d': DAY_MS };

/** Newest `to` accepted: ingest accepts timestamps up to a day ahead (clock skew). */
const MAX_FUTURE_MS = DAY_MS;

export interface TimeRange {
  from: Date;
  to: Date;
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

/** Seconds of the range that have passed, for rates (a range reaching into the future has no traffic there). */
export function elapsedSeconds(range: TimeRange, now = Date.now()): number {
  return Math.max(0, Math.min(range.to.getTime(), now) - range.from.getTime()) / 1000;
}
