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
// query benchmark about half the fingerprints stayed candidates for the top 10), while
// keys with many values per row are bounded closely. Groups of values known to lie
// within a few buckets (the coarse running totals of V0.0.48 for whole days,
// src/db/rangeHistograms.ts) count as rows with k = 0 and j + 1 = n, which bounds the
// days far more closely (about 40 of 200 fingerprints stay candidates there).
//
// With T the N-th highest lower bound, at least N keys have p95 >= value(T); a key
// whose upper bound is a lower bucket than T has p95 <= value(upper) < value(T) (buckets
// are 2 % apart, far more than rounding), so it is below N others and never in the top N,
// whatever the order of ties. Keys whose bounds are unknown (a row without them) are
// always candidates. Buckets are compared as integers, the same order as their values.
// The bounds are computed here from the rows' stored buckets (read as text, one string
// per key), which costs less than window functions over the rows in SQL.
// test/query.p95Ranking.test.ts checks the answer against merging every key.

/** The quantile the stored bounds are for (hist_p95_bounds in V0.0.47). */
export const BOUNDED_QUANTILE = 0.95;

/**
 * SQL of one key's rows as text, for p95Candidates: "n lo hi" per row (n > 0 values,
 * -1 for a bound the row lacks), space-separated. n is the row's count (calls or
 * requests), which the refresh keeps equal to its histogram's total, from which the
 * trigger took the bounds. `alias` names a row with the columns
 * of the rollups: `count` (calls or requests), p95_lo_bucket and p95_hi_bucket. Text,
 * because thousands of rows parse far faster as one string per key than as rows.
 */
export function boundPartsSql(alias: string, count: string, filter = ''): string {
  return `string_agg(${alias}.${count} || ' ' || coalesce(${alias}.p95_lo_bucket, -1) || ' ' || coalesce(${alias}.p95_hi_bucket, -1), ' ')${filter ? ` FILTER (WHERE ${filter})` : ''}`;
}

interface Bounds {
  key: string;
  /** Bucket the p95 is at least the value of; -1: none known. */
  lower: number;
  /** Bucket the p95 is at most the value of; Infinity: none known. */
  upper: number;
}

/** The space-separated integers of a string (optionally negative), without splitting it. */
export function parseIntegers(text: string | null): number[] {
  const out: number[] = [];
  if (!text) return out;
  let value = 0;
  let negative = false;
  let inNumber = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c >= 48 && c <= 57) {
      value = value * 10 + (c - 48);
      inNumber = true;
    } else if (c === 45) {
      negative = true;
    } else {
      if (inNumber) out.push(negative ? -value : value);
      value = 0;
      negative = false;
      inNumber = false;
    }
  }
  if (inNumber) out.push(negative ? -value : value);
  return out;
}

/** Values known to lie within buckets lo..hi (coarse running totals, src/db/rangeHistograms.ts). */
export interface Within {
  n: number;
  lo: number;
  hi: number;
}

/**
 * A key's bounds from its rows' "n lo hi" triples (as boundPartsSql writes them) and,
 * optionally, groups of values known to lie within buckets lo..hi (`within`: none of
 * them below lo, all at or below hi, so k = 0 and j + 1 = n in the terms above).
 *   - lower: the highest x among the lo's with sum over rows of (lo >= x ? k : n) <= floor(r);
 *   - upper: the lowest x among the hi's with sum over rows with hi <= x of (j + 1) >= ceil(r) + 1.
 * Both sums only grow with x, so each is found in one ascending sweep.
 */
export function keyBounds(key: string, parts: string | null, within: Within[] = []): Bounds {
  const q = BOUNDED_QUANTILE;
  const numbers = parseIntegers(parts);
  const rows: Array<{ n: number; lo: number; hi: number; k: number; j1: number }> = [];
  let total = 0;
  for (let i = 0; i + 2 < numbers.length; i += 3) {
    const n = numbers[i]!;
    if (!(n > 0)) continue;
    const lo = numbers[i + 1]!;
    const hi = numbers[i + 2]!;
    if (lo < 0 || hi < 0) return { key, lower: -1, upper: Infinity };
    // The same arithmetic as hist_p95_bounds (float8 there, double here).
    rows.push({ n, lo, hi, k: Math.floor(q * (n - 1)), j1: Math.min(n - 1, Math.ceil(q * n)) + 1 });
    total += n;
  }
  for (const w of within) {
    if (!(w.n > 0)) continue;
    rows.push({ n: w.n, lo: w.lo, hi: w.hi, k: 0, j1: w.n });
    total += w.n;
  }
  if (total === 0) return { key, lower: -1, upper: Infinity };
  const floorR = Math.floor(q * (total - 1));
  const ceilR1 = Math.ceil(q * (total - 1)) + 1;

  // Lower: f(x) = sum(k) + sum over rows with lo < x of (n - k), at x = each distinct lo.
  let lower = -1;
  rows.sort((a, b) => a.lo - b.lo);
  let f = 0;
  for (const r of rows) f += r.k;
  for (let i = 0; i < rows.length && f <= floorR;) {
    const lo = rows[i]!.lo;
    lower = lo;
    for (; i < rows.length && rows[i]!.lo === lo; i++) f += rows[i]!.n - rows[i]!.k;
  }
  // Upper: g(x) = sum over rows with hi <= x of (j + 1), at x = each distinct hi.
  let upper = Infinity;
  rows.sort((a, b) => a.hi - b.hi);
  let g = 0;
  for (let i = 0; i < rows.length;) {
    const hi = rows[i]!.hi;
    for (; i < rows.length && rows[i]!.hi === hi; i++) g += rows[i]!.j1;
    if (g >= ceilR1) {
      upper = hi;
      break;
    }
  }
  return { key, lower, upper };
}

/**
 * The keys that can be among the top `limit` by p95, from each key's rows (key, "n lo hi
 * ...") and groups of values within known buckets: every key whose upper bound is not
 * below the limit-th highest lower bound.
 */
export function p95Candidates(keys: Array<{ key: string; parts: string | null; within?: Within[] }>, limit: number): string[] {
  const bounds = keys.map(({ key, parts, within }) => keyBounds(key, parts, within));
  if (bounds.length <= limit) return bounds.map((b) => b.key);
  const lowers = bounds.map((b) => b.lower).sort((a, b) => b - a);
  const threshold = lowers[Math.max(limit, 1) - 1]!;
  return bounds.filter((b) => b.upper >= threshold).map((b) => b.key);
}
