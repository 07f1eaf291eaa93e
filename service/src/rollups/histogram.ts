// Latency histograms of the rollups, merged and read in the service.
//
// The format and the percentile definition are those of the SQL helpers in
// migrations/V0.0.41__baseline.sql (latency_bucket_value,
// hist_percentile): element = bucket * 2^40 + count, bucket i >= 1 covers
// [0.01 * 1.02^(i-1), 0.01 * 1.02^i) ms. A change there must be reflected here;
// test/histogram.percentiles.test.ts compares the two on the same histograms.
//
// Why not in SQL: merging thousands of histograms with unnest + GROUP BY, and the
// plpgsql percentile, cost orders of magnitude more per element than adding counts here,
// and a 30-day table of endpoints reads about 10^5 elements.
//
// How they travel: packed (PACKED_HISTOGRAMS below), the arrays' binary send form
// (array_send) concatenated and base64-encoded, which PostgreSQL writes and Node decodes
// natively; the decimal text form (hist::text) costs several times more on both sides,
// in writing every element as digits and reading them back. addText still reads it.

const COUNT_MASK = 2 ** 40;
/** Highest bucket latency_bucket() produces. */
export const MAX_BUCKET = 4000;

// Scratch space of the percentile readers: one histogram's non-empty buckets, ascending,
// and their counts (at most MAX_BUCKET + 1 distinct buckets).
const scratchBuckets = new Float64Array(MAX_BUCKET + 1);
const scratchCounts = new Float64Array(MAX_BUCKET + 1);

/**
 * Percentile q in [0, 1] of the n buckets in the scratch arrays holding `total` values:
 * percentile_cont's rank q * (total - 1), each of the two order statistics around it
 * estimated by its bucket's representative value, interpolated. Null when empty.
 */
function scratchPercentile(n: number, total: number, q: number): number | null {
  if (total === 0) return null;
  if (!(q >= 0 && q <= 1)) throw new RangeError(`percentile must be between 0 and 1, got ${q}`);
  const rank = q * (total - 1);
  const lo = Math.floor(rank);
  const hi = Math.ceil(rank);
  let seen = 0;
  let loValue: number | null = null;
  let hiValue: number | null = null;
  for (let i = 0; i < n; i++) {
    const count = scratchCounts[i]!;
    if (loValue === null && seen + count > lo) loValue = bucketValue(scratchBuckets[i]!);
    if (seen + count > hi) {
      hiValue = bucketValue(scratchBuckets[i]!);
      break;
    }
    seen += count;
  }
  if (loValue === null) return null;
  return loValue + (rank - lo) * ((hiValue ?? loValue) - loValue);
}

/** Representative duration (ms) of a bucket, as latency_bucket_value(). */
export function bucketValue(bucket: number): number {
  return bucket <= 0 ? 0 : (2 * 0.01 * Math.pow(1.02, bucket)) / 2.02;
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
   * Adds the histograms of packedHistograms(): one or more bigint[] in array_send's form,
   * base64-encoded (see addSend).
   */
  addPacked(packed: string | null | undefined): void {
    if (!packed) return;
    this.addSend(Buffer.from(packed, 'base64'));
  }

  /**
   * Adds one or more bigint[] histograms in array_send's form, which is also a bigint[]
   * column's binary wire format: dimensions, a has-nulls flag, the element type, then per
   * dimension its length and lower bound, then per element its byte length (-1 for NULL)
   * and 8 bytes big-endian.
   */
  addSend(buf: Buffer): void {
    forEachSendElement(buf, (bucket, count) => this.add(bucket, count));
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
    return scratchPercentile(this.total === 0 ? 0 : this.toScratch(), this.total, q);
  }

  /** Copies the non-empty buckets, ascending, into the scratch arrays; their number. */
  private toScratch(): number {
    let n = 0;
    for (let b = this.low; b <= this.high; b++) {
      const count = this.counts[b]!;
      if (count > 0) {
        scratchBuckets[n] = b;
        scratchCounts[n] = count;
        n++;
      }
    }
    return n;
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
    const n = this.total === 0 ? 0 : this.toScratch();
    return percents.map((p) => scratchPercentile(n, this.total, p / 100));
  }
}

