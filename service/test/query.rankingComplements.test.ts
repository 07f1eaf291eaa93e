// Rankings read a range's edges as an enclosing rollup row minus the finer rows outside
// the range (src/db/rangeHistograms.ts rankingPieces, rankingRowsSql): the same answers
// as reading the edges' own rows (sums, maxima, histograms, order, the top N by p95),
// for fingerprints and endpoints on rollups built by the refresh from raw rows; a
// maximum that lies in the subtracted rows is read again from the key's own rows; and
// the p95 bounds of a complement (src/db/p95Bounds.ts keyBounds) always hold the p95.
import { keyBounds } from '../src/db/p95Bounds';
import { fingerprintTotals, type FingerprintOrderKey } from '../src/db/queryRollups';
import { API_ROLLUP, edgePieces, p95Complements, QUERY_ROLLUP, rankingPieces } from '../src/db/rangeHistograms';
import { endpointTotals, type EndpointOrderKey } from '../src/db/requestRollups';
import { refreshRollups } from '../src/db/rollups';
import { RunningTotalsCache } from '../src/db/runningTotalsCache';
import { DAY_MS, HOUR_MS, rangeSegments, type TimeRange } from '../src/query/timeRange';
import { seededRandom } from '../bench/seededRandom';
import { createTestDatabase, type TestDatabase } from './support/db';
import { insertQueries, insertRequests, MINUTE, times } from './support/queryData';

const T = 'e8e8e8e8-0000-4000-8000-000000000008';
const D = Date.UTC(2026, 4, 10);
const at = (day: number, hours: number, minutes = 0) => D + day * DAY_MS + hours * HOUR_MS + minutes * MINUTE;
const range = (from: number, to: number): TimeRange => ({ from: new Date(from), to: new Date(to) });
/** A "now" so late that every edge is read as its own rows (finer rows may have expired). */
const LONG_AFTER = at(1000, 0);

describe('rankingPieces', () => {
  it('numbers each enclosing piece and the pieces subtracted from it alike, and own pieces 0', () => {
    const now = at(1, 16, 43);
    const pieces = rankingPieces(rangeSegments(range(now - DAY_MS, now)), now);
    // The same pieces as the histograms read.
    expect(pieces.map(({ group: _group, ...p }) => p)).toEqual(edgePieces(rangeSegments(range(now - DAY_MS, now)), now));
    const day = pieces.findIndex((p) => p.resolution === '1d');
    expect(pieces[day]!.group).toBe(day + 1);
    for (const p of pieces) {
      if (p.sign < 0) expect(p.group).toBe(day + 1);
      else if (p.resolution !== '1d') expect(p.group).toBe(0);
    }
    expect(pieces.filter((p) => p.sign < 0)).toHaveLength(2);
  });

  it('has no groups when every edge is its own rows', () => {
    const pieces = rankingPieces(rangeSegments(range(at(0, 3, 10), at(1, 16, 43))), LONG_AFTER);
    expect(pieces.length).toBeGreaterThan(0);
    expect(pieces.every((p) => p.sign === 1 && p.group === 0)).toBe(true);
  });
});

describe('p95Complements', () => {
  const now = at(2, 16, 43);
  it('has endpoints ranked by p95 read their edges\' own rows unless whole days make up half the range', () => {
    const day = rangeSegments(range(now - DAY_MS, now));
    expect(p95Complements(API_ROLLUP, day)).toBe(false);
    expect(rankingPieces(day, now, false)).toEqual(
      day.filter((s, i) => i !== 2 && s.to > s.from).map((s) => ({ resolution: s.resolution, from: s.from.getTime(), to: s.to.getTime(), sign: 1, group: 0 })),
    );
    // 59 hours with one whole day: own rows; 30 days, and 71 hours with two whole days: complements.
    expect(p95Complements(API_ROLLUP, rangeSegments(range(at(0, 3, 10), at(2, 14, 20))))).toBe(false);
    expect(p95Complements(API_ROLLUP, rangeSegments(range(now - 30 * DAY_MS, now)))).toBe(true);
    expect(p95Complements(API_ROLLUP, rangeSegments(range(at(0, 3, 10), at(3, 2, 0))))).toBe(true);
  });

  it('keeps the complements for fingerprints on every range', () => {
    for (const r of [range(now - DAY_MS, now), range(at(1, 2, 10), at(1, 20, 50)), range(now - 30 * DAY_MS, now)]) {
      expect(p95Complements(QUERY_ROLLUP, rangeSegments(r))).toBe(true);
    }
  });
});

