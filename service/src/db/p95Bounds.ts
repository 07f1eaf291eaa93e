// Ranking keys (fingerprints, endpoints) by the p95 of their merged histograms over a
// range, reading histograms only for the keys that can be among the top N.
//
// Every rollup row keeps two buckets of its histogram (V0.0.47, n values, q = 0.95,
// order statistics counted from 0): lo = the bucket of order statistic
// k = floor(q (n - 1)), hi = the bucket of order statistic j = min(n - 1, ceil(q n)).
// So at most k values of the row lie in buckets below lo, and at least j + 1 lie in
// buckets at or below hi.
//
// The p95 of a key's merge (N values, r = q (N - 1), the definition of histogram.ts)
// lies between the values of order statistics floor(r) and ceil(r). Hence:
//   - p95 >= value(x) when the values below bucket x number at most floor(r). Rows with
//     lo >= x contribute at most k of them, others at most all n: so x = a row's lo
//     qualifies when the rows with a lower lo have sum(n - k) <= floor(r) - sum(k)
//     over all rows (the budget). The highest such lo is the key's lower bound.
//   - p95 <= value(x) when the values at or below bucket x number at least ceil(r) + 1.
//     Rows with hi <= x contribute at least j + 1: so x = a row's hi qualifies when the
//     rows with a higher hi have sum(j + 1) <= sum(j + 1) over all rows - (ceil(r) + 1)
//     (the slack). The lowest such hi is the key's upper bound.
// Rows of one or two values mostly fit into the budget and slack; a row of a few dozen
// values has j near its maximum, so keys made of such rows keep wide bounds (in the
// query benchmark many fingerprints stay candidates for the top 10), while
// keys with many values per row are bounded closely. Groups of values known to lie
// within a few buckets (the coarse running totals of V0.0.48 for whole days,
// src/db/rangeHistograms.ts) count as rows with k = 0 and j + 1 = n, which bounds the
// days far more closely.
//
// With T the N-th highest lower bound, at least N keys have p95 >= value(T); a key
// whose upper bound is a lower bucket than T has p95 <= value(upper) < value(T) (buckets
// are 2 % apart, far more than rounding), so it is below N others and never in the top N,
// whatever the order of ties. Keys whose bounds are unknown (a row without them) are
// always candidates. Buckets are compared as integers, the same order as their values.
// The bounds are computed here from the rows' stored buckets (read as text, one string
// per key), which costs less than window functions over the rows in SQL.
// test/query.p95Ranking.test.ts checks the answer against merging every key.

import { MAX_BUCKET } from '../query/histogram';

/** The quantile the stored bounds are for (hist_p95_bounds in V0.0.47). */
export const BOUNDED_QUANTILE = 0.95;

/**
 * SQL of one key's rows as text, for keyBounds: a two-dimensional array of (n, lo, hi)
 * per row, -1 for a bound the row lacks ("{{n,lo,hi},...}"; keyBounds reads any text of
 * integers in that order). n is the row's count (calls or requests), which the refresh
 * keeps equal to its histogram's total, from which the trigger took the bounds. `alias`
 * names a row with the columns of the rollups: `count` (calls or requests),
 * p95_lo_bucket and p95_hi_bucket; `filter`, a condition on the rows to take. Text,
 * because thousands of rows parse far faster as one string per key than as rows, and an
 * array, because array_agg costs less than concatenating text row by row.
 */
export function boundPartsSql(alias: string, count: string, filter = ''): string {
  return `array_agg(ARRAY[${alias}.${count}, coalesce(${alias}.p95_lo_bucket, -1), coalesce(${alias}.p95_hi_bucket, -1)])${filter ? ` FILTER (WHERE ${filter})` : ''}::text`;
}

export interface Bounds {
  key: string;
  /** Bucket the p95 is at least the value of; -1: none known. */
  lower: number;
  /** Bucket the p95 is at most the value of; Infinity: none known. */
  upper: number;
}

