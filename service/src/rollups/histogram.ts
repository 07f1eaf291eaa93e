// Latency histograms of the rollups, merged and read in the service.
//
// The bucket and the percentile definition are those of the SQL helpers in
// migrations/V0.0.41__baseline.sql (latency_bucket_value, hist_percentile): bucket i >= 1
// covers [0.01 * 1.02^(i-1), 0.01 * 1.02^i) ms. A change there must be reflected here;
// test/histogram.percentiles.test.ts compares the two on the same histograms.
//
// They arrive packed, as the rollups store them (V0.0.41__baseline.sql, hist_pack): 4-byte
// big-endian elements bucket * 2^20 + count, in bucket order, a count above 2^20 - 1
// split over several elements of its bucket. Several histograms are read as one bytea,
// their bytes concatenated in SQL (packedHistograms), which costs PostgreSQL no function
// per element. (The bigint[] form, bucket * 2^40 + count, stays in SQL: the pending
// deltas and the hourly cache; the tests read it with test/support/histogramText.ts.)
//
// Why not merge in SQL: merging thousands of histograms with unnest + GROUP BY, and the
// plpgsql percentile, cost orders of magnitude more per element than adding counts here.

/** Highest bucket latency_bucket() produces. */
export const MAX_BUCKET = 4000;

const representative = (bucket: number): number => (bucket <= 0 ? 0 : (2 * 0.01 * Math.pow(1.02, bucket)) / 2.02);
/** representative() of the buckets 0..MAX_BUCKET, computed once: percentiles read it per step. */
const BUCKET_VALUES = Float64Array.from({ length: MAX_BUCKET + 1 }, (_, bucket) => representative(bucket));

/** Representative duration (ms) of a bucket (a whole number), as latency_bucket_value(). */
export function bucketValue(bucket: number): number {
  return bucket >= 0 && bucket <= MAX_BUCKET ? BUCKET_VALUES[bucket]! : representative(bucket);
}

/**
 * A percentile from the histograms to 5 significant digits. A bucket is 2 % wide and its
 * representative value is within 1 % of any duration in it: the digits beyond the fifth
 * (a change of at most 0.005 %) say nothing, yet each costs bytes and time in every answer,
 * and a 30-day series per endpoint writes 14,400 of them
 * (bench/reports/grafana-panels.md, "p95 latency per endpoint", 30 d).
 */
export function toHistogramPrecision(value: number): number {
  const size = Math.abs(value);
  const scale = size >= 10_000 ? 1 : size >= 1000 ? 10 : size >= 100 ? 100 : size >= 10 ? 1e3 : size >= 1 ? 1e4 : size >= 0.1 ? 1e5 : size >= 0.01 ? 1e6 : 1e8;
  return Math.round(value * scale) / scale;
}

/** Counts per bucket, summed over any number of histograms. */
export class Histogram {
  // Grown on demand (buckets of realistic latencies stay below 1024: 0.01 * 1.02^1024 ms
  // is about 11 minutes), so that many small histograms cost little to make.
  private counts = new Float64Array(1024);
  private low = MAX_BUCKET + 1;
  private high = -1;
  total = 0;

  add(bucket: number, count: number): void {
    if (count <= 0) return;
    const b = bucket > MAX_BUCKET ? MAX_BUCKET : bucket < 0 ? 0 : bucket;
    if (b >= this.counts.length) this.grow();
    this.counts[b]! += count;
    this.total += count;
    if (b < this.low) this.low = b;
    if (b > this.high) this.high = b;
  }

  /** Adds one or more packed histograms, concatenated (packedHistograms). */
  addPacked(packed: Buffer | null | undefined): void {
    if (!packed) return;
    const end = packed.length - (packed.length % 4);
    for (let at = 0; at < end; at += 4) {
      const element = ((packed[at]! << 24) | (packed[at + 1]! << 16) | (packed[at + 2]! << 8) | packed[at + 3]!) >>> 0;
      this.add(element >>> 20, element & 0xfffff);
    }
  }

