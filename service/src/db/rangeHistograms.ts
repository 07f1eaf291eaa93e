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
// date. The days from m to b are daily rows.
//
// The range's edges (the hours before its first whole day and after its last, and the
// 5-minute buckets around them, edgePieces) are rollup rows, each edge read either
// directly or, when that is fewer rows, as its enclosing coarser row minus the finer rows
// of that row outside the range: the last 17 hours of a day as the day's row minus its
// first 7 hours, a range ending at 16:40 today as today's row minus the hours since 17:00.
// This is exact because the refresh writes every resolution from the same deltas in one
// statement (a day's histogram is the sum of its hours', an hour's of its 5-minute
// buckets'), and it is used only where the finer rows outside the range are surely still
// kept (expiry deletes 5-minute rows at least 8 days old, hours with their days at 400).
// Rankings read every key's sums and p95 bounds from the same pieces (rankingRowsSql).
//
// Histograms read an edge of three buckets or more (prefixEdges) from the running totals
// within its day or hour (V0.0.53) where they hold: the key's total through the last
// bucket before the edge's end less its total through the last bucket before its start,
// two rows however busy the key is, used while the period's enclosing row (read in the
// same statement) counts what it did when they were built; the edge's pieces above
// otherwise.
//
// Histograms travel one row per histogram as array_send's bytes (bytea, which PostgreSQL
// writes as hex and node-postgres decodes into a Buffer natively), read by
// Histogram.addSend. Hex costs less on
// both sides than base64 (PostgreSQL's base64 also breaks lines), and per-row bytes need
// no concatenation in SQL.
import { forEachSendElement, Histogram, MAX_BUCKET } from '../query/histogram';
import { ceilTo, DAY_MS, RESOLUTION_MS, type Resolution, type Segment } from '../query/timeRange';
import { boundPartsSql, keyBounds, p95Candidates, type CoarseCounts } from './p95Bounds';
import { segmentCondition, segmentValues } from './rollupSegments';
import { versionId, type RunningTotalsCache } from './runningTotalsCache';
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
  /** Running totals within a day and within an hour (V0.0.53). */
  prefix: string;
}

export const QUERY_ROLLUP: CumulativeRollup = {
  name: 'query', table: 'query_metrics_rollup', cumulative: 'query_metrics_cumulative', key: 'query_hash', keyType: 'bigint', count: 'calls',
  prefix: 'query_metrics_prefix',
};

export const API_ROLLUP: CumulativeRollup = {
  name: 'api', table: 'api_metrics_rollup', cumulative: 'api_metrics_cumulative', key: 'endpoint', keyType: 'text', count: 'requests',
  prefix: 'api_metrics_prefix',
};

/**
 * SQL of a CTE body: the keys of `source` (a CTE with columns key and n, n being the key's
 * count in the daily rows before m, dayCountSql) whose running totals hold, with the
 * versions (day and xmin, RunningTotalsCache) of their totals through the last day before
 * m (end_day, end_version) and before the range's first whole day (start_day,
 * start_version; null when there is none). Needs `lim` (cumulativeLimitSql) and the
 * parameters of rangeHistogramSql.
 */
function heldTotalsSql(rollup: CumulativeRollup, source: string): string {
  return `SELECT k.key, e.day AS end_day, e.version AS end_version, s.day AS start_day, s.version AS start_version
              FROM ${source} k CROSS JOIN lim
              LEFT JOIN LATERAL (${latestTotalSql(rollup, 'k.key', 'lim.m')}) e ON true
              LEFT JOIN LATERAL (${latestTotalSql(rollup, 'k.key', '$6::timestamptz')}) s ON true
             WHERE ${totalsHoldSql('k.n')}`;
}

/**
 * SQL (for a LATERAL join) of a key's newest running total before a day: its count n, its
 * day and its version (xmin as text); the histograms themselves are read by
 * runningTotals, unless held.
 */
function latestTotalSql(rollup: CumulativeRollup, keyRef: string, before: string): string {
  const { cumulative, key, count } = rollup;
  return `SELECT c.${count} AS n, c.day, c.xmin::text AS version FROM ${cumulative} c
      WHERE c.tenant_id = $1::uuid AND c.${key} = ${keyRef} AND c.day < ${before}
      ORDER BY c.day DESC LIMIT 1`;
}

/** One running-total row version of a key (heldTotalsSql, rankingSql). */
export interface TotalVersion {
  day: Date;
  version: string;
}

/** array_send's form of no histogram at all: no elements. */
const NO_VALUES = Buffer.alloc(0);

