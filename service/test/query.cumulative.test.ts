// Running totals of the daily histograms (V0.0.48, cumulate_rollup_histograms) and the
// reads built on them (src/db/rangeHistograms.ts): the totals equal the sum of the daily
// rows through each day; a range's histograms are the same whether the totals are
// built, partly built, stale or expired; the totals are read (two rows per key) only
// when they hold; late data makes the next run rebuild from the day it reached.
import { COARSE_SHIFT, QUERY_ROLLUP, API_ROLLUP, rangeHistogramSql, rangeHistogramValues, rangeHistograms, type CumulativeRollup } from '../src/db/rangeHistograms';
import { segmentCondition, segmentValues } from '../src/db/rollupSegments';
import { RunningTotalsCache } from '../src/db/runningTotalsCache';
import { cumulateHistograms } from '../src/db/rollups';
import { histogramFromText, type Histogram } from '../src/query/histogram';
import { DAY_MS, HOUR_MS, rangeSegments, type Segment } from '../src/query/timeRange';
import { createTestDatabase, type TestDatabase } from './support/db';

const T = 'e5e5e5e5-0000-4000-8000-000000000005';
const OTHER = 'e5e5e5e5-0000-4000-8000-000000000006';
const DAY0 = Date.UTC(2026, 2, 1);
/** Long after the data: every day of it has settled. */
const LATER = new Date(DAY0 + 40 * DAY_MS);
let db: TestDatabase;

beforeAll(async () => {
  db = await createTestDatabase('query_cumulative');
});

afterAll(async () => {
  await db?.drop();
});

function histText(counts: Array<[number, number]>): string {
  return `{${counts.map(([b, n]) => ((BigInt(b) << 40n) + BigInt(n)).toString()).join(',')}}`;
}

/** Deterministic counts for a key and a row: a few buckets around a centre that moves by day. */
function countsOf(key: number, index: number): Array<[number, number]> {
  const centre = 300 + key * 20 + (index % 7) * 5;
  return [[centre - 9, 1 + (index % 3)], [centre, 5 + key + (index % 4)], [centre + 13, 1 + ((index + key) % 2)]];
}

async function insert(tenant: string, rollup: CumulativeRollup, key: string, resolution: string, bucket: number, counts: Array<[number, number]>): Promise<void> {
  const n = counts.reduce((sum, [, c]) => sum + c, 0);
  if (rollup === QUERY_ROLLUP) {
    await db.pool.query(
      `INSERT INTO query_metrics_rollup (tenant_id, resolution, bucket, query_hash, calls, total_ms, max_ms, hist)
       VALUES ($1::uuid, $2, $3, $4::bigint, $5::bigint, $5::bigint * 2.0, 9, $6::bigint[])`,
      [tenant, resolution, new Date(bucket), key, n, histText(counts)],
    );
  } else {
    await db.pool.query(
      `INSERT INTO api_metrics_rollup (tenant_id, resolution, bucket, endpoint, requests, sum_ms, max_ms, hist)
       VALUES ($1::uuid, $2, $3, $4, $5::bigint, $5::bigint * 2.0, 9, $6::bigint[])`,
      [tenant, resolution, new Date(bucket), key, n, histText(counts)],
    );
  }
}

const QUERY_KEYS = ['11', '12', '13'];
const API_KEYS = ['', '/a', '/b'];

/**
 * 20 days of daily rows (key 13 skips every third day), hours on days 20 and 21, and
 * 5-minute buckets on day 21, for both rollups and two tenants.
 */
async function load(): Promise<void> {
  await db.pool.query('TRUNCATE query_metrics_rollup, api_metrics_rollup, query_metrics_cumulative, api_metrics_cumulative, rollup_cumulative_state, query_metrics_prefix, api_metrics_prefix');
  for (const tenant of [T, OTHER]) {
    for (const [rollup, keys] of [[QUERY_ROLLUP, QUERY_KEYS], [API_ROLLUP, API_KEYS]] as const) {
      for (const [k, key] of keys.entries()) {
        for (let day = 0; day < 20; day++) {
          if (k === 2 && day % 3 === 1) continue;
          await insert(tenant, rollup, key, '1d', DAY0 + day * DAY_MS, countsOf(k, day));
        }
        for (let hour = 0; hour < 30; hour += 2) await insert(tenant, rollup, key, '1h', DAY0 + 20 * DAY_MS + hour * HOUR_MS, countsOf(k, 100 + hour));
        for (let m = 0; m < 60; m += 10) await insert(tenant, rollup, key, '5m', DAY0 + 21 * DAY_MS + 6 * HOUR_MS + m * 60_000, countsOf(k, 200 + m));
      }
    }
  }
}