  /** Empties the histogram, keeping its storage: one instance can serve many steps. */
  reset(): void {
    if (this.high >= this.low) this.counts.fill(0, this.low, this.high + 1);
    this.low = MAX_BUCKET + 1;
    this.high = -1;
    this.total = 0;
  }

  /** Room for every bucket, once one beyond the initial size is used. */
  private grow(): void {
    const counts = new Float64Array(MAX_BUCKET + 1);
    counts.set(this.counts);
    this.counts = counts;
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
    const counts = this.counts;
    let seen = 0;
    let loValue: number | null = null;
    let hiValue: number | null = null;
    for (let b = this.low; b <= this.high; b++) {
      const count = counts[b]!;
      if (count === 0) continue;
      if (loValue === null && seen + count > lo) loValue = bucketValue(b);
      if (seen + count > hi) {
        hiValue = bucketValue(b);
        break;
      }
      seen += count;
    }
    if (loValue === null) return null;
    return loValue + (rank - lo) * ((hiValue ?? loValue) - loValue);
  }

  /** The buckets holding values, ascending, with their counts. */
  nonEmpty(): { buckets: number[]; counts: number[] } {
    const buckets: number[] = [];
    const counts: number[] = [];
    for (let b = this.low; b <= this.high; b++) {
      const n = this.counts[b]!;
      if (n > 0) {
        buckets.push(b);
        counts.push(n);
      }
    }
    return { buckets, counts };
  }

  /** Several percentiles (each 0..100) at once. */
  percentiles(percents: readonly number[]): Array<number | null> {
    return percents.map((p) => this.percentile(p / 100));
  }
}

const stepScratch = new Histogram();
/** Most histograms of a step walked side by side; a step of more is summed into counts. */
const MAX_WALKED = 8;
const cursors = new Int32Array(MAX_WALKED);
const oneStep: Buffer[] = [];

/** The bucket and the count of the packed element at byte `at`. */
const bucketAt = (packed: Buffer, at: number): number => (packed[at]! << 4) | (packed[at + 1]! >> 4);
const countAt = (packed: Buffer, at: number): number => ((packed[at + 1]! & 0x0f) << 16) | (packed[at + 2]! << 8) | packed[at + 3]!;

/**
 * Histogram.percentiles of the packed histograms of a step (one row's, or several rows'),
 * the same values, without summing them into counts: each percentile walks the elements
 * of the step's histograms side by side, from the top for percentiles of 50 and above
 * (p95 passes a few of a row's elements, not all of its buckets). A step of more than
 * MAX_WALKED histograms is summed in one reused Histogram.
 */
export function stepPercentiles(packed: Buffer | readonly Buffer[], percents: readonly number[]): Array<number | null> {
  const columns = percents.map((): Array<number | null> => [null]);
  percentilesInto(packed, percents, columns, 0);
  return columns.map((column) => column[0]!);
}

/**
 * stepPercentiles written into columns[i][index], one column per percent, and with
 * `rounded` to toHistogramPrecision. A series reads tens of thousands of steps: this
 * allocates nothing per step, where an array of results per step was about a third of
 * what a 30-day series per endpoint allocated
 * (bench/reports/grafana-panels.md, "p95 latency per endpoint", 30 d).
 *
 * `total`, when the caller knows it (the rows' request counts), is the number of values
 * the step's whole histograms hold; the walk then does not count them, a pass over every
 * element, and a step of one row may be given only its top (packedTop) for percentiles
 * of 50 and above. A step of more than MAX_WALKED histograms is summed: it must be given
 * them whole.
 */
