// Every total and ranking over a range (src/rollups/ranking.ts) is the naive answer of
// the raw rows in that range: counts and maxima exactly, sums to rounding, and the
// merged histogram bucket for bucket equal to the raw rows' histogram (so percentiles
// within the buckets' 1 %). On three days of skewed, seeded traffic, and three sparser
// weeks before them, refreshed into the rollups, for ranges that start and end anywhere
// (inside hours, on hours, on days, on weeks), and for rows that arrived after the last
// refresh.
import { refreshRollups } from '../src/db/rollups';
import type { QuerySettings } from '../src/query/context';
import { fingerprintTotals, type FingerprintOrderKey } from '../src/rollups/fingerprints';
import { Histogram } from '../src/rollups/histogram';
import { busiestEndpoints, endpointTotals, requestTotals, type EndpointOrderKey } from '../src/rollups/requests';
import type { TimeRange } from '../src/rollups/time';
import { seededRandom } from '../bench/seededRandom';
import { createTestDatabase, type TestDatabase } from './support/db';
import { HOUR, insertQueries, insertRequests, MINUTE } from './support/queryData';

const T = 'f7f7f7f7-0000-4000-8000-000000000007';
const OTHER = 'f8f8f8f8-0000-4000-8000-000000000008';
const DAY = 24 * HOUR;
const SETTINGS: QuerySettings = { latencyTargetMs: 40, slowQueryThresholdMs: 100 };
const ENDPOINTS = Array.from({ length: 12 }, (_, i) => `/api/e${i}`);
const HASHES = Array.from({ length: 30 }, (_, i) => String(500 + i));
/**
 * Traffic from the UTC midnight two days ago to a few minutes ago: its last day and more
 * lie in the fine window (5-minute rows per key), the day before does not.
 */
const NOW = Date.now();
const START = Math.floor(NOW / DAY) * DAY - 2 * DAY;
const END = Math.floor(NOW / (5 * MINUTE)) * 5 * MINUTE - 5 * MINUTE;
/** Sparser traffic from three weeks before START, for the fingerprints' weekly rows. */
const EARLY = START - 21 * DAY;
/** The first Monday (00:00 UTC; weekly rows begin there) after EARLY. */
const MONDAY = EARLY + ((8 - new Date(EARLY).getUTCDay()) % 7 || 7) * DAY;

let db: TestDatabase;

beforeAll(async () => {
  db = await createTestDatabase('rollups_answers');
  await db.pool.query('UPDATE performance_settings SET apdex_target_ms = $1, slow_query_threshold_ms = $2', [SETTINGS.latencyTargetMs, SETTINGS.slowQueryThresholdMs]);
  const random = seededRandom(24);
  for (const tenant of [T, OTHER]) {
    const requests = [];
    const queries = [];
    // Every 5 to 25 minutes before START, then from START itself every 20 to 80 seconds.
    const next = (t: number) => (t < START ? Math.min(START, t + 300_000 + Math.floor(random() * 1_200_000)) : t + 20_000 + Math.floor(random() * 60_000));
    for (let t = EARLY; t < END; t = next(t)) {
      const e = Math.floor(ENDPOINTS.length * random() ** 2);
      const ms = Math.max(0.005, (5 + e * 7) * Math.exp(1.2 * (random() - 0.5) * 2));
      requests.push({ at: new Date(t), endpoint: ENDPOINTS[e]!, ms, status: random() < 0.03 ? 500 : random() < 0.05 ? 404 : 200 });
      const f = Math.floor(HASHES.length * random() ** 3);
      queries.push({ at: new Date(t + 137), hash: HASHES[f]!, preview: `SELECT ${f}`, ms: (1 + f * 9) * Math.exp(random() - 0.5), endpoint: random() < 0.1 ? null : ENDPOINTS[f % ENDPOINTS.length]!, rows: f });
    }
    await insertRequests(db.pool, tenant, requests);
    await insertQueries(db.pool, tenant, queries);
  }
  await refreshRollups(db.pool);
}, 300_000);

afterAll(async () => {
  await db?.drop();
});