/** The reference: every rollup row of the range's pieces merged per key, read as text. */
async function merged(rollup: CumulativeRollup, segments: Segment[]): Promise<Map<string, Histogram>> {
  const { rows } = await db.pool.query<{ key: string; hist_text: string }>(
    `SELECT r.${rollup.key}::text AS key, string_agg(r.hist::text, '') AS hist_text
       FROM ${rollup.table} r WHERE r.tenant_id = $1::uuid AND ${segmentCondition('r', 2)} GROUP BY 1`,
    [T, ...segmentValues(segments)],
  );
  return new Map(rows.map((r) => [r.key, histogramFromText(r.hist_text)]));
}

/** Counts of each day row's keys before m, as the callers compute them (dayCountSql). */
async function dayCounts(rollup: CumulativeRollup, segments: Segment[], keys: string[]): Promise<Array<{ key: string; dayCount: number }>> {
  const { rows } = await db.pool.query<{ key: string; n: number }>(
    `WITH lim AS (SELECT greatest($2::timestamptz, least($3::timestamptz,
                         coalesce((SELECT built_until FROM rollup_cumulative_state WHERE tenant_id = $1::uuid AND rollup = $4), $2::timestamptz))) AS m)
     SELECT r.${rollup.key}::text AS key, sum(r.${rollup.count})::float8 AS n
       FROM ${rollup.table} r, lim
      WHERE r.tenant_id = $1::uuid AND r.resolution = '1d' AND r.bucket >= $2 AND r.bucket < lim.m
      GROUP BY 1`,
    [T, segments[2]!.from, segments[2]!.to, rollup.name],
  );
  const counts = new Map(rows.map((r) => [r.key, r.n]));
  return keys.map((key) => ({ key, dayCount: counts.get(key) ?? 0 }));
}

/**
 * The fixture fills each resolution independently (a day's row is not the sum of its
 * hours'), so the edges must be read as their own rows, not as an enclosing row minus
 * others (src/db/rangeHistograms.ts edgePieces, tested in query.edgePieces.test.ts): as
 * "now", a time long after the data, when those finer rows would have expired.
 */
const LONG_AFTER = DAY0 + 1000 * DAY_MS;

/** rangeHistograms for the keys, and how many histogram rows its SQL returned per key. */
async function read(rollup: CumulativeRollup, segments: Segment[], keys: string[]): Promise<{ histograms: Map<string, Histogram>; rowsPerKey: Map<string, number> }> {
  const withCounts = await dayCounts(rollup, segments, keys);
  const histograms = await rangeHistograms(db.pool, rollup, T, segments, withCounts, { now: LONG_AFTER, cache: new RunningTotalsCache() });
  const { rows } = await db.pool.query<{ key: string }>({
    text: rangeHistogramSql(rollup),
    values: rangeHistogramValues(T, segments, withCounts, LONG_AFTER),
  });
  const rowsPerKey = new Map<string, number>();
  for (const row of rows) {
    const key = Object.values(row)[0] as string;
    rowsPerKey.set(key, (rowsPerKey.get(key) ?? 0) + 1);
  }
  return { histograms, rowsPerKey };
}

function expectSame(actual: Map<string, Histogram>, expected: Map<string, Histogram>, keys: string[]): void {
  for (const key of keys) {
    expect([key, actual.get(key)!.nonEmpty()]).toEqual([key, expected.get(key)!.nonEmpty()]);
  }
}

/** 2 days 5 hours 10 minutes into the data, to 21 days 6 hours 30 minutes: all five pieces. */
const RANGE = { from: new Date(DAY0 + 2 * DAY_MS + 5 * HOUR_MS + 10 * 60_000), to: new Date(DAY0 + 21 * DAY_MS + 6 * HOUR_MS + 30 * 60_000) };
/** Rollup rows of a key at the range's end: 3 hourly and 3 five-minute rows. */
const EDGES = 6;

