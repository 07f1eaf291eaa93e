// The service computes percentiles from rollup histograms itself (src/query/histogram.ts)
// for speed; they must be the SQL helpers' percentiles (hist_percentile, hist_merge in
// V0.0.41) on the same histograms.
import { Histogram, histogramFromPacked, histogramFromText, packedHistograms } from '../src/rollups/histogram';
import { createTestDatabase, type TestDatabase } from './support/db';

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase('histogram');
});
afterAll(async () => db.drop());

/** A deterministic pseudo-random histogram as PostgreSQL text. */
function randomHistogram(seed: number, buckets: number): string {
  let state = seed;
  const next = () => (state = (state * 1103515245 + 12345) % 2147483648) / 2147483648;
  const chosen = new Set<number>();
  while (chosen.size < buckets) chosen.add(1 + Math.floor(next() * 600));
  const elements = [...chosen].sort((a, b) => a - b).map((b) => BigInt(b) * 2n ** 40n + BigInt(1 + Math.floor(next() * 5000)));
  return `{${elements.join(',')}}`;
}

describe('percentiles from histograms', () => {
  const quantiles = [0, 0.01, 0.5, 0.9, 0.95, 0.99, 0.999, 1];

  it.each([1, 2, 7, 40, 300])('equal hist_percentile on a histogram of %i buckets', async (buckets) => {
    const text = randomHistogram(buckets * 31, buckets);
    const sql = await db.pool.query(
      `SELECT array_agg(hist_percentile($1::bigint[], q) ORDER BY ord)::float8[] AS p FROM unnest($2::float8[]) WITH ORDINALITY AS u(q, ord)`,
      [text, quantiles]);
    const ours = histogramFromText(text);
    quantiles.forEach((q, i) => expect(ours.percentile(q)).toBeCloseTo(sql.rows[0].p[i], 9));
  });

  it('equal hist_percentile of hist_merge when several histograms are added', async () => {
    const texts = [randomHistogram(1, 30), randomHistogram(2, 50), randomHistogram(3, 5)];
    const sql = await db.pool.query(
      `SELECT hist_percentile(hist_merge(hist_merge($1::bigint[], $2::bigint[]), $3::bigint[]), 0.95) AS p`, texts);
    expect(histogramFromText(texts.join('')).percentile(0.95)).toBeCloseTo(sql.rows[0].p, 9);
    const added = new Histogram();
    for (const t of texts) added.addText(t);
    expect(added.percentile(0.95)).toBeCloseTo(sql.rows[0].p, 9);
  });

  it('read packed (array_send, base64) are the same histograms as read from text', async () => {
    const texts = [randomHistogram(11, 300), '{}', randomHistogram(12, 1), randomHistogram(13, 40), `{${2n ** 40n * 4000n + 2n ** 39n}}`];
    const { rows } = await db.pool.query<{ packed: string; text: string }>(
      `SELECT ${packedHistograms('h')} AS packed, string_agg(h::text, '') AS text
         FROM unnest($1::text[]) WITH ORDINALITY AS u(t, ord), LATERAL (SELECT t::bigint[] AS h) x`,
      [texts]);
    expect(rows[0]!.packed).toMatch(/\n/);
    const packed = histogramFromPacked(rows[0]!.packed);
    const text = histogramFromText(rows[0]!.text);
    expect(packed.total).toBe(text.total);
    expect(packed.total).toBeGreaterThan(2 ** 39);
    expect(packed.percentiles([0, 1, 50, 95, 99.9, 100])).toEqual(text.percentiles([0, 1, 50, 95, 99.9, 100]));
    expect(histogramFromPacked(null).total).toBe(0);
  });

  it('are within 1 % of percentile_cont over the raw durations', async () => {
    const durations = Array.from({ length: 2000 }, (_, i) => 0.5 + ((i * 7919) % 1000) * 1.37);
    const sql = await db.pool.query(
      `SELECT hist_from_buckets(array_agg(latency_bucket(d)))::text AS hist,
              percentile_cont(0.95) WITHIN GROUP (ORDER BY d) AS exact
         FROM unnest($1::float8[]) d`, [durations]);
    const ours = histogramFromText(sql.rows[0].hist).percentile(0.95)!;
    expect(Math.abs(ours - sql.rows[0].exact) / sql.rows[0].exact).toBeLessThan(0.01);
  });

  it('are null for no data and refuse a quantile outside 0..1', () => {
    expect(histogramFromText(null).percentile(0.5)).toBeNull();
    expect(histogramFromText('{}').percentile(0.5)).toBeNull();
    expect(() => histogramFromText('{1099511627777}').percentile(1.5)).toThrow(RangeError);
  });
});

