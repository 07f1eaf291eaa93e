// Ranking by p95 with the stored bounds (src/db/p95Bounds.ts, V0.0.47) gives exactly the
// top N that merging every key's histograms over the range gives: same keys, same order,
// same p95, for fingerprints and endpoints, on constructed rollup rows made to be hard
// (sparse buckets of one or two values, wide and narrow histograms, equal distributions,
// rows without bounds), with and without the coarse running totals of V0.0.48 bounding
// the whole days, and with running totals that no longer hold; and it reads fewer
// histograms when the keys are far apart.
import { endpointTotals } from '../src/db/requestRollups';
import { fingerprintTotals } from '../src/db/queryRollups';
import { segmentCondition, segmentValues } from '../src/db/rollupSegments';
import { RunningTotalsCache } from '../src/db/runningTotalsCache';
import { Histogram, histogramFromText } from '../src/query/histogram';
import { DAY_MS, HOUR_MS, FIVE_MINUTES_MS, rangeSegments, RESOLUTION_MS, type Segment } from '../src/query/timeRange';
import { seededRandom } from '../bench/seededRandom';
import { createTestDatabase, type TestDatabase } from './support/db';

const T = 'd4d4d4d4-0000-4000-8000-000000000004';
let db: TestDatabase;

beforeAll(async () => {
  db = await createTestDatabase('query_p95_ranking');
});

afterAll(async () => {
  await db?.drop();
});

/** bigint[] text of counts per bucket, buckets ascending. */
function histText(counts: Map<number, number>): string {
  const buckets = [...counts.keys()].sort((a, b) => a - b);
  return `{${buckets.map((b) => ((BigInt(b) << 40n) + BigInt(counts.get(b)!)).toString()).join(',')}}`;
}

/** Counts of `n` values around bucket `center` spread over `spread` buckets. */
function values(random: () => number, n: number, center: number, spread: number): Map<number, number> {
  const counts = new Map<number, number>();
  for (let i = 0; i < n; i++) {
    const b = Math.max(1, Math.min(4000, Math.round(center + (random() - 0.5) * 2 * spread)));
    counts.set(b, (counts.get(b) ?? 0) + 1);
  }
  return counts;
}

/** The range used throughout: it has all five kinds of segment. */
const DAY0 = Date.UTC(2026, 5, 1);
const RANGE = { from: new Date(DAY0 + 7 * HOUR_MS + 13 * 60_000), to: new Date(DAY0 + 3 * DAY_MS + 5 * HOUR_MS + 22 * 60_000) };
const SEGMENTS = rangeSegments(RANGE);

/** Buckets of each segment, plus one bucket of each resolution just outside the range (ignored by both). */
function bucketsToFill(): Array<{ resolution: string; bucket: Date }> {
  const out: Array<{ resolution: string; bucket: Date }> = [];
  for (const s of SEGMENTS) {
    for (let t = s.from.getTime(); t < s.to.getTime(); t += RESOLUTION_MS[s.resolution]) out.push({ resolution: s.resolution, bucket: new Date(t) });
  }
  out.push({ resolution: '5m', bucket: new Date(SEGMENTS[0]!.from.getTime() - FIVE_MINUTES_MS) });
  out.push({ resolution: '1h', bucket: new Date(SEGMENTS[4]!.to.getTime() + 2 * HOUR_MS) });
  out.push({ resolution: '1d', bucket: new Date(DAY0 - DAY_MS) });
  return out;
}

type Kind = 'sparse' | 'dense' | 'mixed' | 'twin' | 'split' | 'single';

