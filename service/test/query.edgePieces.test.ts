// A range's edges read as an enclosing rollup row minus the finer rows outside the range
// (src/db/rangeHistograms.ts edgePieces): which pieces are chosen, and that the merged
// histograms equal those of the edges' own rows on rollups built by the refresh from raw
// rows, for fingerprints and endpoints, with fewer rows read.
import { edgePieces, QUERY_ROLLUP, API_ROLLUP, rangeHistogramSql, rangeHistogramValues, rangeHistograms, type CumulativeRollup, type HistogramPiece } from '../src/db/rangeHistograms';
import { segmentCondition, segmentValues } from '../src/db/rollupSegments';
import { RunningTotalsCache } from '../src/db/runningTotalsCache';
import { refreshRollups } from '../src/db/rollups';
import { histogramFromText } from '../src/query/histogram';
import { DAY_MS, HOUR_MS, rangeSegments, type TimeRange } from '../src/query/timeRange';
import { createTestDatabase, type TestDatabase } from './support/db';
import { insertThreeDays, MINUTE } from './support/queryData';

const T = 'e7e7e7e7-0000-4000-8000-000000000007';
const D = Date.UTC(2026, 4, 10);
const at = (day: number, hours: number, minutes = 0) => D + day * DAY_MS + hours * HOUR_MS + minutes * MINUTE;
const piece = (resolution: HistogramPiece['resolution'], from: number, to: number, sign: 1 | -1): HistogramPiece => ({ resolution, from, to, sign });
const sorted = (pieces: HistogramPiece[]) => [...pieces].sort((a, b) => a.from - b.from || a.resolution.localeCompare(b.resolution));
const range = (from: number, to: number): TimeRange => ({ from: new Date(from), to: new Date(to) });

describe('edgePieces', () => {
  it('reads the last day of a 24 h range ending now as the day minus the hours since, and the last hour as the hour minus what follows', () => {
    const now = at(1, 16, 43);
    const pieces = edgePieces(rangeSegments(range(now - DAY_MS, now)), now);
    expect(sorted(pieces)).toEqual(sorted([
      piece('5m', at(0, 16, 40), at(0, 17), 1),
      piece('1h', at(0, 17), at(1, 0), 1),
      piece('1d', at(1, 0), at(2, 0), 1),
      // Today's hours from 17:00 on (none yet: the piece costs nothing), and the 5-minute
      // buckets of the 16:00 hour after the range; the 16:00 hour itself is in the day.
      piece('1h', at(1, 17), at(2, 0), -1),
      piece('5m', at(1, 16, 45), at(1, 17), -1),
    ]));
  });

  it('reads a late start as the enclosing day and hour minus their rows before it', () => {
    const now = at(2, 12);
    const pieces = edgePieces(rangeSegments(range(at(0, 3, 10), at(1, 12))), now);
    expect(sorted(pieces)).toEqual(sorted([
      piece('1d', at(0, 0), at(1, 0), 1),
      piece('1h', at(0, 0), at(0, 3), -1),
      piece('5m', at(0, 3), at(0, 3, 10), -1),
      // The end: 12 hours of today against the day minus its 12 hours to come and the
      // hours up to now (at(2, 12), so every hour of day 1 may hold rows): its own rows.
      piece('1h', at(1, 0), at(1, 12), 1),
    ]));
  });

  it('keeps an edge as its own rows when those are fewer', () => {
    const now = at(1, 3, 12);
    const pieces = edgePieces(rangeSegments(range(at(0, 20, 50), now)), now);
    expect(sorted(pieces)).toEqual(sorted([
      // 2 and 3 buckets, against 11 and 22 as complements.
      piece('5m', at(0, 20, 50), at(0, 21), 1),
      piece('1h', at(0, 21), at(1, 0), 1),
      // Today's 3 hours and the 3:00 hour's 3 buckets: today's row minus the hours from
      // 4:00 and the buckets from 3:15.
      piece('1d', at(1, 0), at(2, 0), 1),
      piece('1h', at(1, 4), at(2, 0), -1),
      piece('5m', at(1, 3, 15), at(1, 4), -1),
    ]));
    // An end a few minutes into the hour: its own bucket, not the hour minus eleven.
    const early = at(1, 3, 4);
    expect(edgePieces(rangeSegments(range(at(0, 20, 50), early)), early)).toContainEqual(piece('5m', at(1, 3), at(1, 3, 5), 1));
  });

  it('never subtracts 5-minute rows older than 7 days, nor hours older than 399 days: they may have expired', () => {
    const segments = rangeSegments(range(at(0, 3, 10), at(1, 16, 43)));
    const weekLater = edgePieces(segments, at(9, 0));
    expect(weekLater.filter((p) => p.resolution === '5m').every((p) => p.sign === 1)).toBe(true);
    expect(weekLater.some((p) => p.resolution === '1d')).toBe(true);
    const yearsLater = edgePieces(segments, at(500, 0));
    expect(yearsLater.every((p) => p.sign === 1 && p.resolution !== '1d')).toBe(true);
    // Its own rows cover exactly the segments' edges.
    expect(sorted(yearsLater)).toEqual(sorted(segments.filter((s, i) => i !== 2 && s.to > s.from)
      .map((s) => piece(s.resolution, s.from.getTime(), s.to.getTime(), 1))));
  });
});

