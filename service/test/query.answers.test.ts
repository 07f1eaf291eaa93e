// POST /v1/query answers every query type with the numbers the constructed data implies:
// totals, rates and percentiles from the rollups (percentiles within 1 % of the exact
// percentile_cont over the raw rows), tables ordered as asked, and data frames shaped as
// the dashboards read them.
import { refreshRollups } from '../src/db/rollups';
import { toHistogramPrecision } from '../src/rollups/histogram';
import type { RunningService } from '../src/service';
import { createTestDatabase, type TestDatabase } from './support/db';
import {
  column, HOUR, hourStart, insertQueries, insertRequests, insertResources, insertRows, MINUTE, queryOne, times, type Frame,
} from './support/queryData';
import { post, startTestService, tokenFor } from './support/service';

const A = 'a1a1a1a1-0000-4000-8000-000000000001';
const B = 'b2b2b2b2-0000-4000-8000-000000000002';
const C = 'c3c3c3c3-0000-4000-8000-000000000003';

let db: TestDatabase;
let service: RunningService;
let url: string;
let tokenA: string;
let admin: string;
const base = hourStart(3);
const Q1 = '1001';
const Q2 = '-5';
const Q3 = '1003';

beforeAll(async () => {
  db = await createTestDatabase('query_answers');
  ({ service, url } = await startTestService(db));
  tokenA = await tokenFor(db, A, ['read']);
  admin = await tokenFor(db, null, ['read', 'admin']);

  await insertRequests(db.pool, A, times(base, 100, 30_000).map((at, i) => ({
    at, endpoint: '/api/orders', ms: i + 1, status: i < 5 ? 500 : i < 7 ? 404 : 200, userId: 'user-secret-a',
  })));
  await insertRequests(db.pool, A, times(new Date(base.getTime() + HOUR), 20, MINUTE).map((at, i) => ({
    at, endpoint: '/api/slow', ms: 500 + 10 * i, userId: 'user-secret-a',
  })));
  await insertQueries(db.pool, A, times(base, 50, MINUTE).map((at, i) => ({
    at, hash: Q1, preview: 'SELECT * FROM orders WHERE id = $1', ms: 2, endpoint: '/api/orders', requestId: `r-${i}`,
  })));
  await insertQueries(db.pool, A, times(new Date(base.getTime() + HOUR), 3, MINUTE).map((at) => ({
    at, hash: Q2, preview: 'SELECT * FROM reports WHERE owner = $1', ms: 1500, endpoint: '/api/slow',
  })));
  await insertQueries(db.pool, A, times(new Date(base.getTime() + HOUR), 10, MINUTE).map((at) => ({
    at, hash: Q3, preview: 'SELECT * FROM items WHERE report_id = $1', ms: 20, endpoint: '/api/slow', rows: 4,
  })));
  await insertResources(db.pool, A, times(base, 12, 5 * MINUTE).map((at, i) => ({
    at, cpu: 40 + i, memoryMb: 1000, memoryTotalMb: 4000, connections: 5 + i, poolMax: 20, source: 'app',
  })));
  await insertResources(db.pool, A, times(base, 12, 5 * MINUTE).map((at) => ({ at, cpu: 10, memoryMb: 200, connections: 1, source: 'worker' })));
  await insertRequests(db.pool, B, times(base, 10, MINUTE).map((at) => ({ at, endpoint: '/api/b-only', ms: 5, userId: 'user-secret-b' })));
  await refreshRollups(db.pool);
});

afterAll(async () => {
  await service?.stop();
  await db?.drop();
});

const range = () => ({ from: base.getTime() - HOUR, to: Date.now() });
const ask = (query: Record<string, unknown>, options: Partial<Parameters<typeof queryOne>[3]> = {}, token = tokenA) =>
  queryOne(url, token, query, { ...range(), ...options });

async function exactPercentile(sql: string, params: unknown[]): Promise<number> {
  return (await db.pool.query(sql, params)).rows[0].p;
}

function expectWithin(actual: unknown, expected: number, relative: number) {
  expect(typeof actual).toBe('number');
  expect(Math.abs((actual as number) - expected)).toBeLessThanOrEqual(Math.abs(expected) * relative);
}

