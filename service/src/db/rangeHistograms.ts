// Each key's latency histogram merged over a range (the p95 of a fingerprint or an
// endpoint over 30 days), read with as few histograms as the stored data allows.
//
// The range's pieces (src/query/timeRange.ts rangeSegments: 5m, 1h, 1d, 1h, 5m): the
// whole days [a, b) come from the running totals of V0.0.48 where they are built (days
// before the tenant's built_until, m = built_until clamped to [a, b]): the total through
// the last day before m minus the total through the last day before a, two histograms
// per key instead of one per day. A key's running totals are used only when their counts
// differ by exactly the count of its daily rows in [a, m) (an index-only sum); otherwise
// its daily rows are read, so the answer never depends on whether the totals are up to
// date. The days from m to b, the hours and the 5-minute buckets are rollup rows as
// before.
//
// Histograms travel one row per histogram as array_send's bytes (bytea, which PostgreSQL
// writes as hex and node-postgres decodes into a Buffer natively), read by
// Histogram.addSend. Hex costs less on
// both sides than base64 (PostgreSQL's base64 also breaks lines), and per-row bytes need
// no concatenation in SQL.
import { forEachSendElement, Histogram, MAX_BUCKET } from '../query/histogram';
import type { Segment } from '../query/timeRange';
import { boundPartsSql, keyBounds, p95Candidates, type CoarseCounts } from './p95Bounds';
import { segmentValues } from './rollupSegments';
import type { Queryable } from './tenantSession';

/** A rollup with running totals: its tables and columns (V0.0.41, V0.0.48). */
export interface CumulativeRollup {
  /** rollup_cumulative_state.rollup */
  name: 'query' | 'api';
  table: string;
  cumulative: string;
  key: string;
  keyType: 'bigint' | 'text';
  count: string;
}

export const QUERY_ROLLUP: CumulativeRollup = {
  name: 'query', table: 'query_metrics_rollup', cumulative: 'query_metrics_cumulative', key: 'query_hash', keyType: 'bigint', count: 'calls',
};

export const API_ROLLUP: CumulativeRollup = {
  name: 'api', table: 'api_metrics_rollup', cumulative: 'api_metrics_cumulative', key: 'endpoint', keyType: 'text', count: 'requests',
};

/**
 * SQL of a CTE body: the keys of `source` (a CTE with columns key and n, n being the key's
 * count in the daily rows before m, dayCountSql) whose running totals hold, with their
 * totals through the last day before m (end_hist) and before the range's first whole day
 * (start_hist), in `column` (hist, or coarse: the same counts in buckets 2^COARSE_SHIFT
 * wide). Needs `lim` (cumulativeLimitSql) and the parameters of rangeHistogramSql.
 */
export function heldTotalsSql(rollup: CumulativeRollup, source: string, column: 'hist' | 'coarse'): string {
  return `SELECT k.key, e.hist AS end_hist, s.hist AS start_hist
              FROM ${source} k CROSS JOIN lim
              LEFT JOIN LATERAL (${latestTotalSql(rollup, column, 'k.key', 'lim.m')}) e ON true
              LEFT JOIN LATERAL (${latestTotalSql(rollup, column, 'k.key', '$6::timestamptz')}) s ON true
             WHERE ${totalsHoldSql('k.n')}`;
}

/** SQL (for a LATERAL join) of a key's newest running total before a day: its count n and `column` as hist. */
function latestTotalSql(rollup: CumulativeRollup, column: 'hist' | 'coarse', keyRef: string, before: string): string {
  const { cumulative, key, count } = rollup;
  return `SELECT c.${count} AS n, c.${column} AS hist FROM ${cumulative} c
      WHERE c.tenant_id = $1::uuid AND c.${key} = ${keyRef} AND c.day < ${before}
      ORDER BY c.day DESC LIMIT 1`;
}

/**
 * SQL of whether a key's running totals e (through the last day before m) and s (before
 * the first day) stand for its daily rows before m, whose count is `dayCount`.
 */
function totalsHoldSql(dayCount: string): string {
  return `lim.m > $6::timestamptz AND ${dayCount} > 0 AND coalesce(e.n, 0) - coalesce(s.n, 0) = ${dayCount}`;
}

/**
 * SQL of the rows (key text, sign int4, hist: array_send bytes) whose signed sum is each
 * key's histogram over the range. Parameters: $1 tenant, $2..$11 segmentValues, $12 the
 * keys, $13 their counts in the daily rows before m (dayCountSql).
 */