/**
 * Histogram.percentiles of one bigint[] histogram in array_send's form,
 * without building a Histogram (whose counts array costs more than a small histogram):
 * for series of many small ones. Needs the elements in ascending bucket order, as the
 * rollups keep them; undefined when they are not, and the caller uses a Histogram.
 */
export function sendPercentiles(buf: Buffer, percents: readonly number[]): Array<number | null> | undefined {
  let n = 0;
  let total = 0;
  let sorted = true;
  forEachSendElement(buf, (bucket, count) => {
    if (count <= 0 || !sorted) return;
    const b = bucket > MAX_BUCKET ? MAX_BUCKET : bucket < 0 ? 0 : bucket;
    if (n > 0 && b < scratchBuckets[n - 1]!) sorted = false;
    else if (n > MAX_BUCKET) sorted = false;
    else {
      scratchBuckets[n] = b;
      scratchCounts[n] = count;
      n++;
      total += count;
    }
  });
  if (!sorted) return undefined;
  return percents.map((p) => scratchPercentile(n, total, p / 100));
}

const stepScratch = new Histogram();

/**
 * Histogram.percentiles of one or more bigint[] histograms in array_send's form (a step
 * of several rows): sendPercentiles when they are one sorted histogram, else merged in a
 * reused Histogram, so that a series of thousands of steps allocates none.
 */
export function stepPercentiles(buf: Buffer, percents: readonly number[]): Array<number | null> {
  const single = sendPercentiles(buf, percents);
  if (single) return single;
  stepScratch.reset();
  stepScratch.addSend(buf);
  return stepScratch.percentiles(percents);
}

/**
 * Calls fn(bucket, count) for every element of one or more bigint[] histograms in
 * array_send's form (see Histogram.addSend).
 */
export function forEachSendElement(buf: Buffer, fn: (bucket: number, count: number) => void): void {
  let at = 0;
  while (at + 12 <= buf.length) {
    const dimensions = buf.readInt32BE(at);
    at += 12;
    let elements = dimensions > 0 ? 1 : 0;
    for (let d = 0; d < dimensions; d++) {
      elements *= buf.readInt32BE(at);
      at += 8;
    }
    for (let i = 0; i < elements; i++) {
      const length = buf.readInt32BE(at);
      at += 4;
      if (length < 0) continue;
      // element = bucket * 2^40 + count: the high word is bucket * 2^8 + count's top 8 bits.
      const high = buf.readUInt32BE(at);
      const low = buf.readUInt32BE(at + 4);
      at += length;
      fn(Math.floor(high / 256), (high % 256) * 4294967296 + low);
    }
  }
}

/**
 * SQL of the packed histograms of a group of rows: their hist arrays in binary send form,
 * concatenated, as base64 text (PostgreSQL breaks it into lines, which decoding skips).
 * Read with Histogram.addPacked.
 */
export function packedHistograms(column: string): string {
  return `encode(string_agg(array_send(${column}), ''::bytea), 'base64')`;
}

/**
 * SQL of a group of rows' histograms as one bytea: their array_send forms concatenated,
 * read with Histogram.addSend (or sendPercentiles when the group is one row).
 */
export function concatenatedHistograms(column: string): string {
  return `string_agg(array_send(${column}), ''::bytea)`;
}

/** One histogram from text, for the common case of a single read. */
export function histogramFromText(...texts: Array<string | null | undefined>): Histogram {
  const histogram = new Histogram();
  for (const text of texts) histogram.addText(text);
  return histogram;
}

/** One histogram from packedHistograms() values. */
export function histogramFromPacked(...packed: Array<string | null | undefined>): Histogram {
  const histogram = new Histogram();
  for (const p of packed) histogram.addPacked(p);
  return histogram;
}