/** Ranges with every kind of edge. */
const RANGES: Array<[string, TimeRange]> = [
  ['inside one hour', { from: new Date(START + 10 * HOUR + 7 * MINUTE + 13), to: new Date(START + 10 * HOUR + 49 * MINUTE) }],
  ['across a midnight, partial hours', { from: new Date(START + DAY - 3 * HOUR - 11 * MINUTE), to: new Date(START + DAY + 2 * HOUR + 5 * MINUTE + 999) }],
  ['whole hours', { from: new Date(START + 5 * HOUR), to: new Date(START + 17 * HOUR) }],
  ['whole days', { from: new Date(START), to: new Date(START + 2 * DAY) }],
  ['days with partial edges, to the end', { from: new Date(START + 7 * HOUR + 31 * MINUTE), to: new Date(END) }],
  ['wider than the data', { from: new Date(EARLY - 2 * DAY), to: new Date(END + DAY) }],
  ['in the fine window, partial edges', { from: new Date(START + DAY + 3 * HOUR + 17 * MINUTE + 3), to: new Date(END - 37 * MINUTE - 11) }],
  ['whole weeks', { from: new Date(MONDAY), to: new Date(MONDAY + 14 * DAY) }],
  ['weeks with days and partial edges', { from: new Date(MONDAY + 3 * DAY + 5 * HOUR + 7 * MINUTE + 3), to: new Date(END - 37 * MINUTE) }],
];

interface NaiveEndpoint {
  key: string; requests: number; errors: number; client_errors: number; satisfied: number; tolerating: number;
  sum_ms: number; max_ms: number | null; buckets: number[]; counts: number[];
}

async function naiveEndpoints(range: TimeRange, tenant = T): Promise<Map<string, NaiveEndpoint & { db_ms: number; db_calls: number }>> {
  const { rows } = await db.pool.query<NaiveEndpoint>(
    `SELECT coalesce(nullif(endpoint, ''), '(none)') AS key, count(*)::float8 AS requests,
            count(*) FILTER (WHERE status_code >= 500)::float8 AS errors, count(*) FILTER (WHERE status_code BETWEEN 400 AND 499)::float8 AS client_errors,
            count(*) FILTER (WHERE response_time_ms <= $4)::float8 AS satisfied,
            count(*) FILTER (WHERE response_time_ms > $4 AND response_time_ms <= 4 * $4)::float8 AS tolerating,
            sum(response_time_ms::float8) AS sum_ms, max(response_time_ms)::float8 AS max_ms,
            (SELECT array_agg(b ORDER BY b) FROM (SELECT DISTINCT latency_bucket(x) AS b FROM unnest(array_agg(response_time_ms)) x) s) AS buckets,
            (SELECT array_agg(n ORDER BY b) FROM (SELECT latency_bucket(x) AS b, count(*)::float8 AS n FROM unnest(array_agg(response_time_ms)) x GROUP BY 1) s) AS counts
       FROM api_performance_log WHERE tenant_id = $1 AND "timestamp" >= $2 AND "timestamp" < $3 GROUP BY 1`,
    [tenant, range.from, range.to, SETTINGS.latencyTargetMs],
  );
  const dbTime = await db.pool.query<{ key: string; db_ms: number; db_calls: number }>(
    `SELECT coalesce(nullif(endpoint, ''), '(none)') AS key, sum(execution_time_ms::float8) AS db_ms, count(*)::float8 AS db_calls
       FROM query_performance_log WHERE tenant_id = $1 AND "timestamp" >= $2 AND "timestamp" < $3 GROUP BY 1`,
    [tenant, range.from, range.to],
  );
  const byKey = new Map(dbTime.rows.map((r) => [r.key, r]));
  return new Map(rows.map((r) => [r.key, { ...r, db_ms: byKey.get(r.key)?.db_ms ?? 0, db_calls: byKey.get(r.key)?.db_calls ?? 0 }]));
}

interface NaiveFingerprint {
  key: string; calls: number; slow_calls: number; total_ms: number; rows_sum: number; max_ms: number; buckets: number[]; counts: number[];
}