export function rangeHistogramSql(rollup: CumulativeRollup): string {
  const { table, key, keyType } = rollup;
  const keys = `$12::${keyType}[]`;
  const piece = (resolution: string, from: string, to: string, extra = '') =>
    `SELECT r.${key}::text, 1, array_send(r.hist) FROM ${table} r
      WHERE r.tenant_id = $1::uuid AND r.resolution = '${resolution}' AND r.bucket >= ${from} AND r.bucket < ${to}
        AND r.${key} = ANY (${extra || keys}) AND r.hist IS NOT NULL`;
  return `WITH k AS (SELECT u.key, max(u.n) AS n FROM unnest(${keys}, $13::float8[]) AS u(key, n) GROUP BY u.key),
     lim AS (${cumulativeLimitSql(rollup)}),
     ok AS (${heldTotalsSql(rollup, 'k', 'hist')}),
     redo AS (SELECT coalesce(array_agg(k.key), '{}') AS keys FROM k WHERE k.key NOT IN (SELECT ok.key FROM ok))
SELECT ok.key::text, 1, array_send(ok.end_hist) FROM ok WHERE ok.end_hist IS NOT NULL
UNION ALL SELECT ok.key::text, -1, array_send(ok.start_hist) FROM ok WHERE ok.start_hist IS NOT NULL
UNION ALL ${piece('1d', '$6::timestamptz', '(SELECT lim.m FROM lim)', `(SELECT redo.keys FROM redo)::${keyType}[]`)}
UNION ALL ${piece('1d', '(SELECT lim.m FROM lim)', '$7::timestamptz')}
UNION ALL ${piece('5m', '$2::timestamptz', '$3::timestamptz')}
UNION ALL ${piece('1h', '$4::timestamptz', '$5::timestamptz')}
UNION ALL ${piece('1h', '$8::timestamptz', '$9::timestamptz')}
UNION ALL ${piece('5m', '$10::timestamptz', '$11::timestamptz')}`;
}

/**
 * SQL of a key's count in the daily rows its running totals can stand for (the whole days
 * before m), as an aggregate over rollup rows aliased `alias` in a query that has m as
 * `lim.m` (FROM ... CROSS JOIN lim, lim being cumulativeLimitSql). rangeHistograms
 * checks the running totals against it.
 */
export function dayCountSql(rollup: CumulativeRollup, alias = 'r'): string {
  return `coalesce(sum(${alias}.${rollup.count}) FILTER (WHERE ${alias}.resolution = '1d' AND ${alias}.bucket < lim.m), 0)::float8`;
}

/**
 * SQL (a one-row SELECT of m) of where the running totals of a range's whole days end:
 * the tenant's built_until clamped to the days [$6, $7). Parameters as rangeHistogramSql.
 * Days before m are covered by running totals, days from m on are read as daily rows.
 */
export function cumulativeLimitSql(rollup: CumulativeRollup): string {
  return `SELECT greatest($6::timestamptz, least($7::timestamptz,
                 coalesce((SELECT s.built_until FROM rollup_cumulative_state s
                            WHERE s.tenant_id = $1::uuid AND s.rollup = '${rollup.name}'), $6::timestamptz))) AS m`;
}

/** A key to read, with its count in the daily rows before m (dayCountSql). */
export interface KeyDayCount {
  key: string;
  dayCount: number;
}

/**
 * Each key's histogram over the range (src/query/timeRange.ts rangeSegments), for the
 * given keys (fingerprints as decimal strings, or endpoints). Keys without data have an
 * empty histogram.
 */
export async function rangeHistograms(
  db: Queryable,
  rollup: CumulativeRollup,
  tenantId: string,
  segments: Segment[],
  keys: KeyDayCount[],
): Promise<Map<string, Histogram>> {
  const histograms = new Map<string, Histogram>(keys.map((k) => [k.key, new Histogram()]));
  if (keys.length === 0) return histograms;
  const result = await db.query<[string, number, Buffer]>({
    text: rangeHistogramSql(rollup),
    values: [tenantId, ...segmentValues(segments), keys.map((k) => k.key), keys.map((k) => k.dayCount)],
    rowMode: 'array',
  });
  for (const [key, sign, hist] of result.rows) {
    let histogram = histograms.get(key);
    if (!histogram) histograms.set(key, (histogram = new Histogram()));
    histogram.addSend(hist, sign < 0 ? -1 : 1);
  }
  return histograms;
}

/** hist_coarsen's shift for the coarse running totals (V0.0.48): buckets 4 times wider. */
export const COARSE_SHIFT = 2;

/**
 * A key's stored p95 bounds over a range ((n, lo, hi) triples, src/db/p95Bounds.ts) and its
 * coarse running totals where they hold (rankingSql).
 */
export interface KeyBoundParts extends KeyDayCount {
  /** Rows outside the whole days before m (cumulativeLimitSql). */
  parts: string | null;
  /** Coarse running totals through the last day before m and before the first day (array_send bytes), when they hold. */
  endCoarse: Buffer | null;
  startCoarse: Buffer | null;
  held: boolean;
}