describe('cumulate_rollup_histograms', () => {
  beforeEach(load);

  it('makes each key\'s running total the sum of its daily rows through that day, and its coarse form', async () => {
    const result = await cumulateHistograms(db.pool, { maxDays: 400 });
    expect(result.daysBuilt).toBe(2 * 2 * 20);
    expect(result.rebuilt).toBe(0);
    for (const rollup of [QUERY_ROLLUP, API_ROLLUP]) {
      const { rows } = await db.pool.query<{ key: string; day: Date; same: boolean; coarse: boolean; n: string; expected: string }>(
        `SELECT c.${rollup.key}::text AS key, c.day,
                c.hist = (SELECT hist_union(r.hist ORDER BY r.bucket) FROM ${rollup.table} r
                           WHERE r.tenant_id = c.tenant_id AND r.${rollup.key} = c.${rollup.key} AND r.resolution = '1d' AND r.bucket <= c.day) AS same,
                c.coarse = hist_coarsen(c.hist, $2) AS coarse,
                c.${rollup.count} AS n,
                (SELECT sum(r.${rollup.count}) FROM ${rollup.table} r
                  WHERE r.tenant_id = c.tenant_id AND r.${rollup.key} = c.${rollup.key} AND r.resolution = '1d' AND r.bucket <= c.day) AS expected
           FROM ${rollup.cumulative} c WHERE c.tenant_id = $1::uuid ORDER BY 1, 2`,
        [T, COARSE_SHIFT],
      );
      // Key 3 has no row (and no running total) on the days it skipped.
      expect(rows.length).toBe(20 + 20 + 13);
      for (const row of rows) expect([row.key, row.day, row.same, row.coarse, row.n]).toEqual([row.key, row.day, true, true, row.expected]);
    }
    const { rows: states } = await db.pool.query(`SELECT rollup, built_until FROM rollup_cumulative_state WHERE tenant_id = $1::uuid ORDER BY 1`, [T]);
    // Now is long after the data: every day up to today's is settled.
    expect(states.map((s) => s.rollup)).toEqual(['api', 'query']);
    for (const s of states) expect(s.built_until.getTime()).toBeGreaterThan(DAY0 + 20 * DAY_MS);
  });

  it('builds only days that ended an hour ago, at most p_max_days per run, and goes on where it stopped', async () => {
    const now = new Date(DAY0 + 12 * DAY_MS + 30 * 60_000); // day 11 ended 30 minutes ago: not settled
    const first = await db.pool.query(`SELECT * FROM cumulate_rollup_histograms($1::uuid, 4, $2) WHERE rollup = 'query'`, [T, now]);
    expect(first.rows).toEqual([{ tenant_id: T, rollup: 'query', rebuilt_from: null, days_built: 4, built_until: new Date(DAY0 + 4 * DAY_MS) }]);
    const second = await db.pool.query(`SELECT * FROM cumulate_rollup_histograms($1::uuid, 100, $2) WHERE rollup = 'query'`, [T, now]);
    expect(second.rows[0]).toMatchObject({ days_built: 7, built_until: new Date(DAY0 + 11 * DAY_MS) });
    const { rows } = await db.pool.query(`SELECT max(day) AS last FROM query_metrics_cumulative WHERE tenant_id = $1::uuid`, [T]);
    expect(rows[0].last).toEqual(new Date(DAY0 + 10 * DAY_MS));
    await expect(db.pool.query(`SELECT * FROM cumulate_rollup_histograms(NULL, 0)`)).rejects.toThrow(/p_max_days must be at least 1, got 0/);
  });

  it('rebuilds from the first day whose daily rows changed after it was built', async () => {
    await cumulateHistograms(db.pool, { maxDays: 400 });
    await db.pool.query(
      `UPDATE query_metrics_rollup SET calls = calls + 2, hist = hist_merge(hist, $2::bigint[])
        WHERE tenant_id = $1::uuid AND query_hash = 12 AND resolution = '1d' AND bucket = $3`,
      [T, histText([[999, 2]]), new Date(DAY0 + 6 * DAY_MS)],
    );
    const { rows } = await db.pool.query(`SELECT * FROM cumulate_rollup_histograms($1::uuid, 400, $2) ORDER BY rollup`, [T, LATER]);
    expect(rows.map((r) => [r.rollup, r.rebuilt_from, r.days_built])).toEqual([
      ['api', null, 0],
      ['query', new Date(DAY0 + 6 * DAY_MS), 14],
    ]);
    const { rows: check } = await db.pool.query(
      `SELECT bool_and(c.hist = (SELECT hist_union(r.hist ORDER BY r.bucket) FROM query_metrics_rollup r
                                  WHERE r.tenant_id = c.tenant_id AND r.query_hash = c.query_hash AND r.resolution = '1d' AND r.bucket <= c.day)) AS ok
         FROM query_metrics_cumulative c WHERE c.tenant_id = $1::uuid`,
      [T],
    );
    expect(check[0].ok).toBe(true);
  });

  it('expires running totals with the daily rollups, keeping the newest before the cutoff as the base', async () => {
    await cumulateHistograms(db.pool, { maxDays: 400 });
    // 400 days after day 10: the cutoff is day 10.
    const now = new Date(DAY0 + 410 * DAY_MS + 2 * HOUR_MS);
    await db.pool.query(`SELECT * FROM cumulate_rollup_histograms($1::uuid, 400, $2)`, [T, now]);
    const { rows } = await db.pool.query(
      `SELECT query_hash::text AS key, min(day) AS first FROM query_metrics_cumulative WHERE tenant_id = $1::uuid GROUP BY 1 ORDER BY 1`,
      [T],
    );
    // Day 9 is every key's newest before day 10 (key 13 has none on day 10 itself).
    expect(rows).toEqual([
      { key: '11', first: new Date(DAY0 + 9 * DAY_MS) },
      { key: '12', first: new Date(DAY0 + 9 * DAY_MS) },
      { key: '13', first: new Date(DAY0 + 9 * DAY_MS) },
    ]);
    const { rows: other } = await db.pool.query(`SELECT count(*)::int AS n FROM query_metrics_cumulative WHERE tenant_id = $1::uuid`, [OTHER]);
    expect(other[0].n).toBe(53);
  });
});