describe('stored percentiles of the request rollups (V0.0.43)', () => {
  it('hist_percentiles equals hist_percentile for each of several quantiles', async () => {
    for (const buckets of [1, 3, 50, 400]) {
      const text = randomHistogram(buckets * 7, buckets);
      const quantiles = [0, 0.5, 0.9, 0.95, 0.99, 1];
      const result = await db.pool.query(
        `SELECT hist_percentiles($1::bigint[], $2::float8[]) AS many,
                (SELECT array_agg(hist_percentile($1::bigint[], q) ORDER BY ord) FROM unnest($2::float8[]) WITH ORDINALITY AS u(q, ord)) AS one_by_one`,
        [text, quantiles]);
      result.rows[0].many.forEach((value: number, i: number) => expect(value).toBeCloseTo(result.rows[0].one_by_one[i], 9));
    }
    await expect(db.pool.query(`SELECT hist_percentiles('{1099511627777}', '{0.9,0.5}')`)).rejects.toThrow(/ascending/);
  });

  it('hist_percentiles equals hist_percentile on histograms of a few values, where neighbouring order statistics lie in different buckets (V0.0.49)', async () => {
    // Two values, 10 and 1000 ms: p95 lies 95 % of the way from one to the other.
    const two = `{${[349n, 582n].map((b) => b * 2n ** 40n + 1n).join(',')}}`;
    const pair = await db.pool.query(`SELECT hist_percentiles($1::bigint[], '{0.5,0.95}') AS many, hist_percentile($1::bigint[], 0.95) AS p95`, [two]);
    expect(pair.rows[0].many[1]).toBeCloseTo(pair.rows[0].p95, 9);
    expect(pair.rows[0].many[1]).toBeLessThan(960);
    for (let seed = 1; seed <= 40; seed++) {
      let state = seed;
      const next = () => (state = (state * 1103515245 + 12345) % 2147483648) / 2147483648;
      const buckets = new Set<number>();
      while (buckets.size < 2 + (seed % 9)) buckets.add(1 + Math.floor(next() * 600));
      const text = `{${[...buckets].sort((a, b) => a - b).map((b) => BigInt(b) * 2n ** 40n + BigInt(1 + Math.floor(next() * 3))).join(',')}}`;
      const quantiles = [0.5, 0.9, 0.95, 0.99];
      const result = await db.pool.query(
        `SELECT hist_percentiles($1::bigint[], $2::float8[]) AS many,
                (SELECT array_agg(hist_percentile($1::bigint[], q) ORDER BY ord) FROM unnest($2::float8[]) WITH ORDINALITY AS u(q, ord)) AS one_by_one`,
        [text, quantiles]);
      result.rows[0].many.forEach((value: number, i: number) => expect({ text, q: quantiles[i], value }).toEqual({ text, q: quantiles[i], value: expect.closeTo(result.rows[0].one_by_one[i], 9) }));
      const ours = histogramFromText(text);
      quantiles.forEach((q, i) => expect(ours.percentile(q)).toBeCloseTo(result.rows[0].one_by_one[i], 9));
    }
  });

  it('are kept on every api_metrics_rollup row as its histogram changes', async () => {
    const tenant = 'dddddddd-0000-4000-8000-000000000001';
    const insert = (ms: number[]) => db.pool.query(
      `INSERT INTO api_performance_log ("timestamp", tenant_id, response_time_ms, status_code, method, endpoint)
       SELECT date_trunc('hour', now()), $1, m, 200, 'GET', '/p' FROM unnest($2::real[]) m`, [tenant, ms]);
    const check = async () => {
      const rows = await db.pool.query(
        `SELECT p50_ms, p90_ms, p95_ms, p99_ms, hist_percentiles(hist, '{0.5,0.9,0.95,0.99}') AS expected
           FROM api_metrics_rollup WHERE tenant_id = $1`, [tenant]);
      expect(rows.rows.length).toBe(6); // three resolutions, the endpoint and all endpoints
      for (const row of rows.rows) {
        [row.p50_ms, row.p90_ms, row.p95_ms, row.p99_ms].forEach((stored: number, i: number) =>
          expect(Math.abs(stored - row.expected[i]) / row.expected[i]).toBeLessThan(1e-6));
      }
      return rows.rows[0].p99_ms as number;
    };
    await insert([1, 2, 3, 4, 5]);
    await db.pool.query('SELECT refresh_performance_metrics_incremental($1)', [tenant]);
    const before = await check();
    await insert([900, 950, 990]);
    await db.pool.query('SELECT refresh_performance_metrics_incremental($1)', [tenant]);
    expect(await check()).toBeGreaterThan(before * 10);
  });
});