/**
 * SQL of a ranking's first read, given `totals` (a CTE body over the range's rollup rows
 * joined with lim, grouped by key, whose columns include key (named as the rollup's key
 * column), parts (boundPartsSql over the rows outside the days before m) and day_count
 * (dayCountSql)): totals' columns, and the key's coarse running totals where they hold
 * (held, end_coarse, start_coarse as array_send bytes; the same test as heldTotalsSql).
 * One statement, so the running totals are looked up inside PostgreSQL, key by key, on
 * each totals row (no join of two derived tables, which the planner cannot size).
 */
export function rankingSql(rollup: CumulativeRollup, totals: string): string {
  const key = `t.${rollup.key}`;
  const wanted = `lim.m > $6::timestamptz AND t.day_count > 0`;
  return `WITH lim AS (${cumulativeLimitSql(rollup)}),
     totals AS (${totals})
SELECT t.*, h.held,
       CASE WHEN h.held THEN array_send(e.hist) END AS end_coarse,
       CASE WHEN h.held THEN array_send(s.hist) END AS start_coarse
  FROM totals t CROSS JOIN lim
  LEFT JOIN LATERAL (${latestTotalSql(rollup, 'coarse', key, 'lim.m')}) e ON ${wanted}
  LEFT JOIN LATERAL (${latestTotalSql(rollup, 'coarse', key, '$6::timestamptz')}) s ON ${wanted}
  CROSS JOIN LATERAL (SELECT ${totalsHoldSql('t.day_count')} AS held) h`;
}

/**
 * The keys that can be among the top `limit` by p95 over the range. The whole days
 * before m count by the coarse running totals (two short histograms per key), each
 * coarse bucket as values known to lie within its 2^COARSE_SHIFT buckets; the other rows
 * by their stored bounds. A key whose running totals do not hold counts its daily rows
 * by their bounds too (read then).
 */
export async function p95CandidateKeys(
  db: Queryable,
  rollup: CumulativeRollup,
  tenantId: string,
  segments: Segment[],
  keys: KeyBoundParts[],
  limit: number,
): Promise<string[]> {
  if (keys.length <= limit) return keys.map((k) => k.key);
  // Keys whose running totals do not hold count their daily rows by their bounds.
  const unheld = keys.filter((k) => k.dayCount > 0 && !k.held).map((k) => k.key);
  const dayParts = unheld.length > 0 ? await dayBoundParts(db, rollup, tenantId, segments, unheld) : new Map<string, string>();
  const coarse: CoarseCounts = { counts: new Float64Array(MAX_BUCKET + 1), low: MAX_BUCKET + 1, high: -1, width: 2 ** COARSE_SHIFT };
  const add = (hist: Buffer | null, sign: 1 | -1): void => {
    if (hist === null) return;
    forEachSendElement(hist, (c, n) => {
      if (c > MAX_BUCKET) c = MAX_BUCKET;
      coarse.counts[c]! += sign * n;
      if (c < coarse.low) coarse.low = c;
      if (c > coarse.high) coarse.high = c;
    });
  };
  const bounds = keys.map(({ key, parts, held, endCoarse, startCoarse }) => {
    const extra = dayParts.get(key);
    const all = extra ? (parts ? `${parts} ${extra}` : extra) : parts;
    if (!held) return keyBounds(key, all, null);
    coarse.low = MAX_BUCKET + 1;
    coarse.high = -1;
    add(endCoarse, 1);
    add(startCoarse, -1);
    const b = keyBounds(key, all, coarse);
    if (coarse.high >= coarse.low) coarse.counts.fill(0, coarse.low, coarse.high + 1);
    return b;
  });
  return p95Candidates(bounds, limit);
}

/** The (n, lo, hi) triples (src/db/p95Bounds.ts) of some keys' daily rows before m. */
async function dayBoundParts(db: Queryable, rollup: CumulativeRollup, tenantId: string, segments: Segment[], keys: string[]): Promise<Map<string, string>> {
  const { table, key, keyType, count } = rollup;
  const result = await db.query<{ key: string; parts: string | null }>(
    `WITH lim AS (${cumulativeLimitSql(rollup)}),
     unread AS (SELECT $2::timestamptz, $3::timestamptz, $4::timestamptz, $5::timestamptz,
                       $7::timestamptz, $8::timestamptz, $9::timestamptz, $10::timestamptz, $11::timestamptz)
     SELECT r.${key}::text AS key, ${boundPartsSql('r', count)} AS parts
       FROM ${table} r CROSS JOIN lim
      WHERE r.tenant_id = $1::uuid AND r.resolution = '1d' AND r.bucket >= $6::timestamptz AND r.bucket < lim.m
        AND r.${key} = ANY ($12::${keyType}[]) AND r.${count} > 0
      GROUP BY r.${key}`,
    [tenantId, ...segmentValues(segments), keys],
  );
  return new Map(result.rows.filter((r) => r.parts !== null).map((r) => [r.key, r.parts!]));
}