/**
 * Values known to lie within groups of buckets: counts[c] values within buckets
 * c * width .. c * width + width - 1, for c from low to high (the coarse running totals
 * of V0.0.48 for whole days, src/db/rangeHistograms.ts). Each group counts as a row with
 * k = 0 (none below its first bucket) and j + 1 = n (all at or below its last).
 */
export interface CoarseCounts {
  counts: Float64Array;
  low: number;
  high: number;
  width: number;
}

// Per-bucket sums of the key being bounded, reused from key to key (and cleared over the
// buckets used): n - k of the rows by their lo, j + 1 by their hi, and FEWER_BELOW, by
// how much the values below a bucket are known to be fewer from that bucket on (rows
// read as complements, below).
const BY_LO = new Float64Array(MAX_BUCKET + 2);
const BY_HI = new Float64Array(MAX_BUCKET + 2);
const FEWER_BELOW = new Float64Array(MAX_BUCKET + 2);

/**
 * A key's bounds from its rows' (n, lo, hi) triples (as boundPartsSql writes them, parsed
 * in place), optionally coarse counts, and optionally rows read as complements
 * (src/db/rangeHistograms.ts rankingBoundPartsSql).
 *   - lower: the highest bucket x where sum(k) + sum over rows with lo < x of (n - k),
 *     at least the count of values below x, is at most floor(r);
 *   - upper: the lowest hi x with sum over rows with hi <= x of (j + 1) >= ceil(r) + 1.
 * Each is one ascending sweep over the buckets.
 *
 * A complement: the range's part E of an enclosing row D (n values, its k and j), less
 * the rows X subtracted from it (x values). E holds n - x values; at least j + 1 - x of
 * them lie at or below D's hi. Below a bucket b up to D's lo lie at most k of D's
 * values, less those of X known to lie below b: each subtracted row has at least j + 1
 * at or below its hi, so from the bucket after its hi on, E has that many fewer below.
 * From D's lo on, all of E may lie below.
 */