/**
 * Where running-total rows live: the daily ones (V0.0.48, by `day`) or those within a
 * day or an hour (V0.0.53, by resolution and `bucket`).
 */
type TotalsSource = 'day' | PrefixResolution;

/** The resolutions with running totals within their enclosing period (V0.0.53). */
type PrefixResolution = '1h' | '5m';

/** The name of a source's running totals in the cache (versionId). */
function totalsName(rollup: CumulativeRollup, source: TotalsSource): string {
  return source === 'day' ? rollup.name : `${rollup.name}/${source}`;
}

/**
 * The bytes (array_send of `column`) of running-total row versions of some keys: those
 * held in the cache, and the others read in one statement (then held). Keyed by
 * versionId.
 */
async function runningTotals(
  db: Queryable,
  rollup: CumulativeRollup,
  column: 'hist' | 'coarse',
  tenantId: string,
  wanted: Array<{ key: string; total: TotalVersion }>,
  cache: RunningTotalsCache,
  source: TotalsSource = 'day',
): Promise<Map<string, Buffer>> {
  const name = totalsName(rollup, source);
  const found = new Map<string, Buffer>();
  const missing: Array<{ key: string; total: TotalVersion }> = [];
  for (const w of wanted) {
    const id = versionId(name, column, tenantId, w.key, w.total.day, w.total.version);
    if (found.has(id)) continue;
    const held = cache.get(id);
    if (held) found.set(id, held);
    else missing.push(w);
  }
  if (missing.length === 0) return found;
  const { key, keyType } = rollup;
  // A daily running total's version is its row's xmin; one within a day or an hour is
  // named by the count of its period's enclosing row when it was built (V0.0.53).
  const [table, time, version, only] = source === 'day'
    ? [rollup.cumulative, 'day', 'xmin', '']
    : [rollup.prefix, 'bucket', 'period_n', ` AND c.resolution = '${source}'`];
  const result = await db.query<[string, Date, string, Buffer | null]>({
    text: `SELECT c.${key}::text, c.${time}, c.${version}::text, array_send(c.${column})
             FROM unnest($2::${keyType}[], $3::timestamptz[]) AS u(key, day)
             JOIN ${table} c ON c.tenant_id = $1::uuid AND c.${key} = u.key AND c.${time} = u.day${only}`,
    values: [tenantId, missing.map((m) => m.key), missing.map((m) => m.total.day)],
    rowMode: 'array',
  });
  for (const [k, day, version, stored] of result.rows) {
    // The same snapshot as the statement that named these versions: the same versions.
    const id = versionId(name, column, tenantId, k, day, version);
    // A running total of values without a histogram (a row of count 0, whose histogram
    // is NULL) has none: an empty histogram.
    const bytes = stored ?? NO_VALUES;
    cache.set(id, bytes);
    found.set(id, bytes);
  }
  return found;
}

/**
 * SQL of whether a key's running totals e (through the last day before m) and s (before
 * the first day) stand for its daily rows before m, whose count is `dayCount`.
 */
function totalsHoldSql(dayCount: string): string {
  return `lim.m > $6::timestamptz AND ${dayCount} > 0 AND coalesce(e.n, 0) - coalesce(s.n, 0) = ${dayCount}`;
}

/**
 * SQL of the rows (key text, sign int4, hist: array_send bytes, day, version, source)
 * whose signed sum is each key's histogram over the range: rollup rows with their bytes
 * (source null), and running totals by their version (day and version set, hist null;
 * read by runningTotals): daily ones (source 'day') and those within a day or an hour
 * (source '1h' or '5m', day being their bucket). Parameters (rangeHistogramValues): $1
 * tenant, $2..$5 the edge pieces (resolutions, starts, ends, signs: edgePieces), $6 and
 * $7 the range's whole days, $8 the keys, $9 their counts in the daily rows before m
 * (dayCountSql), $10 each piece's edge (0: read for every key), $11..$14 the edges read
 * as running totals where they hold (resolutions, starts, ends, starts of their day or
 * hour; edge i is the i-th, 1-based).
 *
 * An edge [f, t) of a key is its running total through the last bucket before t less the
 * one through the last bucket before f, both of the period (day, hour) holding the edge,
 * when the period's enclosing row (read here, in the same snapshot) still counts what it
 * counted when they were built (period_n, V0.0.53); otherwise its pieces are read for
 * that key.
 */