describe('overview', () => {
  it('gives the totals, the average, a p95 within 1 % of the exact one, and the error rate of the range', async () => {
    const { status, frames } = await ask({ queryType: 'overview' });
    expect(status).toBe(200);
    const [frame] = frames;
    expect(column(frame, 'totalRequests')).toEqual([120]);
    expectWithin(column(frame, 'avgResponseTimeMs')[0], (5050 + 11900) / 120, 1e-9);
    const exact = await exactPercentile(
      `SELECT percentile_cont(0.95) WITHIN GROUP (ORDER BY response_time_ms) AS p FROM api_performance_log WHERE tenant_id = $1`, [A]);
    expectWithin(column(frame, 'p95ResponseTimeMs')[0], exact, 0.01);
    expectWithin(column(frame, 'errorRate')[0], 5 / 120, 1e-9);
    expect(column(frame, 'slowQueryCount')).toEqual([3]);
  });

  it('scores the health of the hours in range as get_performance_summary does, with the seed\'s status bands', async () => {
    const { frames } = await ask({ queryType: 'overview' });
    const summary = (await db.pool.query('SELECT health_score::float8 AS h FROM get_performance_summary($1, 5)', [A])).rows[0].h;
    const score = column(frames[0], 'healthScore')[0] as number;
    expect(score).toBeCloseTo(summary, 6);
    const expected = score >= 80 ? 'healthy' : score >= 60 ? 'degraded' : 'critical';
    expect(column(frames[0], 'status')).toEqual([expected]);
    for (const name of ['latencyDeduction', 'errorDeduction', 'slowQueryDeduction', 'resourceDeduction']) {
      expect(typeof column(frames[0], name)[0]).toBe('number');
    }
  });

  it('reports the requests per second over the elapsed part of the range and a fresh cache', async () => {
    const r = range();
    const { frames } = await ask({ queryType: 'overview' }, r);
    expectWithin(column(frames[0], 'requestsPerSecond')[0], 120 / ((Date.now() - r.from) / 1000), 0.01);
    expect(column(frames[0], 'cacheAgeSeconds')[0] as number).toBeLessThan(600);
    expect(column(frames[0], 'cacheStale')).toEqual([false]);
  });

  it('answers a range without data with no numbers and the status unknown', async () => {
    const { frames } = await ask({ queryType: 'overview' }, { from: Date.now() - 400 * 86_400_000, to: Date.now() - 390 * 86_400_000 });
    expect(column(frames[0], 'totalRequests')).toEqual([0]);
    expect(column(frames[0], 'p95ResponseTimeMs')).toEqual([null]);
    expect(column(frames[0], 'status')).toEqual(['unknown']);
  });
});