describe('range histograms (src/db/rangeHistograms.ts)', () => {
  beforeEach(load);
  const segments = rangeSegments(RANGE);

  for (const rollup of [QUERY_ROLLUP, API_ROLLUP]) {
    const keys = rollup === QUERY_ROLLUP ? QUERY_KEYS : API_KEYS;

    it(`${rollup.name}: the same histograms with no running totals, part of them, all of them, and reads two per key for the days`, async () => {
      const expected = await merged(rollup, segments);
      const none = await read(rollup, segments, keys);
      expectSame(none.histograms, expected, keys);

      await db.pool.query(`SELECT * FROM cumulate_rollup_histograms($1::uuid, 6)`, [T]);
      const part = await read(rollup, segments, keys);
      expectSame(part.histograms, expected, keys);

      await cumulateHistograms(db.pool, { maxDays: 400 });
      const all = await read(rollup, segments, keys);
      expectSame(all.histograms, expected, keys);
      // Days 3..19 (17 daily rows of the first key) become two running totals; the edges
      // stay rows: hours 0, 2 and 4 of day 21 and its 5-minute buckets 6:00, 6:10, 6:20.
      expect(none.rowsPerKey.get(keys[0]!)).toBe(17 + EDGES);
      expect(all.rowsPerKey.get(keys[0]!)).toBe(2 + EDGES);
    });

    it(`${rollup.name}: late data in a built day is read from the daily rows until the next run rebuilds it`, async () => {
      await cumulateHistograms(db.pool, { maxDays: 400 });
      const late = keys[1]!;
      await db.pool.query(
        `UPDATE ${rollup.table} SET ${rollup.count} = ${rollup.count} + 3, hist = hist_merge(hist, $2::bigint[])
          WHERE tenant_id = $1::uuid AND ${rollup.key}::text = $3 AND resolution = '1d' AND bucket = $4`,
        [T, histText([[700, 3]]), late, new Date(DAY0 + 9 * DAY_MS)],
      );
      const expected = await merged(rollup, segments);
      const stale = await read(rollup, segments, keys);
      expectSame(stale.histograms, expected, keys);
      expect(stale.rowsPerKey.get(late)).toBe(17 + EDGES);
      expect(stale.rowsPerKey.get(keys[0]!)).toBe(2 + EDGES);

      await cumulateHistograms(db.pool, { maxDays: 400 });
      const rebuilt = await read(rollup, segments, keys);
      expectSame(rebuilt.histograms, expected, keys);
      expect(rebuilt.rowsPerKey.get(late)).toBe(2 + EDGES);
    });
  }

  it('gives the same histograms over a range starting before the expiry cutoff, from the daily rows', async () => {
    await cumulateHistograms(db.pool, { maxDays: 400 });
    await db.pool.query(`SELECT * FROM cumulate_rollup_histograms($1::uuid, 400, $2)`, [T, new Date(DAY0 + 410 * DAY_MS + 2 * HOUR_MS)]);
    // The daily rows before the cutoff go too, as maintain_performance_partitions deletes them.
    await db.pool.query(`DELETE FROM query_metrics_rollup WHERE resolution = '1d' AND bucket < $1`, [new Date(DAY0 + 10 * DAY_MS)]);
    const expected = await merged(QUERY_ROLLUP, segments);
    const { histograms, rowsPerKey } = await read(QUERY_ROLLUP, segments, QUERY_KEYS);
    expectSame(histograms, expected, QUERY_KEYS);
    // The totals through day 19 include days that are gone: not used; days 10..19 are read.
    expect(rowsPerKey.get('11')).toBe(10 + EDGES);
    const later = rangeSegments({ from: new Date(DAY0 + 12 * DAY_MS), to: RANGE.to });
    const fromCutoff = await read(QUERY_ROLLUP, later, QUERY_KEYS);
    expectSame(fromCutoff.histograms, await merged(QUERY_ROLLUP, later), QUERY_KEYS);
    expect(fromCutoff.rowsPerKey.get('11')).toBe(2 + EDGES);
  });
});