async function naiveFingerprints(range: TimeRange): Promise<Map<string, NaiveFingerprint>> {
  const { rows } = await db.pool.query<NaiveFingerprint>(
    `SELECT query_hash::text AS key, count(*)::float8 AS calls, count(*) FILTER (WHERE execution_time_ms >= $4)::float8 AS slow_calls,
            sum(execution_time_ms::float8) AS total_ms, sum(rows_returned)::float8 AS rows_sum, max(execution_time_ms)::float8 AS max_ms,
            (SELECT array_agg(b ORDER BY b) FROM (SELECT DISTINCT latency_bucket(x) AS b FROM unnest(array_agg(execution_time_ms)) x) s) AS buckets,
            (SELECT array_agg(n ORDER BY b) FROM (SELECT latency_bucket(x) AS b, count(*)::float8 AS n FROM unnest(array_agg(execution_time_ms)) x GROUP BY 1) s) AS counts
       FROM query_performance_log WHERE tenant_id = $1 AND "timestamp" >= $2 AND "timestamp" < $3 GROUP BY 1`,
    [T, range.from, range.to, SETTINGS.slowQueryThresholdMs],
  );
  return new Map(rows.map((r) => [r.key, r]));
}

function expectSameHistogram(label: string, histogram: Histogram, naive: { buckets: number[]; counts: number[] }): void {
  expect([label, histogram.nonEmpty()]).toEqual([label, { buckets: naive.buckets, counts: naive.counts }]);
}

function expectClose(label: string, value: number, exact: number): void {
  expect([label, Math.abs(value - exact) <= 1e-6 * Math.max(1, Math.abs(exact))]).toEqual([label, true]);
}

