// Running totals within a day and within an hour (V0.0.53, cumulate_rollup_prefixes) and
// the range edges read from them (src/db/rangeHistograms.ts rangeHistogramSql): what the
// builder writes, that histograms read through them equal those of the edges' own rows,
// that a stale running total is never used, and that they expire with the rollup rows.
import { QUERY_ROLLUP, API_ROLLUP, prefixEdges, rangeHistogramSql, rangeHistogramValues, rangeHistograms, type CumulativeRollup } from '../src/db/rangeHistograms';
import { segmentCondition, segmentValues } from '../src/db/rollupSegments';
import { RunningTotalsCache } from '../src/db/runningTotalsCache';
import { cumulateHistograms, refreshRollups } from '../src/db/rollups';
import { fingerprintTotals } from '../src/db/queryRollups';
import { endpointTotals, requestTotals } from '../src/db/requestRollups';
import { withTenantReadSession } from '../src/db/tenantSession';
import { histogramFromText } from '../src/query/histogram';
import { DAY_MS, HOUR_MS, rangeSegments, type TimeRange } from '../src/query/timeRange';
import { createTestDatabase, type TestDatabase } from './support/db';
import { insertQueries, insertRequests, insertThreeDays, MINUTE } from './support/queryData';

const T = 'e8e8e8e8-0000-4000-8000-000000000008';
const D = Date.UTC(2026, 4, 10);
const at = (day: number, hours: number, minutes = 0) => D + day * DAY_MS + hours * HOUR_MS + minutes * MINUTE;
const range = (from: number, to: number): TimeRange => ({ from: new Date(from), to: new Date(to) });

describe('prefixEdges', () => {
  it('reads edges of at least three buckets as running totals of their day or hour, and shorter ones as rows', () => {
    // 16:40 on day 0 to 16:43 on day 2: 5-minute edges of 4 and 9 buckets (16:40-17:00,
    // 16:00-16:45), hour edges of 7 and 16 hours.
    const now = at(2, 16, 43);
    const { edges, pieces } = prefixEdges(rangeSegments(range(at(0, 16, 40), now)), now);
    expect(edges).toEqual([
      { resolution: '5m', from: at(0, 16, 40), to: at(0, 17), period: at(0, 16) },
      { resolution: '1h', from: at(0, 17), to: at(1, 0), period: at(0, 0) },
      { resolution: '1h', from: at(2, 0), to: at(2, 16), period: at(2, 0) },
      { resolution: '5m', from: at(2, 16), to: at(2, 16, 45), period: at(2, 16) },
    ]);
    // Each edge keeps its own pieces for the keys whose running totals do not hold.
    expect(new Set(pieces.map((p) => p.edge))).toEqual(new Set([1, 2, 3, 4]));
    // A 5-minute edge of two buckets: its rows, for every key (edge 0).
    const short = prefixEdges(rangeSegments(range(at(0, 16, 50), at(1, 3))), at(1, 3));
    expect(short.edges.map((e) => e.resolution)).toEqual(['1h', '1h']);
    expect(short.pieces.filter((p) => p.edge === 0)).toEqual([{ resolution: '5m', from: at(0, 16, 50), to: at(0, 17), sign: 1, edge: 0 }]);
    // Eight days later the 5-minute rows may have expired: the 5-minute edges are rows.
    const later = prefixEdges(rangeSegments(range(at(0, 16, 40), now)), now + 8 * DAY_MS);
    expect(later.edges.map((e) => e.resolution)).toEqual(['1h', '1h']);
  });
});