/** Rollup rows of one key: the kind decides how many values each row holds and where. */
function rowsOf(random: () => number, kind: Kind, center: number): Array<{ resolution: string; bucket: Date; hist: Map<number, number> }> {
  const rows: Array<{ resolution: string; bucket: Date; hist: Map<number, number> }> = [];
  for (const { resolution, bucket } of bucketsToFill()) {
    const fill = kind === 'sparse' ? 0.15 : kind === 'dense' ? 0.9 : 0.5;
    if (random() > fill) continue;
    let hist: Map<number, number>;
    if (kind === 'single') hist = values(random, 1, center, 100);
    else if (kind === 'sparse') hist = values(random, 1 + Math.floor(random() * 2), center, 60);
    else if (kind === 'split') {
      // Two values far apart: the interpolated p95 of such a row lies between them.
      hist = new Map([[Math.max(1, center - 80), 1], [center + 80, 1 + Math.floor(random() * 2)]]);
    } else {
      const n = resolution === '1d' ? 200 + Math.floor(random() * 800) : resolution === '1h' ? 20 + Math.floor(random() * 80) : 1 + Math.floor(random() * 6);
      hist = values(random, n, center, kind === 'mixed' ? 120 : 30);
    }
    rows.push({ resolution, bucket, hist });
  }
  return rows;
}

async function insertRows(table: 'query_metrics_rollup' | 'api_metrics_rollup', key: string, rows: ReturnType<typeof rowsOf>): Promise<void> {
  const n = (h: Map<number, number>) => [...h.values()].reduce((a, b) => a + b, 0);
  if (table === 'query_metrics_rollup') {
    await db.pool.query(
      `INSERT INTO query_metrics_rollup (tenant_id, resolution, bucket, query_hash, calls, total_ms, max_ms, hist)
       SELECT $1::uuid, r, b, $2::bigint, c, c * 3.0, 9, h::bigint[]
         FROM unnest($3::text[], $4::timestamptz[], $5::bigint[], $6::text[]) AS u(r, b, c, h)`,
      [T, key, rows.map((r) => r.resolution), rows.map((r) => r.bucket), rows.map((r) => n(r.hist)), rows.map((r) => histText(r.hist))],
    );
  } else {
    await db.pool.query(
      `INSERT INTO api_metrics_rollup (tenant_id, resolution, bucket, endpoint, requests, sum_ms, max_ms, hist)
       SELECT $1::uuid, r, b, $2::text, c, c * 3.0, 9, h::bigint[]
         FROM unnest($3::text[], $4::timestamptz[], $5::bigint[], $6::text[]) AS u(r, b, c, h)`,
      [T, key, rows.map((r) => r.resolution), rows.map((r) => r.bucket), rows.map((r) => n(r.hist)), rows.map((r) => histText(r.hist))],
    );
  }
}

/**
 * Keys of several kinds; `apart` spreads their centres so that the bounds can prune;
 * `singles`: every key made of rows of one value each, all alike (bounds at their loosest).
 */
async function build(table: 'query_metrics_rollup' | 'api_metrics_rollup', seed: number, keys: number, apart: boolean, singles = false): Promise<void> {
  const random = seededRandom(seed);
  const kinds: Kind[] = singles ? ['single'] : ['sparse', 'dense', 'mixed', 'twin', 'split'];
  const twinCenter = 700;
  for (let i = 0; i < keys; i++) {
    const kind = kinds[i % kinds.length]!;
    const center = apart ? 300 + i * 40 : kind === 'twin' ? twinCenter : 500 + Math.floor(random() * 400);
    const key = table === 'query_metrics_rollup' ? String(1000 + i) : `/api/e${String(i).padStart(3, '0')}`;
    await insertRows(table, key, rowsOf(random, kind, center));
  }
}

async function clear(): Promise<void> {
  await db.pool.query('TRUNCATE query_metrics_rollup, api_metrics_rollup, query_metrics_cumulative, api_metrics_cumulative, rollup_cumulative_state, query_metrics_prefix, api_metrics_prefix');
}

/** Running totals of every day (V0.0.48), as the job cumulate builds them. */
async function cumulate(): Promise<void> {
  await db.pool.query('SELECT * FROM cumulate_rollup_histograms(NULL, 400)');
}

