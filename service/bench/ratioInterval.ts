// How far a ratio of two p95s can move from sampling alone: a paired percentile bootstrap
// over the rounds of a side-by-side measurement (round i holds one request per volume,
// made one after the other), so whatever load a round met weighs on both sides of each
// resampled ratio.
import { seededRandom } from './seededRandom';

/** Quantile q of ascending values, interpolating between neighbours (the report's p50 and p95). */
export function quantile(sorted: ArrayLike<number>, q: number): number {
  if (sorted.length === 0) throw new RangeError('quantile of no values');
  const rank = q * (sorted.length - 1);
  const lo = Math.floor(rank);
  const hi = Math.ceil(rank);
  return sorted[lo]! + (rank - lo) * (sorted[hi]! - sorted[lo]!);
}

/**
 * The central `level` interval (0.95: from the 2.5th to the 97.5th percentile) of
 * p95(b) / p95(a) over `resamples` resamplings of the rounds, a[i] and b[i] being the
 * times of round i. Both arrays must have the same length.
 */
export function p95RatioInterval(a: readonly number[], b: readonly number[], { resamples = 2000, level = 0.95, seed = 1 } = {}): [number, number] {
  if (a.length !== b.length) throw new RangeError(`paired samples differ in length: ${a.length} and ${b.length}`);
  if (a.length === 0) throw new RangeError('no samples');
  const n = a.length;
  const random = seededRandom(seed);
  const ra = new Float64Array(n);
  const rb = new Float64Array(n);
  const ratios = new Float64Array(resamples);
  for (let s = 0; s < resamples; s++) {
    for (let i = 0; i < n; i++) {
      const j = Math.floor(random() * n);
      ra[i] = a[j]!;
      rb[i] = b[j]!;
    }
    ratios[s] = quantile(rb.sort(), 0.95) / quantile(ra.sort(), 0.95);
  }
  ratios.sort();
  return [quantile(ratios, (1 - level) / 2), quantile(ratios, 1 - (1 - level) / 2)];
}