describe('series', () => {
  it('gives the health score per hour with its components, as the cache holds them', async () => {
    const { frames } = await ask({ queryType: 'healthSeries' }, { intervalMs: HOUR });
    const t = column(frames[0], 'time') as number[];
    const scores = column(frames[0], 'healthScore') as Array<number | null>;
    const cached = await db.pool.query('SELECT hour_bucket, health_score::float8 AS h FROM performance_metrics_cache WHERE tenant_id = $1', [A]);
    expect(cached.rows.length).toBeGreaterThanOrEqual(2);
    for (const row of cached.rows) {
      const i = t.indexOf(row.hour_bucket.getTime());
      expect(i).toBeGreaterThanOrEqual(0);
      expect(scores[i]).toBeCloseTo(row.h, 6);
    }
    expect(scores[t.indexOf(base.getTime() - HOUR)]).toBeNull();
    expect(frames[0]!.schema.fields.map((f) => f.name)).toEqual(
      ['time', 'healthScore', 'latencyDeduction', 'errorDeduction', 'slowQueryDeduction', 'resourceDeduction']);
  });

  it('gives p50, p95 and p99 per step from the histograms, within 1 % of the exact percentiles', async () => {
    const { frames } = await ask({ queryType: 'latencyPercentiles' }, { intervalMs: HOUR });
    const [frame] = frames;
    expect(frame!.schema.meta?.custom?.source).toBe('1h');
    const t = column(frame, 'time') as number[];
    for (const [hour, endpoint] of [[base, '/api/orders'], [new Date(base.getTime() + HOUR), '/api/slow']] as const) {
      for (const p of [50, 95, 99]) {
        const exact = await exactPercentile(
          `SELECT percentile_cont($3::float8) WITHIN GROUP (ORDER BY response_time_ms) AS p FROM api_performance_log WHERE tenant_id = $1 AND endpoint = $2`,
          [A, endpoint, p / 100]);
        expectWithin((column(frame, `p${p}`) as number[])[t.indexOf(hour.getTime())], exact, 0.01);
      }
    }
    // Written to the histograms' precision: 5 significant digits, not 17.
    const written = [50, 95, 99].flatMap((p) => (column(frame, `p${p}`) as Array<number | null>).filter((v): v is number => v !== null));
    expect(written.length).toBeGreaterThan(0);
    expect(written.filter((v) => v !== toHistogramPrecision(v))).toEqual([]);
  });

  it('merges the histograms of the rows a step spans, the same as one row\'s when a step is one row', async () => {
    // Steps of two hours over hourly rollups: each point merges two rows' histograms.
    const from = base.getTime() - 2 * HOUR;
    const { frames } = await ask({ queryType: 'latencyPercentiles' }, { from, to: base.getTime() + 2 * HOUR, intervalMs: 2 * HOUR });
    const t = column(frames[0], 'time') as number[];
    const steps = await db.pool.query(
      `SELECT date_bin('2 hours', "timestamp", timestamptz '2000-01-01') AS step,
              percentile_cont(0.95) WITHIN GROUP (ORDER BY response_time_ms) AS p
         FROM api_performance_log WHERE tenant_id = $1 GROUP BY 1`, [A]);
    expect(steps.rows.length).toBeGreaterThan(0);
    for (const row of steps.rows) expectWithin((column(frames[0], 'p95') as number[])[t.indexOf(row.step.getTime())], row.p, 0.01);
    // The same hour asked with other percentiles beside it agrees.
    const stored = await ask({ queryType: 'latencyPercentiles', percentiles: [95] }, { intervalMs: HOUR });
    const merged = await ask({ queryType: 'latencyPercentiles', percentiles: [95, 99.9] }, { intervalMs: HOUR });
    const at = (f: Frame[]) => (column(f[0], 'p95') as number[])[(column(f[0], 'time') as number[]).indexOf(base.getTime())]!;
    expect(Math.abs(at(stored.frames) - at(merged.frames)) / at(merged.frames)).toBeLessThan(1e-6);
  });

  it('names custom percentiles after their value and draws one labelled frame per endpoint', async () => {
    const { frames } = await ask({ queryType: 'latencyPercentiles', byEndpoint: true, percentiles: [99.9, 90] }, { intervalMs: HOUR });
    expect(frames.map((f) => f.schema.fields[1]!.labels?.endpoint).sort()).toEqual(['/api/orders', '/api/slow']);
    expect(frames[0]!.schema.fields.map((f) => f.name)).toEqual(['time', 'p90', 'p99.9']);
  });

  it('draws percentiles per endpoint, the same whichever others are asked, empty steps null', async () => {
    const stored = await post(`${url}/v1/query`, tokenA, {
      range: range(), intervalMs: HOUR, queries: [{ refId: 'A', queryType: 'latencyPercentiles', byEndpoint: true, percentiles: [95, 50] }],
    });
    expect(stored.status).toBe(200);
    expect(stored.headers.get('content-type')).toBe('application/json; charset=utf-8');
    const merged = await ask({ queryType: 'latencyPercentiles', byEndpoint: true, percentiles: [50, 95, 99.9] }, { intervalMs: HOUR });
    const storedFrames: Frame[] = stored.body.results.A.frames;
    const byName = (frames: Frame[]) => new Map(frames.map((f) => [f.schema.name, f]));
    expect([...byName(storedFrames).keys()].sort()).toEqual(['/api/orders', '/api/slow']);
    for (const [name, f] of byName(storedFrames)) {
      const other = byName(merged.frames).get(name)!;
      expect(column(f, 'time')).toEqual(column(other, 'time'));
      for (const p of ['p50', 'p95']) {
        const a = column(f, p) as Array<number | null>;
        const b = column(other, p) as Array<number | null>;
        expect(a.map((v) => v === null)).toEqual(b.map((v) => v === null));
        expect(a.filter((v) => v !== null).length).toBeGreaterThan(0);
        a.forEach((v, k) => {
          if (v !== null) expect(Math.abs(v - b[k]!) / b[k]!).toBeLessThan(1e-6);
        });
      }
    }
    // Each endpoint has requests in one hour only: the other steps are empty.
    const orders = byName(storedFrames).get('/api/orders')!;
    const t = column(orders, 'time') as number[];
    expect((column(orders, 'p95') as Array<number | null>).filter((v) => v !== null)).toHaveLength(1);
    expect((column(orders, 'p95') as number[])[t.indexOf(base.getTime())]).not.toBeNull();
  });

  it('reads a window of up to an hour with a step under 5 minutes from raw rows, longer ones from the rollups', async () => {
    const window = { from: base.getTime(), to: base.getTime() + 30 * MINUTE };
    const total = await ask({ queryType: 'throughput' }, { ...window, intervalMs: MINUTE });
    expect(total.frames[0]!.schema.meta?.custom).toEqual({ stepMs: MINUTE, source: 'raw' });
    expect((column(total.frames[0], 'requestsPerSecond') as number[]).reduce((a, b) => a + b, 0) * 60).toBeCloseTo(60, 6);
    const seconds = await ask({ queryType: 'throughput' }, { ...window, intervalMs: 7_000 });
    expect(seconds.frames[0]!.schema.meta?.custom).toEqual({ stepMs: 7_000, source: 'raw' });
    const oneEndpoint = await ask({ queryType: 'throughput', endpoint: '/api/orders' }, { ...window, intervalMs: MINUTE });
    expect(oneEndpoint.frames[0]!.schema.meta?.custom).toEqual({ stepMs: MINUTE, source: 'raw' });
    expect((column(oneEndpoint.frames[0], 'requestsPerSecond') as number[]).reduce((a, b) => a + b, 0) * 60).toBeCloseTo(60, 6);
    const long = await ask({ queryType: 'throughput' }, { from: base.getTime(), to: base.getTime() + 30 * MINUTE + 2 * HOUR, intervalMs: MINUTE });
    expect(long.frames[0]!.schema.meta?.custom).toEqual({ stepMs: 5 * MINUTE, source: '5m' });
  });

  it('gives the exact percentiles of the raw rows in a short window', async () => {
    const window = { from: base.getTime(), to: base.getTime() + 30 * MINUTE };
    const { frames } = await ask({ queryType: 'latencyPercentiles', percentiles: [50, 95, 99] }, { ...window, intervalMs: 2 * MINUTE });
    expect(frames[0]!.schema.meta?.custom).toEqual({ stepMs: 2 * MINUTE, source: 'raw' });
    const t = column(frames[0], 'time') as number[];
    expect(t).toHaveLength(15);
    for (const [name, fraction] of [['p50', 0.5], ['p95', 0.95], ['p99', 0.99]] as const) {
      for (let k = 0; k < t.length; k++) {
        const exact = await exactPercentile(
          `SELECT percentile_cont($4::float8) WITHIN GROUP (ORDER BY response_time_ms) AS p FROM api_performance_log
            WHERE tenant_id = $1 AND "timestamp" >= $2 AND "timestamp" < $3`,
          [A, new Date(t[k]!), new Date(t[k]! + 2 * MINUTE), fraction]);
        expectWithin((column(frames[0], name) as number[])[k], exact, 1e-9);
      }
    }
  });

  it('shows requests not yet refreshed in a short window and in a range\'s edges, the same before and after the refresh', async () => {
    const E = 'e5e5e5e5-0000-4000-8000-000000000005';
    const tokenE = await tokenFor(db, E, ['read']);
    await insertRequests(db.pool, E, times(base, 30, 10_000).map((at, i) => ({ at, endpoint: '/late', ms: 10 + i, status: i < 3 ? 503 : 200 })));
    const window = { from: base.getTime(), to: base.getTime() + 10 * MINUTE, intervalMs: MINUTE };
    const before = await queryOne(url, tokenE, { queryType: 'throughput' }, window);
    expect(before.frames[0]!.schema.meta?.custom).toEqual({ stepMs: MINUTE, source: 'raw' });
    expect((column(before.frames[0], 'requestsPerSecond') as number[]).reduce((a, b) => a + b, 0) * 60).toBeCloseTo(30, 6);
    expect((column(before.frames[0], 'errorsPerSecond') as number[]).reduce((a, b) => a + b, 0) * 60).toBeCloseTo(3, 6);
    // A range from within an hour: its partial hours are raw rows.
    const edges = { from: base.getTime() + 10_000, to: base.getTime() + 3 * HOUR + 10_000 };
    const totalsBefore = await queryOne(url, tokenE, { queryType: 'overview' }, edges);
    expect(column(totalsBefore.frames[0], 'totalRequests')).toEqual([29]);
    await refreshRollups(db.pool);
    const after = await queryOne(url, tokenE, { queryType: 'throughput' }, window);
    expect(after.frames).toEqual(before.frames);
    const totalsAfter = await queryOne(url, tokenE, { queryType: 'overview' }, edges);
    expect(column(totalsAfter.frames[0], 'totalRequests')).toEqual([29]);
    expect(column(totalsAfter.frames[0], 'p95ResponseTimeMs')).toEqual(column(totalsBefore.frames[0], 'p95ResponseTimeMs'));
  });

  it('answers from the 5-minute rollups, with a notice, when a short window holds more raw rows than it may read', async () => {
    const D = 'd4d4d4d4-0000-4000-8000-000000000004';
    await insertRows(db.pool,
      `INSERT INTO api_performance_log ("timestamp", tenant_id, response_time_ms, status_code, method, endpoint)
       SELECT $2::timestamptz + (i % 1800) * interval '1 second', $1, 5, 200, 'GET', '/bulk' FROM generate_series(1, 50001) i`,
      [D, base]);
    await refreshRollups(db.pool);
    const tokenD = await tokenFor(db, D, ['read']);
    const window = { from: base.getTime(), to: base.getTime() + 30 * MINUTE };
    const sumOf = (frames: Frame[], stepMs: number) => (column(frames[0], 'requestsPerSecond') as number[]).reduce((a, b) => a + b, 0) * stepMs / 1000;

    for (const endpoint of [undefined, '/bulk']) {
      const perSecond = await queryOne(url, tokenD, { queryType: 'throughput', ...(endpoint ? { endpoint } : {}) }, { ...window, intervalMs: 1_000 });
      expect(perSecond.frames[0]!.schema.meta?.custom).toEqual({ stepMs: 5 * MINUTE, source: '5m' });
      expect(perSecond.frames[0]!.schema.meta?.notices?.[0]?.text).toBe('More than 50000 requests in this window: shown in 5-minute steps from the rollups.');
      expect(sumOf(perSecond.frames, 5 * MINUTE)).toBeCloseTo(50001, 3);
    }
  });

  it('gives requests and errors per second and the error rates per step, zero where there was no traffic', async () => {
    const { frames } = await ask({ queryType: 'throughput', endpoint: '/api/orders' }, { intervalMs: HOUR });
    const t = column(frames[0], 'time') as number[];
    const at = (name: string, time: number) => (column(frames[0], name) as number[])[t.indexOf(time)];
    expect(at('requestsPerSecond', base.getTime())).toBeCloseTo(100 / 3600, 9);
    expect(at('errorsPerSecond', base.getTime())).toBeCloseTo(5 / 3600, 9);
    expect(at('errorRate', base.getTime())).toBeCloseTo(0.05, 9);
    expect(at('clientErrorRate', base.getTime())).toBeCloseTo(0.02, 9);
    expect(at('requestsPerSecond', base.getTime() + HOUR)).toBe(0);
    expect(at('errorRate', base.getTime() + HOUR)).toBeNull();
    expect(frames[0]!.schema.fields[1]!.labels).toEqual({ endpoint: '/api/orders' });
  });

  it('gives resources per source with the pool usage against its maximum', async () => {
    const { frames } = await ask({ queryType: 'resources' }, { intervalMs: 5 * MINUTE });
    expect(frames.map((f) => f.schema.fields[1]!.labels?.source).sort()).toEqual(['app', 'worker']);
    const app = frames.find((f) => f.schema.fields[1]!.labels?.source === 'app');
    const t = column(app, 'time') as number[];
    const i = t.indexOf(base.getTime() + 15 * MINUTE);
    expect((column(app, 'poolUsedPercent') as number[])[i]).toBeCloseTo((100 * 8) / 20, 6);
    expect((column(app, 'cpuUsagePercent') as number[])[i]).toBeCloseTo(43, 6);
    expect((column(app, 'memoryUsedPercent') as number[])[i]).toBeCloseTo(25, 6);
  });
});