interface Ranked {
  key: string;
  p95: number | null;
}

/** The same ranking as the handlers: p95 descending, then the key. */
function rank(rows: Array<{ key: string; histogram: Histogram }>, limit: number): Ranked[] {
  return rows
    .map((row) => ({ key: row.key, p95: row.histogram.percentile(0.95) }))
    .sort((a, b) => (b.p95 ?? -1) - (a.p95 ?? -1) || a.key.localeCompare(b.key))
    .slice(0, limit);
}

/** Every key's histograms of the range merged, ranked: the reference answer (read as text, not packed). */
async function fullMerge(table: 'query_metrics_rollup' | 'api_metrics_rollup', segments: Segment[], limit: number): Promise<Ranked[]> {
  const keyColumn = table === 'query_metrics_rollup' ? 'query_hash::text' : 'endpoint';
  const counts = table === 'query_metrics_rollup' ? 'calls' : 'requests';
  const result = await db.pool.query<{ key: string; hist_text: string | null }>(
    `SELECT ${keyColumn} AS key, string_agg(r.hist::text, '') AS hist_text
       FROM ${table} r
      WHERE r.tenant_id = $1::uuid AND ${segmentCondition('r', 2)} AND r.${counts} > 0
        ${table === 'api_metrics_rollup' ? "AND r.endpoint <> ''" : ''}
      GROUP BY 1`,
    [T, ...segmentValues(segments)],
  );
  return rank(result.rows.map((r) => ({ key: r.key, histogram: histogramFromText(r.hist_text) })), limit);
}

/**
 * The fixture fills each resolution independently (a day's row is not the sum of its
 * hours'), so the edges must be read as their own rows, not as an enclosing row minus
 * others (src/db/rangeHistograms.ts edgePieces): as "now", a time long after the data,
 * when those finer rows would have expired.
 */
const LONG_AFTER = DAY0 + 1000 * DAY_MS;
/** Running totals read by earlier calls (as the service keeps them per pool). */
const cache = new RunningTotalsCache();

async function boundedFingerprints(segments: Segment[], limit: number): Promise<{ ranked: Ranked[]; candidates: number }> {
  const rows = await fingerprintTotals(db.pool, T, segments, { orderBy: 'p95', limit, endpoint: null, read: { now: LONG_AFTER, cache } });
  return { ranked: rank(rows.map((r) => ({ key: r.queryHash, histogram: r.histogram })), limit), candidates: rows.length };
}

async function boundedEndpoints(segments: Segment[], limit: number): Promise<{ ranked: Ranked[]; candidates: number }> {
  const rows = await endpointTotals(db.pool, T, segments, { orderBy: 'p95', limit, read: { now: LONG_AFTER, cache } });
  return { ranked: rank(rows.map((r) => ({ key: r.endpoint, histogram: r.histogram })), limit), candidates: rows.length };
}