describe('rankings with edges read as complements', () => {
  let db: TestDatabase;

  beforeAll(async () => {
    db = await createTestDatabase('query_ranking_complements');
    // Three days of requests on four endpoints and queries of five fingerprints, every
    // 3 minutes, with latencies and errors that vary, through the raw logs and the
    // refresh, so every resolution is built from the same rows.
    const moments = times(new Date(at(0, 0, 1)), Math.floor((3 * DAY_MS) / (3 * MINUTE)), 3 * MINUTE);
    const random = seededRandom(11);
    await insertRequests(db.pool, T, moments.map((m, i) => ({
      at: m, endpoint: `/e${i % 4}`, ms: 1 + Math.floor(random() * 300) * (1 + (i % 4)), status: random() < 0.05 ? 500 : 200,
    })));
    await insertQueries(db.pool, T, moments.map((m, i) => ({
      at: m, hash: String(81 + (i % 5)), preview: `SELECT ${i % 5}`, ms: 0.5 + Math.floor(random() * 90) * (1 + (i % 5)),
    })));
    // Each key's largest value of day 2 lies after 16:45, outside the ranges ending at
    // 16:43 below: those keys' maxima must come from their own rows.
    await insertRequests(db.pool, T, [0, 1, 2, 3].map((e) => ({ at: new Date(at(2, 17, 20 + e)), endpoint: `/e${e}`, ms: 90_000 + e })));
    await insertQueries(db.pool, T, [81, 82].map((h) => ({ at: new Date(at(2, 17, 30)), hash: String(h), preview: `SELECT ${h - 81}`, ms: 50_000 + h })));
    await refreshRollups(db.pool);
  });

  afterAll(async () => {
    await db?.drop();
  });

  const cases: Array<{ name: string; r: TimeRange; now: number }> = [
    { name: '24 h ending now', r: range(at(2, 16, 43) - DAY_MS, at(2, 16, 43)), now: at(2, 16, 43) },
    { name: '24 h ending earlier today', r: range(at(2, 16, 43) - DAY_MS, at(2, 16, 43)), now: at(2, 21, 7) },
    { name: 'a late start and an end today', r: range(at(0, 3, 10), at(2, 14, 20)), now: at(2, 18, 0) },
    { name: 'within one day', r: range(at(1, 2, 10), at(1, 20, 50)), now: at(1, 20, 50) },
  ];

  const fingerprintOrders: FingerprintOrderKey[] = ['total', 'avg', 'count', 'p95'];
  const endpointOrders: EndpointOrderKey[] = ['requests', 'errorRate', 'dbShare', 'p95'];

  for (const c of cases) {
    it(`fingerprints, ${c.name}: the same top N by every order as from the edges' own rows`, async () => {
      const segments = rangeSegments(c.r);
      expect(rankingPieces(segments, c.now).some((p) => p.sign < 0)).toBe(true);
      for (const orderBy of fingerprintOrders) {
        for (const limit of [2, 10]) {
          const ask = (now: number) => fingerprintTotals(db.pool, T, segments, { orderBy, limit, endpoint: null, read: { now, cache: new RunningTotalsCache() } });
          const [complements, own] = [await ask(c.now), await ask(LONG_AFTER)];
          const shape = (rows: typeof own) => rows.map((r) => ({
            key: r.queryHash, calls: r.calls, slowCalls: r.slowCalls, rowsSum: r.rowsSum, maxMs: r.maxMs, totalMs: Math.round(r.totalMs * 1e6) / 1e6,
            p95: r.histogram.percentile(0.95),
          }));
          // By p95 the candidates may differ; the top N by p95 may not.
          const top = (rows: typeof own) => orderBy === 'p95'
            ? shape(rows).sort((a, b) => (b.p95 ?? -1) - (a.p95 ?? -1) || a.key.localeCompare(b.key)).slice(0, limit)
            : shape(rows);
          expect([orderBy, limit, top(complements)]).toEqual([orderBy, limit, top(own)]);
        }
      }
    });

    it(`endpoints, ${c.name}: the same top N by every order as from the edges' own rows`, async () => {
      const segments = rangeSegments(c.r);
      for (const orderBy of endpointOrders) {
        for (const limit of [2, 10]) {
          const ask = (now: number) => endpointTotals(db.pool, T, segments, { orderBy, limit, read: { now, cache: new RunningTotalsCache() } });
          const [complements, own] = [await ask(c.now), await ask(LONG_AFTER)];
          const shape = (rows: typeof own) => rows.map((r) => ({
            key: r.endpoint, requests: r.requests, errors: r.errors, satisfied: r.satisfied, tolerating: r.tolerating, maxMs: r.maxMs,
            sumMs: Math.round(r.sumMs * 1e6) / 1e6, p95: r.histogram.percentile(0.95),
          }));
          const top = (rows: typeof own) => orderBy === 'p95'
            ? shape(rows).sort((a, b) => (b.p95 ?? -1) - (a.p95 ?? -1) || a.key.localeCompare(b.key)).slice(0, limit)
            : shape(rows);
          expect([orderBy, limit, top(complements)]).toEqual([orderBy, limit, top(own)]);
        }
      }
    });
  }

  it('reads a maximum again when the subtracted rows reach the enclosing row\'s', async () => {
    const now = at(2, 18, 0);
    const segments = rangeSegments(range(at(2, 16, 43) - DAY_MS, at(2, 16, 43)));
    const rows = await fingerprintTotals(db.pool, T, segments, { orderBy: 'count', limit: 10, endpoint: null, read: { now, cache: new RunningTotalsCache() } });
    // The planted 50 s queries lie after the range: day 2's row holds them, the answer not.
    for (const row of rows) expect([row.queryHash, row.maxMs! < 50_000]).toEqual([row.queryHash, true]);
    const endpoints = await endpointTotals(db.pool, T, segments, { orderBy: 'requests', limit: 10, read: { now, cache: new RunningTotalsCache() } });
    expect(endpoints).toHaveLength(4);
    for (const row of endpoints) expect([row.endpoint, row.maxMs! < 90_000]).toEqual([row.endpoint, true]);
    // Without maxima: the same endpoints and totals, and no maximum at all.
    const without = await endpointTotals(db.pool, T, segments, { orderBy: 'requests', limit: 10, read: { now, cache: new RunningTotalsCache() }, maxima: false });
    expect(without.map((row) => row.maxMs)).toEqual([null, null, null, null]);
    expect(without.map(({ maxMs: _, ...rest }) => rest)).toEqual(endpoints.map(({ maxMs: _, ...rest }) => rest));
  });
});