export function rangeHistogramSql(rollup: CumulativeRollup): string {
  const { table, key, keyType, prefix, count } = rollup;
  const keys = `$8::${keyType}[]`;
  const days = (from: string, to: string, which: string) =>
    `SELECT r.${key}::text, 1, array_send(r.hist), NULL::timestamptz, NULL::text, NULL::text FROM ${table} r
      WHERE r.tenant_id = $1::uuid AND r.resolution = '1d' AND r.bucket >= ${from} AND r.bucket < ${to}
        AND r.${key} = ANY (${which}) AND r.hist IS NOT NULL`;
  const latest = (before: string) => `SELECT p.${count} AS n, p.period_n, p.bucket, p.period_n::text AS version FROM ${prefix} p
                        WHERE p.tenant_id = $1::uuid AND p.resolution = e.resolution AND p.${key} = k.key
                          AND p.bucket >= e.period AND p.bucket < ${before}
                        ORDER BY p.bucket DESC LIMIT 1`;
  return `WITH k AS (SELECT u.key, max(u.n) AS n FROM unnest(${keys}, $9::float8[]) AS u(key, n) GROUP BY u.key),
     lim AS (${cumulativeLimitSql(rollup)}),
     ok AS (${heldTotalsSql(rollup, 'k')}),
     redo AS (SELECT coalesce(array_agg(k.key), '{}') AS keys FROM k WHERE k.key NOT IN (SELECT ok.key FROM ok)),
     pe AS (SELECT k.key, e.id, e.resolution, te.n > coalesce(fe.n, 0) AS has_values,
                   te.bucket AS t_bucket, te.version AS t_version, fe.bucket AS f_bucket, fe.version AS f_version,
                   coalesce(te.period_n = c.n, false) AS held
              FROM k CROSS JOIN unnest($11::text[], $12::timestamptz[], $13::timestamptz[], $14::timestamptz[])
                                WITH ORDINALITY AS e(resolution, f, t, period, id)
              LEFT JOIN LATERAL (${latest('e.t')}) te ON true
              LEFT JOIN LATERAL (${latest('e.f')}) fe ON te.bucket IS NOT NULL
              LEFT JOIN LATERAL (SELECT r.${count} AS n FROM ${table} r
                                  WHERE r.tenant_id = $1::uuid AND r.resolution = CASE e.resolution WHEN '1h' THEN '1d' ELSE '1h' END
                                    AND r.${key} = k.key AND r.bucket = e.period) c ON te.bucket IS NOT NULL)
SELECT ok.key::text, 1, NULL::bytea, ok.end_day, ok.end_version, 'day' FROM ok WHERE ok.end_day IS NOT NULL
UNION ALL SELECT ok.key::text, -1, NULL::bytea, ok.start_day, ok.start_version, 'day' FROM ok WHERE ok.start_day IS NOT NULL
UNION ALL ${days('$6::timestamptz', '(SELECT lim.m FROM lim)', `(SELECT redo.keys FROM redo)::${keyType}[]`)}
UNION ALL ${days('(SELECT lim.m FROM lim)', '$7::timestamptz', keys)}
UNION ALL SELECT pe.key::text, 1, NULL::bytea, pe.t_bucket, pe.t_version, pe.resolution FROM pe WHERE pe.held AND pe.has_values
UNION ALL SELECT pe.key::text, -1, NULL::bytea, pe.f_bucket, pe.f_version, pe.resolution FROM pe WHERE pe.held AND pe.has_values AND pe.f_bucket IS NOT NULL
-- One index range per piece and key (OFFSET 0 keeps the subquery apart, so the planner
-- cannot turn the pieces into a hash join over a scan of the tenant's rows).
UNION ALL SELECT r.${key}::text, p.sign, array_send(r.hist), NULL::timestamptz, NULL::text, NULL::text
  FROM unnest($2::text[], $3::timestamptz[], $4::timestamptz[], $5::int4[], $10::int4[]) AS p(resolution, f, t, sign, edge)
  CROSS JOIN LATERAL (SELECT r.${key}, r.hist FROM ${table} r
                       WHERE r.tenant_id = $1::uuid AND r.resolution = p.resolution AND r.bucket >= p.f AND r.bucket < p.t
                         AND r.${key} = ANY (CASE WHEN p.edge = 0 THEN ${keys}
                                                  ELSE (SELECT coalesce(array_agg(pe.key), '{}') FROM pe WHERE pe.id = p.edge AND NOT pe.held) END)
                         AND r.hist IS NOT NULL OFFSET 0) r`;
}

/**
 * What reading a range needs besides the range: the time now (edgePieces) and the
 * running totals already read (src/db/runningTotalsCache.ts).
 */
