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
// query benchmark about half the fingerprints stay candidates for the top 10), while
// keys with many values per row are bounded closely.
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
export function boundPartsSql(alias: string, count: string): string {
  return `string_agg(${alias}.${count} || ' ' || coalesce(${alias}.p95_lo_bucket, -1) || ' ' || coalesce(${alias}.p95_hi_bucket, -1), ' ')`;
}

interface Bounds {
  key: string;
  /** Bucket the p95 is at least the value of; -1: none known. */
  lower: number;
  /** Bucket the p95 is at most the value of; Infinity: none known. */
  upper: number;
}

/** A key's bounds from its rows' "n lo hi" triples (as boundPartsSql writes them). */
export function keyBounds(key: string, parts: string): Bounds {
  const q = BOUNDED_QUANTILE;
  const numbers = parts.split(' ').map(Number);
  const rows: Array<{ n: number; lo: number; hi: number; k: number; j1: number }> = [];
  let total = 0;
  let sumK = 0;
  let sumJ1 = 0;
  let unknown = false;
  for (let i = 0; i + 2 < numbers.length; i += 3) {
    const n = numbers[i]!;
    if (!(n > 0)) continue;
    const lo = numbers[i + 1]!;
    const hi = numbers[i + 2]!;
    if (lo < 0 || hi < 0) unknown = true;
    // The same arithmetic as hist_p95_bounds (float8 there, double here).
    const k = Math.floor(q * (n - 1));
    const j1 = Math.min(n - 1, Math.ceil(q * n)) + 1;
    rows.push({ n, lo, hi, k, j1 });
    total += n;
    sumK += k;
    sumJ1 += j1;
  }
  if (unknown || rows.length === 0) return { key, lower: -1, upper: Infinity };
  const budget = Math.floor(q * (total - 1)) - sumK;
  const slack = sumJ1 - (Math.ceil(q * (total - 1)) + 1);
  // Lower: the highest lo whose rows below it (lower lo) cost at most the budget.
  let lower = -1;
  rows.sort((a, b) => a.lo - b.lo);
  let below = 0;
  for (let i = 0; i < rows.length && below <= budget;) {
    const lo = rows[i]!.lo;
    lower = lo;
    for (; i < rows.length && rows[i]!.lo === lo; i++) below += rows[i]!.n - rows[i]!.k;
  }
  // Upper: the lowest hi whose rows above it (higher hi) sum to at most the slack.
  let upper = Infinity;
  rows.sort((a, b) => b.hi - a.hi);
  let above = 0;
  for (let i = 0; i < rows.length && above <= slack;) {
    const hi = rows[i]!.hi;
    upper = hi;
    for (; i < rows.length && rows[i]!.hi === hi; i++) above += rows[i]!.j1;
  }
  return { key, lower: budget < 0 ? -1 : lower, upper: slack < 0 ? Infinity : upper };
}

/**
 * The keys that can be among the top `limit` by p95, from each key's rows (key, "n lo hi
 * ..."): every key whose upper bound is not below the limit-th highest lower bound.
 */
export function p95Candidates(keys: Array<{ key: string; parts: string }>, limit: number): string[] {
  const bounds = keys.map(({ key, parts }) => keyBounds(key, parts));
  if (bounds.length <= limit) return bounds.map((b) => b.key);
  const lowers = bounds.map((b) => b.lower).sort((a, b) => b - a);
  const threshold = lowers[Math.max(limit, 1) - 1]!;
  return bounds.filter((b) => b.upper >= threshold).map((b) => b.key);
}