describe('p95 bounds of complements', () => {
  /** hist_p95_bounds of sorted values: (n, lo, hi) as a row stores them. */
  function row(values: number[]): [number, number, number] {
    const s = [...values].sort((a, b) => a - b);
    const n = s.length;
    return [n, s[Math.floor(0.95 * (n - 1))]!, s[Math.min(n - 1, Math.ceil(0.95 * n))]!];
  }
  const text = (rows: number[][]) => `{${rows.map((r) => `{${r.join(',')}}`).join(',')}}`;

  it('hold the p95 of the rows they stand for, over random rows, enclosing rows and subtracted rows', () => {
    const random = seededRandom(23);
    let tight = 0;
    let trials = 0;
    let raised = 0;
    for (let trial = 0; trial < 3000; trial++) {
      const value = (center: number) => Math.max(0, Math.round(center + (random() - 0.5) * 2 * (5 + random() * 200)));
      const center = 100 + Math.floor(random() * 600);
      const own = Array.from({ length: Math.floor(random() * 6) }, () => Array.from({ length: 1 + Math.floor(random() * 40) }, () => value(center)));
      const complementRows: number[][] = [];
      const kept: number[] = [];
      const groups = 1 + Math.floor(random() * 2);
      for (let g = 1; g <= groups; g++) {
        // The enclosing row's values in finer rows; some of those rows are outside.
        const finer = Array.from({ length: 2 + Math.floor(random() * 12) }, () => Array.from({ length: Math.floor(random() * 30) }, () => value(center + (random() < 0.2 ? 300 : 0))));
        const enclosed = finer.flat();
        if (enclosed.length === 0) continue;
        complementRows.push([g, ...row(enclosed)]);
        const outside = Math.floor(random() * finer.length);
        finer.forEach((values, i) => {
          if (i < outside) {
            if (values.length > 0) complementRows.push([-g, ...row(values)]);
          } else kept.push(...values);
        });
      }
      const all = [...own.flat(), ...kept].sort((a, b) => a - b);
      if (all.length === 0) continue;
      const r = 0.95 * (all.length - 1);
      const b = keyBounds('k', own.length > 0 ? text(own.map(row)) : null, null, complementRows.length > 0 ? text(complementRows) : null);
      expect([trial, b.lower <= all[Math.floor(r)]!]).toEqual([trial, true]);
      expect([trial, b.upper >= all[Math.ceil(r)]!]).toEqual([trial, true]);
      if (b.lower >= 0 && Number.isFinite(b.upper)) tight++;
      trials++;
      // Without the subtracted rows' his, only their counts are known: never a higher lower bound.
      const countsOnly = complementRows.map(([g, n, lo, hi]) => (g! < 0 ? [g!, n!, -1, -1] : [g!, n!, lo!, hi!]));
      const loose = keyBounds('k', own.length > 0 ? text(own.map(row)) : null, null, countsOnly.length > 0 ? text(countsOnly) : null);
      expect([trial, loose.lower <= b.lower]).toEqual([trial, true]);
      if (loose.lower < b.lower) raised++;
    }
    // Not vacuous: the bounds are often finite on both sides, and the subtracted rows'
    // his raise the lower bound in some trials (3 % with this seed).
    expect(tight).toBeGreaterThan(trials * 0.3);
    expect(raised).toBeGreaterThan(trials * 0.01);
  });
});