describe('running totals within a day and an hour', () => {
  let db: TestDatabase;

  beforeAll(async () => {
    db = await createTestDatabase('query_edge_prefixes');
    await insertThreeDays(db.pool, T, at(0, 0));
    await refreshRollups(db.pool);
  });

  afterAll(async () => {
    await db?.drop();
  });

  /** The edges' and days' own rows merged per key (the reference). */
  async function ownRows(rollup: CumulativeRollup, r: TimeRange): Promise<Map<string, string>> {
    const { rows } = await db.pool.query<{ key: string; hist_text: string }>(
      `SELECT r.${rollup.key}::text AS key, string_agg(r.hist::text, '') AS hist_text
         FROM ${rollup.table} r WHERE r.tenant_id = $1::uuid AND r.hist IS NOT NULL AND ${segmentCondition('r', 2)} GROUP BY 1`,
      [T, ...segmentValues(rangeSegments(r))],
    );
    return new Map(rows.map((row) => [row.key, row.hist_text]));
  }

  /** rangeHistograms of the range against the own rows, and the sources of the rows its SQL returned. */
  async function readAndCompare(rollup: CumulativeRollup, r: TimeRange, now: number, cache = new RunningTotalsCache()): Promise<Array<string | null>> {
    const segments = rangeSegments(r);
    const own = await ownRows(rollup, r);
    const keys = [...own.keys()].sort();
    expect(keys.length).toBe(rollup === QUERY_ROLLUP ? 2 : 3);
    const withCounts = keys.map((key) => ({ key, dayCount: 0 }));
    const histograms = await rangeHistograms(db.pool, rollup, T, segments, withCounts, { now, cache });
    for (const key of keys) {
      expect([key, histograms.get(key)!.nonEmpty()]).toEqual([key, histogramFromText(own.get(key)).nonEmpty()]);
    }
    const read = await db.pool.query({ text: rangeHistogramSql(rollup), values: rangeHistogramValues(T, segments, withCounts, now), rowMode: 'array' });
    return read.rows.map((row) => row[5] as string | null);
  }

  it('builds at most maxPeriods periods a run, the newest first', async () => {
    const first = await cumulateHistograms(db.pool, { maxDays: 400, maxPeriods: 2 });
    // Two rollups, two resolutions, one tenant: 2 periods each, all four left unfinished.
    expect([first.periodsBuilt, first.prefixesUnfinished]).toEqual([8, 4]);
    const { rows } = await db.pool.query<{ resolution: string; oldest: Date }>(
      `SELECT resolution, min(bucket) AS oldest FROM query_metrics_prefix WHERE tenant_id = $1 GROUP BY 1 ORDER BY 1`, [T]);
    // The newest periods: day 2's hours (from its first), the 5-minute buckets of day 2's
    // last hour with data (the data ends 23:59 on day 2: the last two hours).
    expect(rows.map((r) => [r.resolution, r.oldest.getTime() >= at(2, 0)])).toEqual([['1h', true], ['5m', true]]);
  });

  it('builds, for each key, the running sums of its hours within each day and of its 5-minute buckets within each hour', async () => {
    const built = await cumulateHistograms(db.pool, { maxDays: 400 });
    expect(built.periodsBuilt).toBeGreaterThan(0);
    expect(built.prefixRows).toBeGreaterThan(0);
    expect(built.prefixesUnfinished).toBe(0);
    for (const rollup of [QUERY_ROLLUP, API_ROLLUP]) {
      // Every rollup row of 1h and 5m has its running total, equal to the sum over its
      // period's rows up to it; periods of no values at all (api: database time of
      // queries without an endpoint) need none.
      const { rows } = await db.pool.query<{ resolution: string; rows: number; missing: number; wrong: number }>(
        `SELECT r.resolution, count(*)::int AS rows,
                count(*) FILTER (WHERE p.bucket IS NULL AND r.want_n > 0)::int AS missing,
                count(*) FILTER (WHERE p.${rollup.count} <> r.want_n OR p.hist::text IS DISTINCT FROM r.want_hist::text)::int AS wrong
           FROM (SELECT r.*, sum(r.${rollup.count}) OVER w AS want_n, hist_union(r.hist) OVER w AS want_hist
                   FROM ${rollup.table} r
                  WHERE r.tenant_id = $1::uuid AND r.resolution IN ('1h', '5m')
                 WINDOW w AS (PARTITION BY r.resolution, r.${rollup.key},
                              date_trunc(CASE r.resolution WHEN '1h' THEN 'day' ELSE 'hour' END, r.bucket, 'UTC') ORDER BY r.bucket)) r
           LEFT JOIN ${rollup.prefix} p ON p.tenant_id = r.tenant_id AND p.resolution = r.resolution AND p.${rollup.key} = r.${rollup.key} AND p.bucket = r.bucket
          GROUP BY 1 ORDER BY 1`,
        [T],
      );
      expect(rows.map((row) => [row.resolution, row.missing, row.wrong])).toEqual([['1h', 0, 0], ['5m', 0, 0]]);
      expect(rows.every((row) => row.rows > 0)).toBe(true);
    }
    // Nothing changed: a second run rebuilds nothing.
    const again = await cumulateHistograms(db.pool, { maxDays: 400 });
    expect([again.periodsBuilt, again.prefixRows]).toEqual([0, 0]);
  });

  for (const rollup of [QUERY_ROLLUP, API_ROLLUP]) {
    it(`${rollup.name}: reads long edges from the running totals, with the same histograms as the rows of the range`, async () => {
      const now = at(2, 16, 43);
      const sources = await readAndCompare(rollup, range(at(0, 16, 40), now), now);
      expect(sources.filter((s) => s === '1h').length).toBeGreaterThan(0);
      expect(sources.filter((s) => s === '5m').length).toBeGreaterThan(0);
      // Within one day too.
      const within = await readAndCompare(rollup, range(at(1, 2, 10), at(1, 20, 50)), at(1, 20, 50));
      expect(within.filter((s) => s === '1h').length).toBeGreaterThan(0);
    });
  }

  it('gives rankings and totals the histograms of the rows', async () => {
    const now = at(2, 16, 43);
    for (const r of [range(at(0, 16, 40), now), range(at(1, 2, 10), at(1, 20, 50)), range(at(0, 3, 25), at(2, 9, 35))]) {
      const segments = rangeSegments(r);
      const read = { now, cache: new RunningTotalsCache() };
      const queries = await ownRows(QUERY_ROLLUP, r);
      const requests = await ownRows(API_ROLLUP, r);
      await withTenantReadSession(db.pool, T, async (session) => {
        for (const orderBy of ['p95', 'total'] as const) {
          const ranked = await fingerprintTotals(session, T, segments, { orderBy, limit: 10, endpoint: null, read });
          expect(ranked.map((f) => f.queryHash).sort()).toEqual(['71', '72']);
          for (const f of ranked) expect([f.queryHash, f.histogram.nonEmpty()]).toEqual([f.queryHash, histogramFromText(queries.get(f.queryHash)).nonEmpty()]);
        }
        for (const orderBy of ['p95', 'requests'] as const) {
          const ranked = await endpointTotals(session, T, segments, { orderBy, limit: 10, read });
          expect(ranked.map((e) => e.endpoint).sort()).toEqual(['/a', '/b']);
          for (const e of ranked) expect([e.endpoint, e.histogram.nonEmpty()]).toEqual([e.endpoint, histogramFromText(requests.get(e.endpoint)).nonEmpty()]);
        }
        const all = await requestTotals(session, T, segments, read);
        expect(all.histogram.nonEmpty()).toEqual(histogramFromText(requests.get('')).nonEmpty());
      });
    }
  });

  it('never uses a running total that late data made stale, and takes the data in at the next run', async () => {
    const now = at(2, 16, 43);
    const r = range(at(0, 16, 40), now);
    // One cache throughout: the bytes held before the late data never stand in for the
    // rebuilt running totals.
    const cache = new RunningTotalsCache();
    for (const rollup of [QUERY_ROLLUP, API_ROLLUP]) await readAndCompare(rollup, r, now, cache);
    const held = cache.size;
    expect(held).toBeGreaterThan(0);
    for (const rollup of [QUERY_ROLLUP, API_ROLLUP]) await readAndCompare(rollup, r, now, cache);
    expect(cache.size).toBe(held);
    // Late requests and queries in an hour of the leading hour edge (day 0, 19:00) and in
    // a bucket of the trailing 5-minute edge (day 2, 16:20).
    const late = [at(0, 19, 31), at(0, 19, 32), at(2, 16, 21)].map((m) => new Date(m));
    await insertRequests(db.pool, T, late.map((m) => ({ at: m, endpoint: '/a', ms: 3000 })));
    await insertQueries(db.pool, T, late.map((m) => ({ at: m, hash: '71', preview: 'SELECT 1', ms: 2500 })));
    await refreshRollups(db.pool);
    for (const rollup of [QUERY_ROLLUP, API_ROLLUP]) {
      const stale = await readAndCompare(rollup, r, now, cache);
      // The other keys still read theirs.
      expect(stale.filter((s) => s === '1h' || s === '5m').length).toBeGreaterThan(0);
    }
    const rebuilt = await cumulateHistograms(db.pool, { maxDays: 400 });
    // The two keys' day 0 and day 2 (hours; api: the endpoint and '' for all) and their
    // 19:00 and 16:00 hours (5-minute buckets), day 0's and day 2's day rows changed too.
    expect(rebuilt.periodsBuilt).toBeGreaterThanOrEqual(4);
    for (const rollup of [QUERY_ROLLUP, API_ROLLUP]) {
      const sources = await readAndCompare(rollup, r, now, cache);
      const key = rollup === QUERY_ROLLUP ? '71' : '/a';
      const { rows } = await db.pool.query({ text: rangeHistogramSql(rollup), values: rangeHistogramValues(T, rangeSegments(r), [{ key, dayCount: 0 }], now), rowMode: 'array' });
      // The late key's four edges are all running totals again: the only rollup row read
      // is its day 1 (whole days come from daily running totals only when their counts
      // are given, here 0).
      expect(rows.filter((row) => row[5] === null).length).toBe(1);
      expect(rows.filter((row) => row[5] === '1h' || row[5] === '5m').length).toBeGreaterThanOrEqual(4);
      expect(sources.length).toBeGreaterThan(0);
    }
  });

  it('expires running totals with the rollup rows of their resolution', async () => {
    const before = await db.pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM query_metrics_prefix WHERE tenant_id = $1 AND resolution = '5m' AND bucket < $2`, [T, new Date(at(1, 0))]);
    expect(before.rows[0]!.n).toBeGreaterThan(0);
    // Day 0's 5-minute rows expire (as maintain_partitions_and_rollups deletes them).
    await db.pool.query(`DELETE FROM query_metrics_rollup WHERE tenant_id = $1 AND resolution = '5m' AND bucket < $2`, [T, new Date(at(1, 0))]);
    await cumulateHistograms(db.pool, { maxDays: 400 });
    const after = await db.pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM query_metrics_prefix WHERE tenant_id = $1 AND resolution = '5m' AND bucket < $2`, [T, new Date(at(1, 0))]);
    expect(after.rows[0]!.n).toBe(0);
    // Hours are kept, and so are their running totals.
    const hours = await db.pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM query_metrics_prefix WHERE tenant_id = $1 AND resolution = '1h' AND bucket < $2`, [T, new Date(at(1, 0))]);
    expect(hours.rows[0]!.n).toBeGreaterThan(0);
    // Expiry in the middle of an hour (its cutoff is not aligned): the hour keeps the
    // running totals of its remaining buckets, which still count the expired ones. They
    // are never read: 5-minute rows are kept at least 8 days, and running totals of
    // 5-minute buckets are read only within 7 days.
    await db.pool.query(`DELETE FROM query_metrics_rollup WHERE tenant_id = $1 AND resolution = '5m' AND bucket < $2`, [T, new Date(at(1, 0, 30))]);
    await cumulateHistograms(db.pool, { maxDays: 400 });
    const left = await db.pool.query<{ n: number; first: Date }>(
      `SELECT count(*)::int AS n, min(bucket) AS first FROM query_metrics_prefix WHERE tenant_id = $1 AND resolution = '5m' AND bucket < $2`, [T, new Date(at(1, 1))]);
    expect([left.rows[0]!.n > 0, left.rows[0]!.first.getTime()]).toEqual([true, at(1, 0, 30)]);
    const eightDaysOn = await readAndCompare(QUERY_ROLLUP, range(at(1, 0, 10), at(1, 20, 50)), at(9, 0));
    expect([eightDaysOn.includes('5m'), eightDaysOn.includes('1h')]).toEqual([false, true]);
  });

  it('builds the running totals of a period whose data starts after its beginning', async () => {
    // Day 0's hours before 05:00 gone (data that began at 05:00): the rest of day 0 still
    // gets its running totals, and an edge in it reads them.
    await db.pool.query(`DELETE FROM query_metrics_rollup WHERE tenant_id = $1 AND resolution = '1h' AND bucket < $2`, [T, new Date(at(0, 5))]);
    await cumulateHistograms(db.pool, { maxDays: 400 });
    const { rows } = await db.pool.query<{ n: number; first: Date }>(
      `SELECT count(*)::int AS n, min(bucket) AS first FROM query_metrics_prefix WHERE tenant_id = $1 AND resolution = '1h' AND bucket < $2`, [T, new Date(at(1, 0))]);
    expect([rows[0]!.n, rows[0]!.first.getTime()]).toEqual([2 * 19, at(0, 5)]);
    const sources = await readAndCompare(QUERY_ROLLUP, range(at(0, 6, 40), at(1, 20, 50)), at(1, 20, 50));
    expect(sources.filter((s) => s === '1h').length).toBeGreaterThan(0);
  });
});
