// Latency histograms of the rollups, merged and read in the service.
//
// The format and the percentile definition are those of the SQL helpers in
// migrations/V0.0.41__rollups_histograms_tokens.sql (latency_bucket_value,
// hist_percentile): element = bucket * 2^40 + count, bucket i >= 1 covers
// [0.01 * 1.02^(i-1), 0.01 * 1.02^i) ms. A change there must be reflected here;
// test/histogram.percentiles.test.ts compares the two on the same histograms.
//
// Why not in SQL: merging thousands of histograms with unnest + GROUP BY costs about
// a microsecond per element, and the plpgsql percentile about 0.1 µs per element per
// percentile; a 30-day table of endpoints reads ~10^5 elements. Reading the arrays as
// text and adding counts here costs a few nanoseconds per element.

const COUNT_MASK = 2 ** 40;
/** Highest bucket latency_bucket() produces. */
export const MAX_BUCKET = 4000;

/** Representative duration (ms) of a bucket, as latency_bucket_value(). */
export function bucketValue(bucket: number): number {
  return bucket <= 0 ? 0 : (2 * 0.01 * Math.pow(1.02, bucket)) / 2.02;
}

/** Counts per bucket, summed over any number of histograms. */
export class Histogram {
  private readonly counts = new Float64Array(MAX_BUCKET + 1);
  private low = MAX_BUCKET + 1;
  private high = -1;
  total = 0;

  add(bucket: number, count: number): void {
    if (count <= 0) return;
    const b = bucket > MAX_BUCKET ? MAX_BUCKET : bucket < 0 ? 0 : bucket;
    this.counts[b]! += count;
    this.total += count;
    if (b < this.low) this.low = b;
    if (b > this.high) this.high = b;
  }

  /**
   * Adds every histogram in PostgreSQL's text form of one or more bigint[] values,
   * e.g. "{1099511627781,2199023255559}" or several of them concatenated
   * (string_agg(hist::text, '')). Elements fit a double exactly: bucket <= 4000.
   */
  addText(text: string | null | undefined): void {
    if (!text) return;
    let value = 0;
    let inNumber = false;
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i);
      if (c >= 48 && c <= 57) {
        value = value * 10 + (c - 48);
        inNumber = true;
      } else if (inNumber) {
        const bucket = Math.floor(value / COUNT_MASK);
        this.add(bucket, value - bucket * COUNT_MASK);
        value = 0;
        inNumber = false;
      }
    }
    if (inNumber) {
      const bucket = Math.floor(value / COUNT_MASK);
      this.add(bucket, value - bucket * COUNT_MASK);
    }
  }

  /**
   * Percentile q in [0, 1] with percentile_cont's definition (rank q * (n - 1),
   * interpolating between neighbouring order statistics), each order statistic
   * estimated by its bucket's representative value. Null when empty.
   */
  percentile(q: number): number | null {
    if (this.total === 0) return null;
    if (!(q >= 0 && q <= 1)) throw new RangeError(`percentile must be between 0 and 1, got ${q}`);
    const rank = q * (this.total - 1);
    const lo = Math.floor(rank);
    const hi = Math.ceil(rank);
    let seen = 0;
    let loValue: number | null = null;
    let hiValue: number | null = null;
    for (let b = this.low; b <= this.high; b++) {
      const n = this.counts[b]!;
      if (n === 0) continue;
      if (loValue === null && seen + n > lo) loValue = bucketValue(b);
      if (seen + n > hi) {
        hiValue = bucketValue(b);
        break;
      }
      seen += n;
    }
    if (loValue === null) return null;
    return loValue + (rank - lo) * ((hiValue ?? loValue) - loValue);
  }

  /** Several percentiles (each 0..100) at once. */
  percentiles(percents: readonly number[]): Array<number | null> {
    return percents.map((p) => this.percentile(p / 100));
  }
}

/** One histogram from text, for the common case of a single read. */
export function histogramFromText(...texts: Array<string | null | undefined>): Histogram {
  const histogram = new Histogram();
  for (const text of texts) histogram.addText(text);
  return histogram;
}