describe.each(RANGES)('totals over a range: %s', (name, range) => {
  it('per endpoint and for the tenant: the raw rows\' counts, sums, maxima and histograms', async () => {
    const naive = await naiveEndpoints(range);
    expect(naive.size).toBeGreaterThan(0);
    const rows = await endpointTotals(db.pool, T, range, SETTINGS, NOW, { orderBy: 'p95', limit: 100 });
    expect(rows.map((r) => r.endpoint).sort()).toEqual([...naive.keys()].sort());
    for (const row of rows) {
      const n = naive.get(row.endpoint)!;
      const label = `${name} ${row.endpoint}`;
      expect([label, row.requests, row.errors, row.clientErrors, row.satisfied, row.tolerating, row.dbCalls])
        .toEqual([label, n.requests, n.errors, n.client_errors, n.satisfied, n.tolerating, n.db_calls]);
      expect([label, row.maxMs]).toEqual([label, n.max_ms]);
      expectClose(`${label} sum_ms`, row.sumMs, n.sum_ms);
      expectClose(`${label} db_ms`, row.dbMs, n.db_ms);
      expectSameHistogram(label, row.histogram, n);
    }
    const total = await requestTotals(db.pool, T, range, SETTINGS, NOW);
    const all = [...naive.values()];
    expect(total.requests).toBe(all.reduce((s, r) => s + r.requests, 0));
    expect(total.maxMs).toBe(Math.max(...all.map((r) => r.max_ms ?? -1)));
    expect(total.histogram.total).toBe(total.requests);
    expect(total.histogram.percentile(0.95)).toBeCloseTo(mergedNaive(all).percentile(0.95)!, 9);
  });

  it('per fingerprint, and only those an endpoint issued', async () => {
    const naive = await naiveFingerprints(range);
    const rows = await fingerprintTotals(db.pool, T, range, SETTINGS, NOW, { orderBy: 'p95', limit: 100, endpoint: null });
    expect(rows.map((r) => r.queryHash).sort()).toEqual([...naive.keys()].sort());
    for (const row of rows) {
      const n = naive.get(row.queryHash)!;
      const label = `${name} ${row.queryHash}`;
      expect([label, row.calls, row.slowCalls, row.rowsSum, row.maxMs]).toEqual([label, n.calls, n.slow_calls, n.rows_sum, n.max_ms]);
      expectClose(`${label} total_ms`, row.totalMs, n.total_ms);
      expectSameHistogram(label, row.histogram, n);
    }
    const issued = await db.pool.query<{ h: string }>(`SELECT query_hash::text AS h FROM query_endpoints WHERE tenant_id = $1 AND endpoint = '/api/e2'`, [T]);
    const ofEndpoint = await fingerprintTotals(db.pool, T, range, SETTINGS, NOW, { orderBy: 'total', limit: 100, endpoint: '/api/e2' });
    const allowed = new Set(issued.rows.map((r) => r.h));
    expect(ofEndpoint.map((r) => r.queryHash).sort()).toEqual([...naive.keys()].filter((k) => allowed.has(k)).sort());
  });

  it('ranks by every order as sorting the raw rows\' answers does, cut at the limit', async () => {
    const endpoints = [...(await naiveEndpoints(range)).values()];
    const fingerprints = [...(await naiveFingerprints(range)).values()];
    const endpointOrder: Record<Exclude<EndpointOrderKey, 'p95'>, (r: (typeof endpoints)[number]) => number> = {
      requests: (r) => r.requests,
      errorRate: (r) => r.errors / r.requests,
      dbShare: (r) => (r.sum_ms > 0 ? r.db_ms / r.sum_ms : -1),
    };
    for (const [order, key] of Object.entries(endpointOrder)) {
      const expected = [...endpoints].sort((a, b) => key(b) - key(a) || (a.key < b.key ? -1 : 1)).slice(0, 3).map((r) => r.key);
      const got = await endpointTotals(db.pool, T, range, SETTINGS, NOW, { orderBy: order as EndpointOrderKey, limit: 3 });
      expect([order, got.map((r) => r.endpoint)]).toEqual([order, expected]);
      // The winners' histograms are read too.
      for (const row of got) expect(row.histogram.total).toBe(row.requests);
    }
    const fingerprintOrder: Record<Exclude<FingerprintOrderKey, 'p95'>, (r: NaiveFingerprint) => number> = {
      total: (r) => r.total_ms,
      avg: (r) => r.total_ms / r.calls,
      count: (r) => r.calls,
    };
    for (const [order, key] of Object.entries(fingerprintOrder)) {
      const expected = [...fingerprints].sort((a, b) => key(b) - key(a) || (a.key < b.key ? -1 : 1)).slice(0, 5).map((r) => r.key);
      const got = await fingerprintTotals(db.pool, T, range, SETTINGS, NOW, { orderBy: order as FingerprintOrderKey, limit: 5, endpoint: null });
      expect([order, got.map((r) => r.queryHash)]).toEqual([order, expected]);
    }
    const busiest = await busiestEndpoints(db.pool, T, range, SETTINGS, NOW, 4);
    expect(busiest).toEqual([...endpoints].sort((a, b) => b.requests - a.requests || (a.key < b.key ? -1 : 1)).slice(0, 4).map((r) => r.key));
  });
});

function mergedNaive(rows: Array<{ buckets: number[]; counts: number[] }>): Histogram {
  const histogram = new Histogram();
  for (const row of rows) row.buckets.forEach((b, i) => histogram.add(b, row.counts[i]!));
  return histogram;
}