export interface RangeRead {
  now: number;
  cache: RunningTotalsCache;
}

/** Rows of one resolution with buckets in [from, to) (epoch ms), added (sign 1) or subtracted (-1). */
export interface HistogramPiece {
  resolution: Resolution;
  from: number;
  to: number;
  sign: 1 | -1;
}

/** The resolution whose buckets hold whole buckets of another. */
const ENCLOSING: Partial<Record<Resolution, Resolution>> = { '5m': '1h', '1h': '1d' };

/**
 * How far back the finer rows of an enclosing row are surely kept: 5-minute rows expire
 * at least 8 days after their bucket (retention of at least a day plus 7 days), hours
 * with the days that hold them at 400 days (maintain_partitions_and_rollups).
 */
const FINER_KEPT_MS: Partial<Record<Resolution, number>> = { '5m': 7 * DAY_MS, '1h': 399 * DAY_MS };

/**
 * The range's edges (the pieces of rangeSegments other than the whole days) as signed
 * pieces, each edge either its own rows or, when that reads fewer buckets, its enclosing
 * row minus the finer rows of that row outside the range. `now` bounds the buckets that
 * can have data after a range's end (for counting only: every row in a subtracted piece
 * is subtracted, whatever its time) and where finer rows may have expired.
 */
export function edgePieces(segments: Segment[], now: number): HistogramPiece[] {
  const pieces: HistogramPiece[] = [];
  segments.forEach((segment, i) => {
    const resolution = segment.resolution;
    const from = segment.from.getTime();
    const to = segment.to.getTime();
    if (i === 2 || to <= from) return;
    const own = (): void => void pieces.push({ resolution, from, to, sign: 1 });
    const enclosing = ENCLOSING[resolution];
    if (!enclosing) return own();
    const width = RESOLUTION_MS[resolution];
    const outer = RESOLUTION_MS[enclosing];
    const inside = (to - from) / width;
    if (i < 2) {
      // Leading edge: the enclosing row ending at `to`, minus its buckets before `from`.
      const start = to - outer;
      if (to % outer !== 0 || from < start || start < now - FINER_KEPT_MS[resolution]!) return own();
      if (1 + (from - start) / width >= inside) return own();
      pieces.push({ resolution: enclosing, from: start, to, sign: 1 }, { resolution, from: start, to: from, sign: -1 });
    } else {
      // Trailing edge: the enclosing row starting at `from`, minus its buckets from `to`
      // on (counted up to now).
      const end = from + outer;
      if (from % outer !== 0 || to > end || from < now - FINER_KEPT_MS[resolution]!) return own();
      if (1 + Math.max(0, Math.min(end, ceilTo(now, width)) - to) / width >= inside) return own();
      pieces.push({ resolution: enclosing, from, to: end, sign: 1 }, { resolution, from: to, to: end, sign: -1 });
    }
  });
  // An enclosing row added for a 5-minute edge that the hour edge subtracts again (both
  // edges of one side taken as complements): neither is read.
  for (const added of pieces.filter((p) => p.sign === 1)) {
    const taken = pieces.find((p) => p.sign === -1 && p.resolution === added.resolution
      && ((p.from === added.from && added.to <= p.to) || (p.to === added.to && added.from >= p.from)));
    if (!taken) continue;
    if (taken.from === added.from) taken.from = added.to;
    else taken.to = added.from;
    pieces.splice(pieces.indexOf(added), 1);
  }
  return pieces.filter((p) => p.to > p.from);
}

/**
 * A range's rows for a ranking (every key of the tenant): the whole days and the edges
 * as edgePieces chooses them, so the edges cost a few rows per key however busy the key
 * is (its own rows of 21 hours and 8 buckets become today's row minus the buckets after
 * the range). Each piece carries a group: an edge read as an enclosing row and the finer
 * rows subtracted from it share the enclosing piece's number (1-based); 0 for own rows.
 * With `complements` false (p95Complements), every edge is its own rows.
 */
export interface RankingPiece extends HistogramPiece {
  group: number;
}