describe('hist_p95_bounds', () => {
  it('gives the buckets of order statistics floor(0.95 (n - 1)) and min(n - 1, ceil(0.95 n))', async () => {
    const random = seededRandom(7);
    for (const n of [1, 2, 3, 19, 20, 21, 40, 101, 1000]) {
      const counts = values(random, n, 400, 200);
      const sorted = [...counts.entries()].sort((a, b) => a[0] - b[0]).flatMap(([b, c]) => Array<number>(c).fill(b));
      const { rows } = await db.pool.query<{ b: number[] }>('SELECT hist_p95_bounds($1::bigint[]) AS b', [histText(counts)]);
      expect([n, rows[0]!.b]).toEqual([n, [sorted[Math.floor(0.95 * (n - 1))], sorted[Math.min(n - 1, Math.ceil(0.95 * n))]]]);
    }
    const { rows } = await db.pool.query<{ b: Array<number | null> }>(`SELECT hist_p95_bounds('{}'::bigint[]) AS b`);
    expect(rows[0]!.b).toEqual([null, null]);
  });

  it('is kept on the rows of both rollups by their triggers', async () => {
    await clear();
    const hist = new Map([[10, 3], [20, 16], [30, 1]]);
    await insertRows('query_metrics_rollup', '5', [{ resolution: '1h', bucket: new Date(DAY0), hist }]);
    await insertRows('api_metrics_rollup', '/x', [{ resolution: '1h', bucket: new Date(DAY0), hist }]);
    for (const table of ['query_metrics_rollup', 'api_metrics_rollup']) {
      const { rows } = await db.pool.query(`SELECT p95_lo_bucket AS lo, p95_hi_bucket AS hi FROM ${table}`);
      // 20 values: order statistics 18 (bucket 20) and 19 (bucket 30).
      expect(rows).toEqual([{ lo: 20, hi: 30 }]);
    }
    await db.pool.query(`UPDATE query_metrics_rollup SET hist = $1::bigint[]`, [histText(new Map([[40, 1]]))]);
    expect((await db.pool.query('SELECT p95_lo_bucket AS lo, p95_hi_bucket AS hi FROM query_metrics_rollup')).rows).toEqual([{ lo: 40, hi: 40 }]);
  });
});