describe('rows not yet refreshed', () => {
  it('count at once in a range\'s partial 5 minutes, and in its 5-minute rows from the next refresh on', async () => {
    const sliver = { from: new Date(END + 5 * MINUTE), to: new Date(END + 7 * MINUTE) };
    const fives = { from: new Date(END - 30 * MINUTE), to: new Date(END) };
    const requests = async (range: TimeRange) => (await requestTotals(db.pool, T, range, SETTINGS, NOW)).requests;
    const calls = async (range: TimeRange) => (await fingerprintTotals(db.pool, T, range, SETTINGS, NOW, { orderBy: 'count', limit: 100, endpoint: null }))
      .reduce((n, r) => n + r.calls, 0);
    const before = [await requests(sliver), await requests(fives), await calls(sliver), await calls(fives)];
    expect(before.slice(0, 1).concat(before.slice(2, 3))).toEqual([0, 0]);
    await insertRequests(db.pool, T, [
      { at: new Date(END + 6 * MINUTE), endpoint: '/api/e1', ms: 9999, status: 500 },
      { at: new Date(END - 12 * MINUTE), endpoint: '/api/e1', ms: 8888, status: 500 },
    ]);
    await insertQueries(db.pool, T, [
      { at: new Date(END + 6 * MINUTE), hash: HASHES[2]!, preview: 'SELECT 2', ms: 7777, endpoint: '/api/e2' },
      { at: new Date(END - 12 * MINUTE), hash: HASHES[2]!, preview: 'SELECT 2', ms: 6666, endpoint: '/api/e2' },
    ]);
    expect([await requests(sliver), await requests(fives), await calls(sliver), await calls(fives)])
      .toEqual([1, before[1], 1, before[3]]);
    await refreshRollups(db.pool);
    expect([await requests(sliver), await requests(fives), await calls(sliver), await calls(fives)])
      .toEqual([1, before[1]! + 1, 1, before[3]! + 1]);
    const naive = await naiveEndpoints(fives);
    const e1 = (await endpointTotals(db.pool, T, fives, SETTINGS, NOW, { orderBy: 'p95', limit: 100 })).find((r) => r.endpoint === '/api/e1')!;
    expectSameHistogram('after the refresh', e1.histogram, naive.get('/api/e1')!);
  });

  it('keep every bucket of raw rows, up to the highest, and repeated ones as counts', async () => {
    // Raw rows reach a range as one packed element per row (sql.ts rawHistogram); a
    // bucket of 2048 or more sets the element's sign bit.
    const tenant = 'f9f9f9f9-0000-4000-8000-000000000009';
    const at = new Date(END + 6 * MINUTE);
    const sliver = { from: new Date(END + 5 * MINUTE), to: new Date(END + 7 * MINUTE) };
    const durations = [5, 5, 1e30, 0.001];
    await insertRequests(db.pool, tenant, durations.map((ms) => ({ at, endpoint: '/api/x', ms })));
    await insertQueries(db.pool, tenant, durations.map((ms) => ({ at, hash: '77', preview: 'SELECT 77', ms, endpoint: null })));
    const { rows } = await db.pool.query<{ b: number; n: number }>(
      'SELECT latency_bucket(ms) AS b, count(*)::int AS n FROM unnest($1::real[]) ms GROUP BY 1 ORDER BY 1', [durations]);
    const expected = { buckets: rows.map((r) => r.b), counts: rows.map((r) => r.n) };
    expect(expected.buckets.at(-1)).toBeGreaterThanOrEqual(2048);
    expect((await requestTotals(db.pool, tenant, sliver, SETTINGS, NOW)).histogram.nonEmpty()).toEqual(expected);
    const [fingerprint] = await fingerprintTotals(db.pool, tenant, sliver, SETTINGS, NOW, { orderBy: 'p95', limit: 10, endpoint: null });
    expect(fingerprint!.histogram.nonEmpty()).toEqual(expected);
  });
});

describe('the comparison can fail', () => {
  it('tells apart ranges whose edges differ by five minutes, in every piece', async () => {
    // Were the read path to round a range's edges to 5 minutes, or read one piece twice,
    // the tests above would see other counts: the data has rows near every edge used.
    for (const [name, range] of RANGES.slice(0, 5)) {
      const shifted = { from: new Date(range.from.getTime() + 5 * MINUTE), to: range.to };
      const a = [...(await naiveEndpoints(range)).values()].reduce((s, r) => s + r.requests, 0);
      const b = [...(await naiveEndpoints(shifted)).values()].reduce((s, r) => s + r.requests, 0);
      expect([name, a === b]).toEqual([name, false]);
    }
  });

  it('sees another tenant\'s rows as a difference', async () => {
    const range = RANGES[4]![1];
    const mine = await endpointTotals(db.pool, T, range, SETTINGS, NOW, { orderBy: 'requests', limit: 100 });
    const theirs = await naiveEndpoints(range, OTHER);
    const differs = mine.some((row) => theirs.get(row.endpoint)?.requests !== row.requests);
    expect(differs).toBe(true);
  });
});