export function rankingPieces(segments: Segment[], now: number, complements = true): RankingPiece[] {
  if (!complements) {
    return segments.filter((s, i) => i !== 2 && s.to > s.from)
      .map((s) => ({ resolution: s.resolution, from: s.from.getTime(), to: s.to.getTime(), sign: 1, group: 0 }));
  }
  const pieces = edgePieces(segments, now);
  // The piece holding a subtracted one: the finest coarser piece added around it (the one
  // whose single bucket it was subtracted from).
  const holder = (inner: HistogramPiece): number => {
    let found = -1;
    pieces.forEach((p, i) => {
      if (p.sign < 0 || RESOLUTION_MS[p.resolution] <= RESOLUTION_MS[inner.resolution] || p.from > inner.from || inner.to > p.to) return;
      if (found < 0 || RESOLUTION_MS[p.resolution] < RESOLUTION_MS[pieces[found]!.resolution]) found = i;
    });
    if (found < 0) throw new Error(`no enclosing piece for ${inner.resolution} ${new Date(inner.from).toISOString()}`);
    return found;
  };
  const groups = pieces.map(() => 0);
  pieces.forEach((p, i) => {
    if (p.sign > 0) return;
    const j = holder(p);
    groups[i] = j + 1;
    groups[j] = j + 1;
  });
  return pieces.map((p, i) => ({ ...p, group: groups[i]! }));
}

/** The segments with only segment i left (the others empty), for edgePieces of one edge. */
function alone(segments: Segment[], i: number): Segment[] {
  return segments.map((s, j) => (j === i ? s : { ...s, to: s.from }));
}

/**
 * Whether a ranking by p95 reads the range's edges as complements (rankingPieces) rather
 * than as their own rows. A complement bounds the p95 poorly from below: the rows
 * subtracted from the enclosing row usually hold more than 5 % of its values, and then
 * nothing says how many of the range's values lie below the enclosing row's p95. Where
 * whole days (bounded by the coarse running totals) make up at least half the range, the
 * days keep the bounds close; on shorter ranges, endpoints read their edges' own rows,
 * whose many values per row bound them closely. Fingerprints keep the complements: with
 * a few values per hourly row, their own rows bound them even more loosely. The query
 * benchmark's ranking cases show both ("endpoints by p95, 24 h" and "slowQueries top 10
 * by p95" in bench/reports/query.md).
 */
export function p95Complements(rollup: CumulativeRollup, segments: Segment[]): boolean {
  if (rollup.name === 'query') return true;
  const span = segments[4]!.to.getTime() - segments[0]!.from.getTime();
  const days = Math.max(0, segments[2]!.to.getTime() - segments[2]!.from.getTime());
  return 2 * days >= span;
}

/**
 * The parameters of rankingRowsSql: $1 tenant, $2..$5 the edge pieces (resolutions,
 * starts, ends, signs), $6 and $7 the range's whole days (as rangeHistogramSql, so
 * cumulativeLimitSql and rankingSql read them too), $8 the pieces' groups. `complements`
 * as rankingPieces takes it.
 */
export function rankingValues(tenantId: string, segments: Segment[], now: number, complements = true): unknown[] {
  const days = segments[2]!;
  const pieces = rankingPieces(segments, now, complements);
  return [
    tenantId,
    pieces.map((p) => p.resolution), pieces.map((p) => new Date(p.from)), pieces.map((p) => new Date(p.to)), pieces.map((p) => p.sign),
    days.from, days.to, pieces.map((p) => p.group),
  ];
}

/**
 * SQL of a ranking's rows (a parenthesised FROM item, alias it `r`): for each rollup row
 * of the range (rankingValues), the key column, `columns` (a list of r.column), the
 * bucket, and sign (1, or -1 for a row to subtract), grp (its piece's group) and days
 * (true for the range's whole days). The days are one index range; each edge piece is
 * its own (OFFSET 0 keeps the planner from joining the pieces to a scan of the tenant's
 * rows). `where`: more conditions on r.
 */
export function rankingRowsSql(rollup: CumulativeRollup, columns: string, where = ''): string {
  const { table, key } = rollup;
  return `(SELECT r.${key}, r.bucket, 1 AS sign, 0 AS grp, true AS days, ${columns}
           FROM ${table} r
          WHERE r.tenant_id = $1::uuid AND r.resolution = '1d' AND r.bucket >= $6::timestamptz AND r.bucket < $7::timestamptz ${where}
         UNION ALL
         SELECT r.${key}, r.bucket, p.sign, p.grp, false, ${columns}
           FROM unnest($2::text[], $3::timestamptz[], $4::timestamptz[], $5::int4[], $8::int4[]) AS p(resolution, f, t, sign, grp)
          CROSS JOIN LATERAL (SELECT r.${key}, r.bucket, ${columns} FROM ${table} r
                               WHERE r.tenant_id = $1::uuid AND r.resolution = p.resolution AND r.bucket >= p.f AND r.bucket < p.t ${where}
                              OFFSET 0) r)`;
}