describe('busiest endpoints of a per-endpoint series', () => {
  const E = 'abcabcab-0000-4000-8000-0000000000ab';
  const hour = hourStart(50);
  const at = (minutes: number) => new Date(hour.getTime() + minutes * MINUTE);

  it('ranks the endpoints over the steps drawn, from the first step\'s start, busiest first', async () => {
    // /early has 30 requests in the first hour before the range starts and 1 after;
    // /within has 5, all after. Over the range alone /within is busier; over the hours
    // drawn, /early is, and its first step shows all 31 requests.
    await insertRequests(db.pool, E, [
      ...times(at(1), 30, MINUTE).map((t) => ({ at: t, endpoint: '/early', ms: 100 })),
      { at: at(41), endpoint: '/early', ms: 100 },
      ...times(at(45), 5, MINUTE).map((t) => ({ at: t, endpoint: '/within', ms: 7 })),
    ]);
    await refreshRollups(db.pool);
    const tokenE = await tokenFor(db, E, ['read']);
    const { frames } = await queryOne(url, tokenE, { queryType: 'latencyPercentiles', byEndpoint: true, percentiles: [50] },
      { from: at(40).getTime(), to: Date.now(), intervalMs: HOUR });
    expect(frames.map((f) => f.schema.name)).toEqual(['/early', '/within']);
    const t = column(frames[0], 'time') as number[];
    expect(t[0]).toBe(hour.getTime());
    expectWithin((column(frames[0], 'p50') as number[])[0], 100, 0.01);
  });
});

