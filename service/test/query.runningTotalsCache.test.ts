// Running totals kept in the service once read (src/db/runningTotalsCache.ts): the cache's
// eviction, and range histograms that read a running total's bytes once, then only its
// version, and read it again when the job cumulate has rewritten it.
import { QUERY_ROLLUP, rangeHistograms } from '../src/db/rangeHistograms';
import { cumulateHistograms } from '../src/db/rollups';
import { RunningTotalsCache, runningTotalsCacheFor } from '../src/db/runningTotalsCache';
import type { Queryable } from '../src/db/tenantSession';
import { histogramFromText } from '../src/query/histogram';
import { DAY_MS, HOUR_MS, rangeSegments } from '../src/query/timeRange';
import { createTestDatabase, type TestDatabase } from './support/db';

const T = 'e8e8e8e8-0000-4000-8000-000000000008';
const DAY0 = Date.UTC(2026, 5, 1);
/** Long after the data: its days are settled, and edges are read as their own rows. */
const LATER = DAY0 + 1000 * DAY_MS;

describe('RunningTotalsCache', () => {
  it('drops the least recently used entries beyond its size, and holds nothing larger than it', () => {
    const cache = new RunningTotalsCache(100);
    cache.set('a', Buffer.alloc(40));
    cache.set('b', Buffer.alloc(40));
    expect(cache.get('a')?.length).toBe(40);
    cache.set('c', Buffer.alloc(40));
    // b was the least recently used.
    expect([cache.get('a') !== undefined, cache.get('b') !== undefined, cache.get('c') !== undefined]).toEqual([true, false, true]);
    expect(cache.heldBytes).toBe(80);
    cache.set('d', Buffer.alloc(101));
    expect(cache.get('d')).toBeUndefined();
    expect(cache.size).toBe(2);
  });

  it('is one per pool', () => {
    const a = {};
    expect(runningTotalsCacheFor(a)).toBe(runningTotalsCacheFor(a));
    expect(runningTotalsCacheFor(a)).not.toBe(runningTotalsCacheFor({}));
  });
});

describe('range histograms with the cache', () => {
  let db: TestDatabase;

  beforeAll(async () => {
    db = await createTestDatabase('query_totals_cache');
    // One fingerprint with a daily row on each of 10 days.
    for (let day = 0; day < 10; day++) {
      await db.pool.query(
        `INSERT INTO query_metrics_rollup (tenant_id, resolution, bucket, query_hash, calls, total_ms, max_ms, hist)
         VALUES ($1::uuid, '1d', $2, 91, 4, 40, 20, $3::bigint[])`,
        [T, new Date(DAY0 + day * DAY_MS), `{${[300 + day, 310 + day].map((b) => ((BigInt(b) << 40n) + 2n).toString()).join(',')}}`],
      );
    }
    await cumulateHistograms(db.pool, { maxDays: 400 });
  });

  afterAll(async () => {
    await db?.drop();
  });

  /** Statements run through a Queryable, counted. */
  function counting(): { db: Queryable; statements: () => number } {
    let n = 0;
    return {
      db: { query: ((...args: Parameters<Queryable['query']>) => { n++; return (db.pool.query as (...a: unknown[]) => unknown)(...args); }) as Queryable['query'] },
      statements: () => n,
    };
  }

  async function reference(from: number, to: number): Promise<ReturnType<ReturnType<typeof histogramFromText>['nonEmpty']>> {
    const { rows } = await db.pool.query(
      `SELECT string_agg(hist::text, '') AS t FROM query_metrics_rollup WHERE tenant_id = $1::uuid AND resolution = '1d' AND bucket >= $2 AND bucket < $3`,
      [T, new Date(from), new Date(to)],
    );
    return histogramFromText(rows[0].t).nonEmpty();
  }

  /** Days 2..8 as whole days (the range ends at noon on day 9). */
  const segments = rangeSegments({ from: new Date(DAY0 + 2 * DAY_MS), to: new Date(DAY0 + 9 * DAY_MS + 12 * HOUR_MS) });
  const dayCount = async () => Number((await db.pool.query(
    `SELECT sum(calls) AS n FROM query_metrics_rollup WHERE tenant_id = $1::uuid AND resolution = '1d' AND bucket >= $2 AND bucket < $3`,
    [T, new Date(DAY0 + 2 * DAY_MS), new Date(DAY0 + 9 * DAY_MS)],
  )).rows[0].n);

  it('reads the running totals\' bytes once, then their versions only, with the same answer', async () => {
    const cache = new RunningTotalsCache();
    const keys = [{ key: '91', dayCount: await dayCount() }];
    const first = counting();
    const cold = await rangeHistograms(first.db, QUERY_ROLLUP, T, segments, keys, { now: LATER, cache });
    expect(first.statements()).toBe(2);
    expect(cache.size).toBe(2);
    const second = counting();
    const warm = await rangeHistograms(second.db, QUERY_ROLLUP, T, segments, keys, { now: LATER, cache });
    expect(second.statements()).toBe(1);
    const expected = await reference(DAY0 + 2 * DAY_MS, DAY0 + 9 * DAY_MS);
    expect(cold.get('91')!.nonEmpty()).toEqual(expected);
    expect(warm.get('91')!.nonEmpty()).toEqual(expected);
  });

  it('reads a running total again once cumulate has rewritten it (late data), never the bytes it held', async () => {
    const cache = new RunningTotalsCache();
    const before = await rangeHistograms(db.pool, QUERY_ROLLUP, T, segments, [{ key: '91', dayCount: await dayCount() }], { now: LATER, cache });
    await db.pool.query(
      `UPDATE query_metrics_rollup SET calls = calls + 3, hist = hist_merge(hist, $2::bigint[])
        WHERE tenant_id = $1::uuid AND query_hash = 91 AND resolution = '1d' AND bucket = $3`,
      [T, `{${((700n << 40n) + 3n).toString()}}`, new Date(DAY0 + 5 * DAY_MS)],
    );
    const rebuilt = await cumulateHistograms(db.pool, { maxDays: 400 });
    expect(rebuilt.rebuilt).toBe(1);
    const after = await rangeHistograms(db.pool, QUERY_ROLLUP, T, segments, [{ key: '91', dayCount: await dayCount() }], { now: LATER, cache });
    const expected = await reference(DAY0 + 2 * DAY_MS, DAY0 + 9 * DAY_MS);
    expect(after.get('91')!.nonEmpty()).toEqual(expected);
    expect(after.get('91')!.total).toBe(before.get('91')!.total + 3);
    // The end total is a new version; the start total (day 1) was not rewritten.
    expect(cache.size).toBe(3);
  });
});