/** SQL of a signed sum over rankingRowsSql's rows (aliased r), as float8. */
export function signedSum(column: string): string {
  return `coalesce(sum(r.sign * r.${column}), 0)::float8`;
}

/**
 * SQL of max_ms over rankingRowsSql's rows and whether it is the range's: the maximum of
 * the added rows, which is the range's unless a subtracted row reaches it (then the
 * maximum may lie outside the range: exactMaxima reads the key's own rows).
 */
export function signedMaxSql(): string {
  return `max(r.max_ms) FILTER (WHERE r.sign > 0)::float8 AS max_ms,
              NOT coalesce(max(r.max_ms) FILTER (WHERE r.sign < 0) >= max(r.max_ms) FILTER (WHERE r.sign > 0), false) AS max_exact`;
}

/** SQL of a key's count in the whole days before m over rankingRowsSql's rows (dayCountSql's). */
export function rankingDayCountSql(rollup: CumulativeRollup): string {
  return `coalesce(sum(r.${rollup.count}) FILTER (WHERE r.days AND r.bucket < lim.m), 0)::float8`;
}

/**
 * SQL of a key's p95 bound parts over rankingRowsSql's rows: parts, the (n, lo, hi) of
 * its own edge rows (the days before m count by the running totals), and complement
 * parts, (group * sign, n, lo, hi) of the rows of the edges read as complements, which
 * keyBounds reads as the enclosing rows less the subtracted counts.
 */
export function rankingBoundPartsSql(rollup: CumulativeRollup): string {
  const n = `r.${rollup.count}`;
  const lo = 'coalesce(r.p95_lo_bucket, -1)';
  const hi = 'coalesce(r.p95_hi_bucket, -1)';
  return `array_agg(ARRAY[${n}, ${lo}, ${hi}]) FILTER (WHERE ${n} > 0 AND r.grp = 0 AND NOT (r.days AND r.bucket < lim.m))::text AS parts,
              array_agg(ARRAY[r.grp * r.sign, ${n}, ${lo}, ${hi}]) FILTER (WHERE ${n} > 0 AND r.grp > 0)::text AS complement_parts`;
}

/**
 * The range's maximum max_ms of some keys from their own rows (for the keys whose
 * ranking maximum was not exact, signedMaxSql). One scan with the five ranges OR'ed
 * (segmentCondition): planned faster than their UNION, which this statement's cost is
 * mostly (the ranking cases by p95 of bench/reports/query.md).
 */
export async function exactMaxima(db: Queryable, rollup: CumulativeRollup, tenantId: string, segments: Segment[], keys: string[]): Promise<Map<string, number | null>> {
  if (keys.length === 0) return new Map();
  const { table, key, keyType } = rollup;
  const result = await db.query<{ key: string; max_ms: number | null }>(
    `SELECT r.${key}::text AS key, max(r.max_ms)::float8 AS max_ms
       FROM ${table} r
      WHERE r.tenant_id = $1::uuid AND r.${key} = ANY ($12::${keyType}[]) AND ${segmentCondition('r', 2)}
      GROUP BY 1`,
    [tenantId, ...segmentValues(segments), keys],
  );
  return new Map(result.rows.map((row) => [row.key, row.max_ms]));
}

/**
 * An edge of at least this many buckets is read as two running totals where they hold
 * (V0.0.53); a shorter one as its rows (edgePieces), which are as few.
 */
const PREFIX_MIN_BUCKETS = 3;

/** The period (day, hour) whose running totals hold an edge of a resolution. */
const PREFIX_PERIOD: Record<PrefixResolution, Resolution> = { '1h': '1d', '5m': '1h' };

/**
 * The segments (indexes into rangeSegments' five) that histograms may read as running
 * totals within their day or hour: the edges of at least PREFIX_MIN_BUCKETS buckets
 * whose rows cannot have expired (FINER_KEPT_MS: a running total of a period that expiry
 * cut still counts the expired rows).
 */
function prefixEdgeSegments(segments: Segment[], now: number): number[] {
  const found: number[] = [];
  segments.forEach((segment, i) => {
    if (i === 2 || segment.resolution === '1d') return;
    if (segment.from.getTime() < now - FINER_KEPT_MS[segment.resolution]!) return;
    if ((segment.to.getTime() - segment.from.getTime()) / RESOLUTION_MS[segment.resolution] >= PREFIX_MIN_BUCKETS) found.push(i);
  });
  return found;
}

/**
 * A range's edges read as running totals within their day or hour where those hold, and
 * the pieces read otherwise: for each such edge, its own edgePieces (edge: its 1-based
 * number), for the other edges edgePieces of them together (edge 0).
 */