export function keyBounds(key: string, parts: string | null, coarse: CoarseCounts | null = null, complementParts: string | null = null): Bounds {
  const q = BOUNDED_QUANTILE;
  let total = 0;
  let sumK = 0;
  let first = MAX_BUCKET + 1;
  let last = -1;
  let unknown = false;
  const clamp = (b: number): number => (b > MAX_BUCKET ? MAX_BUCKET : b);
  const kOf = (n: number): number => Math.floor(q * (n - 1));
  const j1Of = (n: number): number => Math.min(n - 1, Math.ceil(q * n)) + 1;
  const addRow = (n: number, lo: number, hi: number, k: number, j1: number): void => {
    if (!(n > 0)) return;
    if (lo < 0 || hi < 0) {
      unknown = true;
      return;
    }
    const l = clamp(lo);
    const h = clamp(hi);
    BY_LO[l]! += n - k;
    BY_HI[h]! += j1;
    total += n;
    sumK += k;
    if (l < first) first = l;
    if (h > last) last = h;
  };
  if (parts) {
    // Triples of integers; -1 for a bound a row lacks. The same arithmetic as
    // hist_p95_bounds (float8 there, double here).
    readIntegers(parts, 3, (n, lo, hi) => addRow(n, lo, hi, kOf(n), j1Of(n)));
  }
  if (complementParts) {
    // (group * sign, n, lo, hi): per group, one enclosing row (sign 1) and the rows
    // subtracted from it (sign -1).
    const enclosing = new Map<number, [number, number, number]>();
    const subtracted = new Map<number, Array<[number, number]>>();
    readIntegers(complementParts, 4, (groupSign, n, lo, hi) => {
      if (groupSign > 0) enclosing.set(groupSign, [n, lo, hi]);
      else {
        let rows = subtracted.get(-groupSign);
        if (!rows) subtracted.set(-groupSign, (rows = []));
        rows.push([n, hi]);
      }
    });
    for (const [group, [n, lo, hi]] of enclosing) {
      const rows = subtracted.get(group) ?? [];
      const x = rows.reduce((sum, [m]) => sum + m, 0);
      const inside = n - x;
      if (!(inside > 0)) continue;
      if (lo < 0 || hi < 0) {
        unknown = true;
        continue;
      }
      const l = clamp(lo);
      const k = kOf(n);
      // Values of E below b, at most: `below`, from the first bucket up to D's lo.
      let below = Math.min(inside, k);
      let fewer = 0;
      for (const [m, h] of rows.filter(([m, h]) => m > 0 && h >= 0 && h < l).sort((a, b) => a[1] - b[1])) {
        fewer += j1Of(m);
        const after = Math.min(inside, Math.max(0, k - fewer));
        FEWER_BELOW[h + 1]! += below - after;
        below = after;
        if (h + 1 < first) first = h + 1;
      }
      // addRow counts `below` from the start; FEWER_BELOW lowers it after the subtracted
      // rows' his, and from D's lo on all of E counts. The total FEWER_BELOW took off is
      // added back there, with the rest of E.
      const start = Math.min(inside, k);
      addRow(inside, lo, hi, start, Math.max(0, j1Of(n) - x));
      BY_LO[l]! += start - below;
    }
  }
  if (coarse) {
    for (let c = coarse.low; c <= coarse.high; c++) {
      const n = coarse.counts[c]!;
      if (n > 0) addRow(n, c * coarse.width, c * coarse.width + coarse.width - 1, 0, n);
    }
  }
  let lower = -1;
  let upper = Infinity;
  if (!unknown && total > 0) {
    const floorR = Math.floor(q * (total - 1));
    const ceilR1 = Math.ceil(q * (total - 1)) + 1;
    // f: at least the count of values below b. Not monotone where complements lower it,
    // so every bucket is looked at.
    let f = sumK;
    for (let b = first; b <= last; b++) {
      f -= FEWER_BELOW[b]!;
      if (f <= floorR) lower = b;
      f += BY_LO[b]!;
    }
    let g = 0;
    for (let b = first; b <= last; b++) {
      g += BY_HI[b]!;
      if (g >= ceilR1) {
        upper = b;
        break;
      }
    }
  }
  if (last >= first) {
    BY_LO.fill(0, first, last + 1);
    BY_HI.fill(0, first, last + 1);
    FEWER_BELOW.fill(0, first, last + 1);
  }
  return unknown ? { key, lower: -1, upper: Infinity } : { key, lower, upper };
}

/**
 * The integers of a text (separated by anything else: braces, commas, spaces; "-" makes
 * the next one negative), `size` at a time, to `each`.
 */
function readIntegers(text: string, size: 3 | 4, each: (a: number, b: number, c: number, d: number) => void): void {
  const group = [0, 0, 0, 0];
  let at = 0;
  let value = 0;
  let negative = false;
  let inNumber = false;
  const end = (): void => {
    group[at++] = negative ? -value : value;
    if (at === size) {
      each(group[0]!, group[1]!, group[2]!, group[3]!);
      at = 0;
    }
    value = 0;
    negative = false;
    inNumber = false;
  };
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c >= 48 && c <= 57) {
      value = value * 10 + (c - 48);
      inNumber = true;
    } else if (c === 45) {
      negative = true;
    } else if (inNumber) {
      end();
    }
  }
  if (inNumber) end();
}

/**
 * The keys that can be among the top `limit` by p95, from each key's bounds: every key
 * whose upper bound is not below the limit-th highest lower bound.
 */
export function p95Candidates(bounds: Bounds[], limit: number): string[] {
  if (bounds.length <= limit) return bounds.map((b) => b.key);
  const lowers = bounds.map((b) => b.lower).sort((a, b) => b - a);
  const threshold = lowers[Math.max(limit, 1) - 1]!;
  return bounds.filter((b) => b.upper >= threshold).map((b) => b.key);
}