describe('slow queries, one fingerprint, endpoints', () => {
  const hashes = (frame: Frame | undefined) => column(frame, 'queryHash');
  const hex = (decimal: string) => BigInt.asUintN(64, BigInt(decimal)).toString(16).padStart(16, '0');

  it.each([
    ['total', [Q2, Q3, Q1]],
    ['avg', [Q2, Q3, Q1]],
    ['count', [Q1, Q3, Q2]],
    ['p95', [Q2, Q3, Q1]],
  ])('orders fingerprints by %s', async (orderBy, order) => {
    const { frames } = await ask({ queryType: 'slowQueries', orderBy });
    expect(hashes(frames[0])).toEqual(order.map(hex));
  });

  it('shows each fingerprint with its preview, numbers, endpoints, and first and last seen', async () => {
    const { frames } = await ask({ queryType: 'slowQueries', limit: 1 });
    const [frame] = frames;
    expect(hashes(frame)).toEqual(['fffffffffffffffb']);
    expect(column(frame, 'query')).toEqual(['SELECT * FROM reports WHERE owner = $1']);
    expect(column(frame, 'calls')).toEqual([3]);
    expect(column(frame, 'totalMs')).toEqual([4500]);
    expect(column(frame, 'slowCalls')).toEqual([3]);
    expectWithin(column(frame, 'p95Ms')[0], 1500, 0.01);
    expect(column(frame, 'endpoints')).toEqual(['/api/slow']);
    expect(column(frame, 'firstSeen')).toEqual([base.getTime() + HOUR]);
    expect(column(frame, 'lastSeen')).toEqual([base.getTime() + HOUR + 2 * MINUTE]);
  });

  it('keeps to the fingerprints an endpoint issues when asked for one', async () => {
    const { frames } = await ask({ queryType: 'slowQueries', endpoint: '/api/orders' });
    expect(hashes(frames[0])).toEqual([hex(Q1)]);
  });

  it('gives one fingerprint\'s latency over time, its totals and its endpoints', async () => {
    const { frames } = await ask({ queryType: 'queryDetail', queryHash: 'fffffffffffffffb' }, { intervalMs: HOUR });
    expect(frames.map((f) => f.schema.name)).toEqual(['latency', 'query', 'endpoints']);
    const [latency, query, endpoints] = frames;
    const t = column(latency, 'time') as number[];
    expectWithin((column(latency, 'p95Ms') as number[])[t.indexOf(base.getTime() + HOUR)], 1500, 0.01);
    expect((column(latency, 'avgMs') as number[])[t.indexOf(base.getTime())]).toBeNull();
    expect(column(query, 'calls')).toEqual([3]);
    expect(column(query, 'query')).toEqual(['SELECT * FROM reports WHERE owner = $1']);
    expect(column(endpoints, 'endpoint')).toEqual(['/api/slow']);
    expect(column(endpoints, 'calls')).toEqual([3]);
  });

  it('gives the endpoints table with rates, percentiles and the share of time in the database', async () => {
    const { frames } = await ask({ queryType: 'endpoints' });
    const [frame] = frames;
    expect(column(frame, 'endpoint')).toEqual(['/api/slow', '/api/orders']);
    expect(column(frame, 'requests')).toEqual([20, 100]);
    expect((column(frame, 'errorRate') as number[])[1]).toBeCloseTo(0.05, 9);
    expect((column(frame, 'dbShare') as number[])[0]).toBeCloseTo(4700 / 11900, 6);
    expect((column(frame, 'dbShare') as number[])[1]).toBeCloseTo(100 / 5050, 6);
    expect((column(frame, 'dbCallsPerRequest') as number[])[0]).toBeCloseTo(13 / 20, 9);
    expectWithin((column(frame, 'p95Ms') as number[])[1], 95.05, 0.01);
  });

  it('orders endpoints by requests per second, error rate and database share, and cuts at the limit', async () => {
    expect(column((await ask({ queryType: 'endpoints', orderBy: 'rps' })).frames[0], 'endpoint')).toEqual(['/api/orders', '/api/slow']);
    expect(column((await ask({ queryType: 'endpoints', orderBy: 'errorRate' })).frames[0], 'endpoint')).toEqual(['/api/orders', '/api/slow']);
    expect(column((await ask({ queryType: 'endpoints', orderBy: 'dbShare', limit: 1 })).frames[0], 'endpoint')).toEqual(['/api/slow']);
  });
});

