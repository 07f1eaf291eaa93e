// Running totals of the daily histograms (V0.0.48) kept in the service once read.
//
// A percentile over a long range reads, per key, two running totals (through the range's
// last whole day and through the day before its first), and a ranking by p95 reads the
// coarse form of both for every key: hundreds of kilobytes a request for the benchmark's
// 200 fingerprints (twice that as hex on the wire). They change only when the job
// `cumulate` writes them, so the reads
// first ask which row versions they need (day and xmin of each running-total row, in the
// request's snapshot) and fetch only the bytes of versions not held here. A row's
// version (its xmin) never changes while the row does not: cumulate rewrites a row as a
// new version with a new xmin, so a held entry can never stand for other bytes. The
// running totals within a day or an hour (V0.0.53) are held the same way, their version
// being the count of their period's enclosing row when they were built (period_n): the
// same count means the same rollup rows, so the same bytes.
//
// One cache per pool (per database); least recently used entries go first beyond
// MAX_BYTES.

/** Bytes of histograms held per pool at most. */
export const MAX_BYTES = 32 * 2 ** 20;

export class RunningTotalsCache {
  private readonly entries = new Map<string, Buffer>();
  private bytes = 0;

  constructor(private readonly maxBytes = MAX_BYTES) {}

  /** The bytes of one row version, or undefined when not held. */
  get(id: string): Buffer | undefined {
    const found = this.entries.get(id);
    if (found) {
      // Most recently used last.
      this.entries.delete(id);
      this.entries.set(id, found);
    }
    return found;
  }

  set(id: string, bytes: Buffer): void {
    const old = this.entries.get(id);
    if (old) {
      this.bytes -= old.length;
      this.entries.delete(id);
    }
    if (bytes.length > this.maxBytes) return;
    this.entries.set(id, bytes);
    this.bytes += bytes.length;
    for (const [oldest, held] of this.entries) {
      if (this.bytes <= this.maxBytes) break;
      this.entries.delete(oldest);
      this.bytes -= held.length;
    }
  }

  get size(): number {
    return this.entries.size;
  }

  get heldBytes(): number {
    return this.bytes;
  }
}

/** Identity of one running-total row version (xmin, or period_n within a day or an hour) and column, for the cache. */
export function versionId(rollup: string, column: 'hist' | 'coarse', tenantId: string, key: string, day: Date, xmin: string): string {
  return `${rollup}|${column}|${tenantId}|${key}|${day.getTime()}|${xmin}`;
}

const caches = new WeakMap<object, RunningTotalsCache>();

/** The cache of one pool (created on first use). */
export function runningTotalsCacheFor(pool: object): RunningTotalsCache {
  let cache = caches.get(pool);
  if (!cache) caches.set(pool, (cache = new RunningTotalsCache()));
  return cache;
}