export function prefixEdges(segments: Segment[], now: number): {
  edges: Array<{ resolution: PrefixResolution; from: number; to: number; period: number }>;
  pieces: Array<HistogramPiece & { edge: number }>;
} {
  const edges: Array<{ resolution: PrefixResolution; from: number; to: number; period: number }> = [];
  const pieces: Array<HistogramPiece & { edge: number }> = [];
  const rest = segments.map((s) => ({ ...s }));
  for (const i of prefixEdgeSegments(segments, now)) {
    const segment = segments[i]!;
    const resolution = segment.resolution as PrefixResolution;
    const from = segment.from.getTime();
    const width = RESOLUTION_MS[PREFIX_PERIOD[resolution]];
    edges.push({ resolution, from, to: segment.to.getTime(), period: Math.floor(from / width) * width });
    pieces.push(...edgePieces(alone(segments, i), now).map((p) => ({ ...p, edge: edges.length })));
    rest[i] = { ...segment, to: segment.from };
  }
  pieces.push(...edgePieces(rest, now).map((p) => ({ ...p, edge: 0 })));
  return { edges, pieces };
}

/** The parameters of rangeHistogramSql. */
export function rangeHistogramValues(tenantId: string, segments: Segment[], keys: KeyDayCount[], now: number): unknown[] {
  const days = segments[2]!;
  const { edges, pieces } = prefixEdges(segments, now);
  return [
    tenantId,
    pieces.map((p) => p.resolution), pieces.map((p) => new Date(p.from)), pieces.map((p) => new Date(p.to)), pieces.map((p) => p.sign),
    days.from, days.to,
    keys.map((k) => k.key), keys.map((k) => k.dayCount),
    pieces.map((p) => p.edge),
    edges.map((e) => e.resolution), edges.map((e) => new Date(e.from)), edges.map((e) => new Date(e.to)), edges.map((e) => new Date(e.period)),
  ];
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
 * empty histogram. `read.now` decides how the edges are read (edgePieces).
 */
export async function rangeHistograms(
  db: Queryable,
  rollup: CumulativeRollup,
  tenantId: string,
  segments: Segment[],
  keys: KeyDayCount[],
  read: RangeRead,
): Promise<Map<string, Histogram>> {
  const histograms = new Map<string, Histogram>(keys.map((k) => [k.key, new Histogram()]));
  if (keys.length === 0) return histograms;
  const result = await db.query<[string, number, Buffer | null, Date | null, string | null, TotalsSource | null]>({
    text: rangeHistogramSql(rollup),
    values: rangeHistogramValues(tenantId, segments, keys, read.now),
    rowMode: 'array',
  });
  // The running totals named, by where they live; their bytes from the cache or read.
  const bytesOf = new Map<TotalsSource, Map<string, Buffer>>();
  for (const source of ['day', '1h', '5m'] as const) {
    const wanted = result.rows.filter((row) => row[5] === source)
      .map(([key, , , day, version]) => ({ key, total: { day: day!, version: version! } }));
    if (wanted.length > 0) bytesOf.set(source, await runningTotals(db, rollup, 'hist', tenantId, wanted, read.cache, source));
  }
  for (const [key, sign, hist, day, version, source] of result.rows) {
    let histogram = histograms.get(key);
    if (!histogram) histograms.set(key, (histogram = new Histogram()));
    const bytes = hist ?? (source ? bytesOf.get(source)?.get(versionId(totalsName(rollup, source), 'hist', tenantId, key, day!, version!)) : undefined);
    if (!bytes) throw new Error(`running total (${source}) of ${key} at ${day?.toISOString()} (version ${version}) was not read`);
    histogram.addSend(bytes, sign < 0 ? -1 : 1);
  }
  return histograms;
}

/** hist_coarsen's shift for the coarse running totals (V0.0.48): buckets 4 times wider. */
export const COARSE_SHIFT = 2;

/**
 * A key's stored p95 bounds over a range ((n, lo, hi) triples, src/db/p95Bounds.ts) and the
 * versions of its running totals where they hold (rankingSql), whose coarse form
 * p95CandidateKeys reads.
 */
export interface KeyBoundParts extends KeyDayCount {
  /** Rows outside the whole days before m (cumulativeLimitSql), read as their own. */
  parts: string | null;
  /** Rows of the edges read as complements (rankingBoundPartsSql). */
  complementParts: string | null;
  /** Running totals through the last day before m and before the first day, when they hold (start: null when there is none). */
  end: TotalVersion | null;
  start: TotalVersion | null;
  held: boolean;
}

/** rankingSql's columns of a key's running totals, as KeyBoundParts takes them. */
export interface RankingTotalsRow {
  held: boolean;
  end_day: Date | null;
  end_version: string | null;
  start_day: Date | null;
  start_version: string | null;
}

export function boundTotals(row: RankingTotalsRow): Pick<KeyBoundParts, 'held' | 'end' | 'start'> {
  return {
    held: row.held,
    end: row.end_day && row.end_version ? { day: row.end_day, version: row.end_version } : null,
    start: row.start_day && row.start_version ? { day: row.start_day, version: row.start_version } : null,
  };
}

/**
 * SQL of a ranking's first read, given `totals` (a CTE body over the range's rollup rows
 * joined with lim, grouped by key, whose columns include key (named as the rollup's key
 * column), parts (boundPartsSql over the rows outside the days before m) and day_count
 * (dayCountSql)): totals' columns, and the versions of the key's running totals where
 * they hold (held, end_day, end_version, start_day, start_version, read by boundTotals;
 * the same test as heldTotalsSql).
 * One statement, so the running totals are looked up inside PostgreSQL, key by key, on
 * each totals row (no join of two derived tables, which the planner cannot size).
 */
export function rankingSql(rollup: CumulativeRollup, totals: string): string {
  const key = `t.${rollup.key}`;
  const wanted = `lim.m > $6::timestamptz AND t.day_count > 0`;
  return `WITH lim AS (${cumulativeLimitSql(rollup)}),
     totals AS (${totals})
SELECT t.*, h.held,
       CASE WHEN h.held THEN e.day END AS end_day, CASE WHEN h.held THEN e.version END AS end_version,
       CASE WHEN h.held THEN s.day END AS start_day, CASE WHEN h.held THEN s.version END AS start_version
  FROM totals t CROSS JOIN lim
  LEFT JOIN LATERAL (${latestTotalSql(rollup, key, 'lim.m')}) e ON ${wanted}
  LEFT JOIN LATERAL (${latestTotalSql(rollup, key, '$6::timestamptz')}) s ON ${wanted}
  CROSS JOIN LATERAL (SELECT ${totalsHoldSql('t.day_count')} AS held) h`;
}

/**
 * The keys that can be among the top `limit` by p95 over the range. The whole days
 * before m count by the coarse running totals (two short histograms per key), each
 * coarse bucket as values known to lie within its 2^COARSE_SHIFT buckets; the other rows
 * by their stored bounds. A key whose running totals do not hold counts its daily rows
 * by their bounds too (read then). The coarse totals not in the cache are read.
 */
export async function p95CandidateKeys(
  db: Queryable,
  rollup: CumulativeRollup,
  tenantId: string,
  segments: Segment[],
  keys: KeyBoundParts[],
  limit: number,
  cache: RunningTotalsCache,
): Promise<string[]> {
  if (keys.length <= limit) return keys.map((k) => k.key);
  // Keys whose running totals do not hold count their daily rows by their bounds.
  const unheld = keys.filter((k) => k.dayCount > 0 && !k.held).map((k) => k.key);
  const dayParts = unheld.length > 0 ? await dayBoundParts(db, rollup, tenantId, segments, unheld) : new Map<string, string>();
  const wanted = keys.filter((k) => k.held).flatMap((k) =>
    [k.end, k.start].filter((t): t is TotalVersion => t !== null).map((total) => ({ key: k.key, total })));
  const totals = wanted.length > 0 ? await runningTotals(db, rollup, 'coarse', tenantId, wanted, cache) : new Map<string, Buffer>();
  const bytesOf = (key: string, total: TotalVersion | null): Buffer | null => {
    if (total === null) return null;
    const bytes = totals.get(versionId(rollup.name, 'coarse', tenantId, key, total.day, total.version));
    if (!bytes) throw new Error(`coarse running total of ${key} on ${total.day.toISOString()} (version ${total.version}) was not read`);
    return bytes;
  };
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
  const bounds = keys.map(({ key, parts, complementParts, held, end, start }) => {
    const extra = dayParts.get(key);
    const all = extra ? (parts ? `${parts} ${extra}` : extra) : parts;
    if (!held) return keyBounds(key, all, null, complementParts);
    coarse.low = MAX_BUCKET + 1;
    coarse.high = -1;
    add(bytesOf(key, end), 1);
    add(bytesOf(key, start), -1);
    const b = keyBounds(key, all, coarse, complementParts);
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