describe('storage, recommendations, annotations, variables', () => {
  it('lists the partitions of each raw log with sizes against the alert threshold, and a size series', async () => {
    const { frames } = await ask({ queryType: 'storage' });
    expect(frames.map((f) => f.schema.name)).toEqual(['tables', 'partitions', 'growth']);
    const [tables, partitions, growth] = frames;
    expect(column(tables, 'table')).toEqual(['api_performance_log', 'query_performance_log', 'system_resource_metrics']);
    const counted = (await db.pool.query(
      `SELECT count(*)::int AS n FROM pg_inherits WHERE inhparent = 'api_performance_log'::regclass`)).rows[0].n;
    expect(column(tables, 'partitions')[0]).toBe(counted);
    expect(column(tables, 'partitionThreshold')).toEqual([35, 35, 35]);
    expect(column(partitions, 'partition')).toContain('api_performance_log_default');
    expect((column(tables, 'totalBytes') as number[])[0]).toBeGreaterThan(0);
    expect(growth!.schema.fields.filter((f) => f.name === 'totalBytes').map((f) => f.labels?.table).sort())
      .toEqual(['api_performance_log', 'query_performance_log', 'system_resource_metrics']);
  });

  it('returns stored recommendations seen in the range, filtered by severity and fingerprint', async () => {
    const seen = new Date(base.getTime() + 10 * MINUTE);
    await db.pool.query(
      `INSERT INTO optimization_recommendations (tenant_id, id, kind, severity, title, evidence, action, query_hash, endpoint, first_seen, last_seen)
       VALUES ($1, '00000000000000a1', 'missingIndex', 'critical', 'Missing index on reports (owner)', '{"calls": 3}', 'CREATE INDEX CONCURRENTLY reports_owner_idx ON public.reports (owner);', -5, '/api/slow', $2, $2),
              ($1, '00000000000000a2', 'unusedIndex', 'info', 'Unused index x', '{}', 'DROP INDEX CONCURRENTLY public.x;', NULL, NULL, $2, $2),
              ($3, '00000000000000b1', 'unusedIndex', 'info', 'Tenant B only', '{}', 'DROP INDEX CONCURRENTLY public.y;', NULL, NULL, $2, $2)`,
      [A, seen, B]);
    const all = await ask({ queryType: 'recommendations' });
    expect(column(all.frames[0], 'title')).toEqual(['Missing index on reports (owner)', 'Unused index x']);
    const critical = await ask({ queryType: 'recommendations', severity: 'critical' });
    expect(column(critical.frames[0], 'id')).toEqual(['00000000000000a1']);
    expect(column(critical.frames[0], 'evidence')).toEqual(['{"calls":3}']);
    const byHash = await ask({ queryType: 'recommendations', queryHash: 'fffffffffffffffb' });
    expect(column(byHash.frames[0], 'queryHash')).toEqual(['fffffffffffffffb']);
    const annotations = await ask({ queryType: 'annotations', source: 'recommendations' });
    expect(column(annotations.frames[0], 'time')).toEqual([seen.getTime(), seen.getTime()]);
    expect(column(annotations.frames[0], 'tags')).toContainEqual(['recommendation', 'missingIndex', 'critical']);
  });

  it('marks the hours in which the health score crossed 80 or 60, both ways', async () => {
    const hours = [90, 75, 50, 85].map((score, i) => [hourStart(10 - i), score] as const);
    for (const [hour, score] of hours) {
      await db.pool.query(`INSERT INTO performance_metrics_cache (tenant_id, hour_bucket, total_requests, health_score) VALUES ($1, $2, 1, $3)`, [C, hour, score]);
    }
    const tokenC = await tokenFor(db, C, ['read']);
    const { frames } = await queryOne(url, tokenC, { queryType: 'annotations', source: 'healthThresholds' }, { from: hourStart(11).getTime(), to: Date.now() });
    expect(column(frames[0], 'title')).toEqual(['Health below 80', 'Health below 60', 'Health back to 80 or above', 'Health back to 60 or above']);
    expect(column(frames[0], 'time')).toEqual([hours[1]![0].getTime(), hours[2]![0].getTime(), hours[3]![0].getTime(), hours[3]![0].getTime()]);
    expect(column(frames[0], 'tags')).toEqual([['health', 'warning'], ['health', 'critical'], ['health', 'recovered'], ['health', 'recovered']]);
  });

  it('offers the endpoints and fingerprints of the tenant as variable values', async () => {
    const endpoints = await ask({ queryType: 'variable', variable: 'endpoints' });
    expect(column(endpoints.frames[0], 'value')).toEqual(['/api/orders', '/api/slow']);
    const fingerprints = await ask({ queryType: 'variable', variable: 'fingerprints' });
    expect((column(fingerprints.frames[0], 'value') as string[]).sort()).toEqual([hex(Q1), hex(Q3), 'fffffffffffffffb'].sort());
    expect(column(fingerprints.frames[0], 'text')).toContain(`${hex(Q1)} SELECT * FROM orders WHERE id = $1`);
  });

  it('lists every tenant for an admin token and only its own for a tenant token', async () => {
    const own = await ask({ queryType: 'variable', variable: 'tenants' });
    expect(column(own.frames[0], 'value')).toEqual([A]);
    const all = await ask({ queryType: 'variable', variable: 'tenants' }, {}, admin);
    expect(column(all.frames[0], 'value')).toEqual(expect.arrayContaining([A, B]));
  });

  function hex(decimal: string) {
    return BigInt.asUintN(64, BigInt(decimal)).toString(16).padStart(16, '0');
  }
});
