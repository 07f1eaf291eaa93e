// The service computes percentiles from rollup histograms itself (src/rollups/histogram.ts)
// for speed; they must be the SQL helpers' percentiles (hist_percentile, hist_merge in
// the migrations) on the same histograms, in both forms (bigint[] and packed).
import {
  bucketValue, histogramFromPacked, MAX_BUCKET, packedHistograms, packedTop, percentilesInto, stepPercentiles, toHistogramPrecision,
} from '../src/rollups/histogram';
import { createTestDatabase, type TestDatabase } from './support/db';
import { histogramFromText } from './support/histogramText';

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
    expect(histogramFromText(...texts).percentile(0.95)).toBeCloseTo(sql.rows[0].p, 9);
  });

  it('read packed (as the rollups store them) are the same histograms as read from text', async () => {
    // The last one holds 2^39 values in bucket 4000: hist_pack splits it over elements of 2^20 - 1.
    const texts = [randomHistogram(11, 300), '{}', randomHistogram(12, 1), randomHistogram(13, 40), `{${2n ** 40n * 4000n + 2n ** 39n}}`];
    const { rows } = await db.pool.query<{ packed: Buffer; text: string; big: number }>(
      `SELECT ${packedHistograms('hist_pack(h)')} AS packed, string_agg(h::text, '') AS text,
              max(length(hist_pack(h))) AS big
         FROM unnest($1::text[]) WITH ORDINALITY AS u(t, ord), LATERAL (SELECT t::bigint[] AS h) x`,
      [texts]);
    expect(rows[0]!.big).toBe(4 * Math.ceil(2 ** 39 / (2 ** 20 - 1)));
    const packed = histogramFromPacked(rows[0]!.packed);
    const text = histogramFromText(rows[0]!.text);
    expect(packed.total).toBe(text.total);
    expect(packed.total).toBeGreaterThan(2 ** 39);
    expect(packed.percentiles([0, 1, 50, 95, 99.9, 100])).toEqual(text.percentiles([0, 1, 50, 95, 99.9, 100]));
    expect(histogramFromPacked(null).total).toBe(0);
  });

  it('packed: hist_merge, hist_union and hist_percentile equal the bigint[] helpers', async () => {
    const texts = [randomHistogram(21, 30), randomHistogram(22, 50), randomHistogram(23, 5), `{${2n ** 40n * 600n + 3n * 2n ** 20n}}`];
    const { rows } = await db.pool.query(
      `SELECT hist_unpack(hist_merge(hist_merge(hist_pack($1::bigint[]), hist_pack($2::bigint[])),
                                     hist_merge(hist_pack($3::bigint[]), hist_pack($4::bigint[]))))::text AS merged,
              hist_merge(hist_merge(hist_merge($1::bigint[], $2::bigint[]), $3::bigint[]), $4::bigint[])::text AS expected,
              (SELECT hist_unpack(hist_union(hist_pack(t)))::text FROM (VALUES ($1::bigint[]), ($2), (NULL), ($3), ($4)) v(t)) AS unioned,
              hist_percentile(hist_merge(hist_pack($1::bigint[]), hist_pack($4::bigint[])), 0.95) AS packed_p95,
              hist_percentile(hist_merge($1::bigint[], $4::bigint[]), 0.95) AS p95`,
      texts);
    expect(rows[0].merged).toBe(rows[0].expected);
    expect(rows[0].unioned).toBe(rows[0].expected);
    expect(rows[0].packed_p95).toBeCloseTo(rows[0].p95, 9);
    expect(histogramFromText(rows[0].merged).percentiles([50, 95, 99])).toEqual(histogramFromText(texts.join('')).percentiles([50, 95, 99]));
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

describe('percentiles of a step, walked over its packed histograms', () => {
  const percents = [0, 1, 25, 49.9, 50, 90, 95, 99, 99.9, 100];

  it('equal those of the histograms summed, for steps of 1 to 12 rows', async () => {
    // Rows as hist_pack writes them: a few sparse ones, some of single values (so that
    // neighbouring order statistics lie in different buckets), one with a count split over four
    // elements of its bucket, one above the last bucket's value (clamped), and an empty one.
    const texts = [
      ...Array.from({ length: 9 }, (_, i) => randomHistogram(100 + i, 1 + ((i * 13) % 60))),
      ...[[5n, 90n, 91n], [17n, 300n], [88n]].map((buckets) => `{${buckets.map((b) => b * 2n ** 40n + 1n).join(',')}}`),
      `{${[3n, 200n].map((b) => b * 2n ** 40n + 1n).join(',')},${2n ** 40n * 250n + 3n * 2n ** 20n}}`,
      `{${2n ** 40n * 4090n + 2n}}`,
      '{}',
    ];
    const { rows } = await db.pool.query<{ packed: Buffer }>(
      `SELECT hist_pack(t::bigint[]) AS packed FROM unnest($1::text[]) WITH ORDINALITY AS u(t, ord) ORDER BY ord`, [texts]);
    const packed = rows.map((r) => r.packed);
    expect(packed[12]!.length).toBe(4 * 6);
    for (let size = 1; size <= packed.length; size++) {
      for (let from = 0; from + size <= packed.length; from += 3) {
        const step = packed.slice(from, from + size);
        const summed = histogramFromPacked(...step).percentiles(percents);
        expect({ from, size, walked: stepPercentiles(size === 1 ? step[0]! : step, percents) }).toEqual({ from, size, walked: summed });
        // Given the step's count (the rows' requests), as a series does: the same.
        const columns = percents.map((): Array<number | null> => [null]);
        percentilesInto(size === 1 ? step[0]! : step, percents, columns, 0, false, histogramFromPacked(...step).total);
        expect({ from, size, counted: columns.map((c) => c[0]) }).toEqual({ from, size, counted: summed });
      }
    }
  });

  it('are null for a step without values and refuse a percentile outside 0..100', async () => {
    const { rows } = await db.pool.query<{ packed: Buffer }>(`SELECT hist_pack('{}'::bigint[]) AS packed`);
    expect(stepPercentiles([rows[0]!.packed, rows[0]!.packed], [50, 95])).toEqual([null, null]);
    const one = histogramFromText('{1099511627777}');
    expect(one.total).toBe(1);
    const { rows: packed } = await db.pool.query<{ packed: Buffer }>(`SELECT hist_pack('{1099511627777}'::bigint[]) AS packed`);
    expect(stepPercentiles(packed[0]!.packed, [50])).toEqual(one.percentiles([50]));
    expect(() => stepPercentiles(packed[0]!.packed, [150])).toThrow(RangeError);
  });
});

describe('percentiles of one row from the top of its histogram (packedTop)', () => {
  // Rows of 1 to 80 single values (every element one value: the top holds exactly as many
  // values as elements, the tightest case), random ones, and one whose count is split over
  // several elements of its bucket.
  const single = (n: number, seed: number) => `{${Array.from({ length: n }, (_, i) => BigInt(1 + i * (1 + (seed % 3)) + seed) * 2n ** 40n + 1n).join(',')}}`;
  const texts = [
    ...Array.from({ length: 80 }, (_, i) => single(i + 1, i)),
    ...Array.from({ length: 6 }, (_, i) => randomHistogram(300 + i, 1 + i * 17)),
    `{${[3n, 200n].map((b) => b * 2n ** 40n + 1n).join(',')},${2n ** 40n * 250n + 3n * 2n ** 20n}}`,
  ];
  const totals = texts.map((t) => histogramFromText(t).total);

  async function answers(percents: number[], expression: (column: string, count: string, q: string) => string) {
    const { rows } = await db.pool.query<{ whole: Buffer; top: Buffer }>(
      `SELECT hist_pack(t::bigint[]) AS whole, ${expression('hist_pack(t::bigint[])', 'n', '$3::float8')} AS top
         FROM unnest($1::text[], $2::bigint[]) WITH ORDINALITY AS u(t, n, ord) ORDER BY ord`,
      [texts, totals, Math.min(...percents) / 100]);
    return rows.map((row, i) => {
      const columns = percents.map((): Array<number | null> => [null]);
      percentilesInto(row.top, percents, columns, 0, false, totals[i]!);
      return { row: i, bytes: row.top.length <= row.whole.length, top: columns.map((c) => c[0]), whole: stepPercentiles(row.whole, percents) };
    });
  }

  it.each([[[50, 95, 99]], [[95]], [[99.9]], [[50]], [[100]], [[75, 90]]])('equal those of the whole histogram at %j', async (percents) => {
    const rows = await answers(percents, packedTop);
    for (const { row, bytes, top, whole } of rows) expect({ row, bytes, top }).toEqual({ row, bytes: true, top: whole });
  });

  it('read a twentieth of a large row at p95', async () => {
    const { rows } = await db.pool.query<{ whole: Buffer; top: Buffer }>(
      `SELECT hist_pack(t::bigint[]) AS whole, ${packedTop('hist_pack(t::bigint[])', '$2::bigint', '0.95::float8')} AS top FROM (SELECT $1::text AS t) x`,
      [single(400, 1), 400]);
    expect(rows[0]!.whole.length).toBe(4 * 400);
    expect(rows[0]!.top.length).toBe(4 * (400 - Math.floor(0.95 * 399)));
  });

  it('differ when the top is one element short', async () => {
    const short = (column: string, count: string, q: string) => {
      const text = packedTop(column, count, q);
      expect(text.endsWith('+ 1))')).toBe(true);
      return `${text.slice(0, -'+ 1))'.length)}+ 5))`;
    };
    for (const percents of [[50, 95, 99], [95], [99.9]]) {
      const rows = await answers(percents, short);
      expect([percents, rows.some(({ top, whole }) => JSON.stringify(top) !== JSON.stringify(whole))]).toEqual([percents, true]);
    }
  });
});

describe('percentiles of a few values', () => {
  it('equal hist_percentile where neighbouring order statistics lie in different buckets', async () => {
    // Two values, 10 and 1000 ms: p95 lies 95 % of the way from one to the other.
    const two = `{${[349n, 582n].map((b) => b * 2n ** 40n + 1n).join(',')}}`;
    const pair = await db.pool.query(`SELECT hist_percentile($1::bigint[], 0.95) AS p95`, [two]);
    expect(histogramFromText(two).percentile(0.95)).toBeCloseTo(pair.rows[0].p95, 9);
    expect(pair.rows[0].p95).toBeLessThan(960);
    for (let seed = 1; seed <= 40; seed++) {
      let state = seed;
      const next = () => (state = (state * 1103515245 + 12345) % 2147483648) / 2147483648;
      const buckets = new Set<number>();
      while (buckets.size < 2 + (seed % 9)) buckets.add(1 + Math.floor(next() * 600));
      const text = `{${[...buckets].sort((a, b) => a - b).map((b) => BigInt(b) * 2n ** 40n + BigInt(1 + Math.floor(next() * 3))).join(',')}}`;
      const quantiles = [0.5, 0.9, 0.95, 0.99];
      const result = await db.pool.query(
        `SELECT (SELECT array_agg(hist_percentile($1::bigint[], q) ORDER BY ord) FROM unnest($2::float8[]) WITH ORDINALITY AS u(q, ord)) AS one_by_one`,
        [text, quantiles]);
      const ours = histogramFromText(text);
      quantiles.forEach((q, i) => expect({ text, q, value: ours.percentile(q) }).toEqual({ text, q, value: expect.closeTo(result.rows[0].one_by_one[i], 9) }));
    }
  });
});

describe('percentiles as the series write them', () => {
  it('keep 5 significant digits: within 0.005 % of the value, a bucket\'s value to at most 6 digits', () => {
    const values = [0, 0.0123456789, 0.98765432, 1, 9.87654321, 31.060738, 123.456789, 999.99999, 1234.56789, 98_765.4321, 1e7 + 0.4];
    for (let bucket = 0; bucket <= MAX_BUCKET; bucket += 7) values.push(bucketValue(bucket), (bucketValue(bucket) + bucketValue(bucket + 1)) / 2);
    const wrong: unknown[] = [];
    for (const value of values) {
      const written = toHistogramPrecision(value);
      // Its shortest text holds no more digits than it needs (no 0.30000000000000004).
      const digits = String(written).replace(/^0\.0*|\./g, '').length;
      const most = Math.max(6, Math.floor(Math.log10(Math.abs(value) || 1)) + 1);
      if (Math.abs(written - value) > Math.abs(value) * 5e-5 || digits > most) wrong.push({ value, written, digits });
    }
    expect(wrong).toEqual([]);
    expect(toHistogramPrecision(123.456789)).toBe(123.46);
    expect(toHistogramPrecision(0.0123456789)).toBe(0.012346);
  });
});