describe('range histograms with edges read as complements', () => {
  let db: TestDatabase;

  beforeAll(async () => {
    db = await createTestDatabase('query_edge_pieces');
    await insertThreeDays(db.pool, T, at(0, 0));
    await refreshRollups(db.pool);
  });

  afterAll(async () => {
    await db?.drop();
  });

  /** The edges' and days' own rows merged per key (the reference), and how many rows they are. */
  async function ownRows(rollup: CumulativeRollup, r: TimeRange): Promise<{ texts: Map<string, string>; rows: number }> {
    const { rows } = await db.pool.query<{ key: string; hist_text: string; n: number }>(
      `SELECT r.${rollup.key}::text AS key, string_agg(r.hist::text, '') AS hist_text, count(*)::int AS n
         FROM ${rollup.table} r WHERE r.tenant_id = $1::uuid AND r.hist IS NOT NULL AND ${segmentCondition('r', 2)} GROUP BY 1`,
      [T, ...segmentValues(rangeSegments(r))],
    );
    return { texts: new Map(rows.map((row) => [row.key, row.hist_text])), rows: rows.reduce((sum, row) => sum + row.n, 0) };
  }

  const cases: Array<{ name: string; r: TimeRange; now: number; fewer: boolean }> = [
    { name: '24 h ending now', r: range(at(2, 16, 43) - DAY_MS, at(2, 16, 43)), now: at(2, 16, 43), fewer: true },
    { name: 'a late start and an end today', r: range(at(0, 3, 10), at(2, 14, 20)), now: at(2, 14, 20), fewer: true },
    { name: 'within one day', r: range(at(1, 2, 10), at(1, 20, 50)), now: at(1, 20, 50), fewer: true },
    { name: 'the same range a month later (hours only)', r: range(at(0, 3, 10), at(2, 14, 20)), now: at(32, 0), fewer: true },
    { name: 'edges of a few buckets', r: range(at(0, 22, 55), at(1, 1, 5)), now: at(1, 1, 5), fewer: false },
  ];

  for (const rollup of [QUERY_ROLLUP, API_ROLLUP]) {
    for (const c of cases) {
      it(`${rollup.name}: ${c.name}: the same histograms as the rows of the range${c.fewer ? ', from fewer rows' : ''}`, async () => {
        const segments = rangeSegments(c.r);
        const own = await ownRows(rollup, c.r);
        const keys = [...own.texts.keys()].sort();
        expect(keys.length).toBe(rollup === QUERY_ROLLUP ? 2 : 3);
        const withCounts = keys.map((key) => ({ key, dayCount: 0 }));
        const histograms = await rangeHistograms(db.pool, rollup, T, segments, withCounts, { now: c.now, cache: new RunningTotalsCache() });
        for (const key of keys) {
          expect([key, histograms.get(key)!.nonEmpty()]).toEqual([key, histogramFromText(own.texts.get(key)).nonEmpty()]);
        }
        const read = await db.pool.query({ text: rangeHistogramSql(rollup), values: rangeHistogramValues(T, segments, withCounts, c.now) });
        if (c.fewer) expect(read.rows.length).toBeLessThan(own.rows);
        else expect(read.rows.length).toBe(own.rows);
      });
    }
  }
});