describe('ranking by p95 with the stored bounds', () => {
  const cases: Array<{ seed: number; keys: number; apart: boolean; singles?: boolean }> = [
    { seed: 1, keys: 60, apart: false },
    { seed: 2, keys: 25, apart: false },
    { seed: 3, keys: 40, apart: true },
    { seed: 6, keys: 40, apart: false, singles: true },
    { seed: 7, keys: 40, apart: true, singles: true },
  ];

  for (const { seed, keys, apart, singles } of cases) {
    it(`gives the full merge's top N of fingerprints and of endpoints (seed ${seed}, ${keys} keys${apart ? ', far apart' : ''}${singles ? ', one value per row' : ''})`, async () => {
      await clear();
      await build('query_metrics_rollup', seed, keys, apart, singles);
      await build('api_metrics_rollup', seed + 100, keys, apart, singles);
      for (const withTotals of [false, true]) {
        // Then again with the whole days bounded by coarse running totals.
        if (withTotals) await cumulate();
        for (const limit of [1, 3, 10, keys - 1, keys + 5]) {
          const reference = await fullMerge('query_metrics_rollup', SEGMENTS, limit);
          expect(reference.length).toBe(Math.min(limit, keys));
          expect((await boundedFingerprints(SEGMENTS, limit)).ranked).toEqual(reference);
          expect((await boundedEndpoints(SEGMENTS, limit)).ranked).toEqual(await fullMerge('api_metrics_rollup', SEGMENTS, limit));
        }
      }
    });
  }

  it('reads the histograms of fewer keys than there are when their latencies are far apart', async () => {
    await clear();
    await build('query_metrics_rollup', 3, 40, true);
    await build('api_metrics_rollup', 103, 40, true);
    for (const withTotals of [false, true]) {
      if (withTotals) await cumulate();
      const fingerprints = await boundedFingerprints(SEGMENTS, 3);
      const endpoints = await boundedEndpoints(SEGMENTS, 3);
      expect(fingerprints.candidates).toBeGreaterThanOrEqual(3);
      expect(fingerprints.candidates).toBeLessThan(20);
      expect(endpoints.candidates).toBeGreaterThanOrEqual(3);
      expect(endpoints.candidates).toBeLessThan(20);
    }
  });

  it('treats keys with rows lacking bounds as candidates, and still ranks exactly', async () => {
    await clear();
    await build('query_metrics_rollup', 4, 40, true);
    // The top fingerprint's rows lose their bounds (as rows written without the trigger would),
    // and the running totals of another one no longer hold (a day changed after they were built).
    await cumulate();
    await db.pool.query(`UPDATE query_metrics_rollup SET p95_lo_bucket = NULL, p95_hi_bucket = NULL WHERE query_hash IN (1039, 1005)`);
    await db.pool.query(
      `UPDATE query_metrics_rollup SET calls = calls + 1, hist = hist_merge(hist, $1::bigint[])
        WHERE query_hash = 1038 AND resolution = '1d' AND bucket = (SELECT min(bucket) FROM query_metrics_rollup WHERE query_hash = 1038 AND resolution = '1d')`,
      [histText(new Map([[3000, 1]]))],
    );
    for (const limit of [1, 5]) {
      expect((await boundedFingerprints(SEGMENTS, limit)).ranked).toEqual(await fullMerge('query_metrics_rollup', SEGMENTS, limit));
    }
    const { ranked, candidates } = await boundedFingerprints(SEGMENTS, 1);
    expect(ranked[0]!.key).toBe('1039');
    expect(candidates).toBeGreaterThanOrEqual(2);
  });

  it('takes a running total of no values (a day of count 0 before the range) as an empty histogram', async () => {
    await clear();
    await build('query_metrics_rollup', 8, 30, false);
    await build('api_metrics_rollup', 108, 30, false);
    // A daily row of count 0 and no histogram on the day before the range's first whole
    // day, for keys with rows in the range and no daily row before: the running total
    // the range starts from has no values.
    const before = new Date(SEGMENTS[2]!.from.getTime() - DAY_MS);
    await db.pool.query(`DELETE FROM query_metrics_rollup WHERE resolution = '1d' AND bucket < $1 AND query_hash IN (1000, 1001)`, [SEGMENTS[2]!.from]);
    await db.pool.query(`DELETE FROM api_metrics_rollup WHERE resolution = '1d' AND bucket < $1 AND endpoint IN ('/api/e000', '/api/e001')`, [SEGMENTS[2]!.from]);
    await db.pool.query(`INSERT INTO query_metrics_rollup (tenant_id, resolution, bucket, query_hash, calls, hist) VALUES ($1, '1d', $2, 1000, 0, NULL), ($1, '1d', $2, 1001, 0, NULL)`, [T, before]);
    await db.pool.query(`INSERT INTO api_metrics_rollup (tenant_id, resolution, bucket, endpoint, requests, hist) VALUES ($1, '1d', $2, '/api/e000', 0, NULL), ($1, '1d', $2, '/api/e001', 0, NULL)`, [T, before]);
    await cumulate();
    for (const table of ['query_metrics_cumulative', 'api_metrics_cumulative']) {
      const empty = await db.pool.query(`SELECT count(*)::int AS n FROM ${table} WHERE day = $1 AND hist IS NULL AND coarse IS NULL`, [before]);
      expect([table, empty.rows[0].n]).toEqual([table, 2]);
    }
    for (const limit of [1, 10, 40]) {
      expect((await boundedFingerprints(SEGMENTS, limit)).ranked).toEqual(await fullMerge('query_metrics_rollup', SEGMENTS, limit));
      expect((await boundedEndpoints(SEGMENTS, limit)).ranked).toEqual(await fullMerge('api_metrics_rollup', SEGMENTS, limit));
    }
  });

  it('gives the same answer on a range of whole days only and of a few minutes only', async () => {
    await clear();
    await build('query_metrics_rollup', 5, 30, false);
    for (const range of [
      { from: new Date(DAY0 + DAY_MS), to: new Date(DAY0 + 3 * DAY_MS) },
      { from: new Date(DAY0 + 2 * DAY_MS + 7 * HOUR_MS + 4 * 60_000), to: new Date(DAY0 + 2 * DAY_MS + 7 * HOUR_MS + 31 * 60_000) },
    ]) {
      const segments = rangeSegments(range);
      for (const limit of [1, 10]) {
        expect((await boundedFingerprints(segments, limit)).ranked).toEqual(await fullMerge('query_metrics_rollup', segments, limit));
      }
    }
  });
});