export function percentilesInto(
  packed: Buffer | readonly Buffer[], percents: readonly number[], columns: Array<Array<number | null>>, index: number, rounded = false,
  total?: number,
): void {
  let parts: readonly Buffer[];
  if (Buffer.isBuffer(packed)) {
    oneStep[0] = packed;
    parts = oneStep;
  } else {
    parts = packed;
  }
  if (parts.length > MAX_WALKED) {
    stepScratch.reset();
    for (const part of parts) stepScratch.addPacked(part);
    for (let i = 0; i < percents.length; i++) {
      const value = stepScratch.percentile(percents[i]! / 100);
      columns[i]![index] = rounded && value !== null ? toHistogramPrecision(value) : value;
    }
    return;
  }
  let values = total ?? 0;
  if (total === undefined) {
    for (const part of parts) {
      const end = part.length - (part.length % 4);
      for (let at = 0; at < end; at += 4) values += countAt(part, at);
    }
  }
  for (let i = 0; i < percents.length; i++) {
    const value = values === 0 ? null : walkedPercentile(parts, values, percents[i]! / 100);
    columns[i]![index] = rounded && value !== null ? toHistogramPrecision(value) : value;
  }
}

/**
 * Histogram.percentile over packed histograms, each in bucket order: the two order
 * statistics around rank q * (total - 1) are met by merging the histograms' elements,
 * ascending, or descending from the top when q >= 0.5.
 */
function walkedPercentile(parts: readonly Buffer[], total: number, q: number): number | null {
  if (!(q >= 0 && q <= 1)) throw new RangeError(`percentile must be between 0 and 1, got ${q}`);
  const rank = q * (total - 1);
  const lo = Math.floor(rank);
  const hi = Math.ceil(rank);
  const down = q >= 0.5;
  // The order statistics as counted from where the walk starts; `first` is met first.
  const first = down ? total - 1 - hi : lo;
  const second = down ? total - 1 - lo : hi;
  for (let i = 0; i < parts.length; i++) {
    const length = parts[i]!.length - (parts[i]!.length % 4);
    cursors[i] = down ? length - 4 : 0;
  }
  let seen = 0;
  let firstValue: number | null = null;
  for (;;) {
    let next = -1;
    let bucket = -1;
    for (let i = 0; i < parts.length; i++) {
      const part = parts[i]!;
      const at = cursors[i]!;
      if (at < 0 || at + 4 > part.length) continue;
      const b = bucketAt(part, at);
      if (next < 0 || (down ? b > bucket : b < bucket)) {
        next = i;
        bucket = b;
      }
    }
    if (next < 0) return null;
    const part = parts[next]!;
    const at = cursors[next]!;
    cursors[next] = down ? at - 4 : at + 4;
    const count = countAt(part, at);
    if (firstValue === null && seen + count > first) firstValue = bucketValue(Math.min(bucket, MAX_BUCKET));
    if (seen + count > second) {
      const secondValue = bucketValue(Math.min(bucket, MAX_BUCKET));
      const loValue = down ? secondValue : firstValue!;
      const hiValue = down ? firstValue! : secondValue;
      return loValue + (rank - lo) * (hiValue - loValue);
    }
    seen += count;
  }
}

/**
 * SQL of the top of one packed histogram (`column`, of a row holding `count` values): its
 * last elements, as many as percentile `q` (at least 0.5) counts down from the top to
 * reach its two order statistics, count - floor(q * (count - 1)) of them (every element
 * holds at least one value). A series step of one row at p95 needs about a twentieth of
 * its row's histogram. Read with percentilesInto(…, count): the walk from
 * the top needs the row's count, and meets both order statistics within these elements.
 * Only for a step of one row: a step of several needs more of each row's top than the
 * row's own count says.
 */
export function packedTop(column: string, count: string, q: string): string {
  return `substring(${column} FROM greatest(1, length(${column}) - 4 * (${count} - floor(${q} * (${count} - 1)))::integer + 1))`;
}

/**
 * SQL of the packed histograms of a group of rows as one bytea, their bytes concatenated.
 * Read with Histogram.addPacked (or stepPercentiles).
 */
export function packedHistograms(column: string): string {
  return `string_agg(${column}, ''::bytea)`;
}

/** One histogram from packed ones. */
export function histogramFromPacked(...packed: Array<Buffer | null | undefined>): Histogram {
  const histogram = new Histogram();
  for (const p of packed) histogram.addPacked(p);
  return histogram;
}
