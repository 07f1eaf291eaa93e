// Series in steps of stored resolutions (src/rollups/plan.ts chooseStep): the step the
// service answers in for what Grafana asks, its config.interval on the time field, and,
// at every step length, answers equal to the naive merge of the raw rows: counts exactly,
// percentiles within the histogram's 1 % of percentile_cont.
import { refreshRollups } from '../src/db/rollups';
import type { RunningService } from '../src/service';
import { createTestDatabase, type TestDatabase } from './support/db';
import { column, HOUR, insertQueries, insertRequests, insertResources, MINUTE, queryOne, times, type Frame } from './support/queryData';
import { startTestService, tokenFor } from './support/service';

const T = 'd4d4d4d4-0000-4000-8000-000000000004';
const DAY = 24 * HOUR;
const ENDPOINTS = ['/e0', '/e1', '/e2', '/e3', '/e4', '/e5'];

let db: TestDatabase;
let service: RunningService;
let url: string;
let token: string;
/** Three days of data from here (a UTC midnight four days ago), with no requests in hours 30 to 33. */
const start = Math.floor(Date.now() / DAY) * DAY - 4 * DAY;
const end = start + 3 * DAY;
const GAP = { from: start + 30 * HOUR, to: start + 33 * HOUR };

beforeAll(async () => {
  db = await createTestDatabase('series_steps');
  ({ service, url } = await startTestService(db));
  token = await tokenFor(db, T, ['read']);
  // A request every 2 minutes and 10 seconds, on a skewed mix of endpoints, with
  // latencies spread over three orders of magnitude and some errors.
  const moments = times(new Date(start + 7_000), Math.floor((3 * DAY) / 130_000), 130_000)
    .filter((m) => m.getTime() < GAP.from || m.getTime() >= GAP.to);
  await insertRequests(db.pool, T, moments.map((at, i) => ({
    at,
    endpoint: ENDPOINTS[Math.floor(ENDPOINTS.length * ((i * 0.618) % 1) ** 2)]!,
    ms: 0.5 + ((i * 7919) % 1000) * (1 + (i % 7)),
    status: i % 23 === 0 ? 500 : i % 17 === 0 ? 404 : 200,
  })));
  await insertQueries(db.pool, T, moments.filter((_, i) => i % 3 === 0).map((at, i) => ({
    at, hash: '91', preview: 'SELECT 1', ms: 1 + ((i * 31) % 200), endpoint: '/e0',
  })));
  await insertResources(db.pool, T, times(new Date(start), 3 * 24 * 12, 5 * MINUTE).map((at, i) => ({
    at, cpu: 20 + (i % 50), memoryMb: 1000, memoryTotalMb: 4000, connections: 3 + (i % 5), poolMax: 20, source: 'app',
  })));
  await refreshRollups(db.pool);
}, 300_000);

afterAll(async () => {
  await service?.stop();
  await db?.drop();
});

const stepOf = (frame: Frame | undefined) => frame!.schema.meta?.custom as { stepMs: number; source: string };
const timeField = (frame: Frame | undefined) => frame!.schema.fields.find((f) => f.name === 'time')!;

/** Per step of `stepMs` (on the 2000-01-01 grid), the raw rows' count and percentiles, optionally for one endpoint. */
async function naive(stepMs: number, endpoint?: string): Promise<Map<number, { n: number; errors: number; p: number[] }>> {
  const result = await db.pool.query(
    `SELECT date_bin(make_interval(secs => $2::float8 / 1000), "timestamp", timestamptz '2000-01-01') AS step, count(*)::int AS n,
            count(*) FILTER (WHERE status_code >= 500)::int AS errors,
            percentile_cont(ARRAY[0.5, 0.95, 0.99]) WITHIN GROUP (ORDER BY response_time_ms) AS p
       FROM api_performance_log WHERE tenant_id = $1 AND ($3::text IS NULL OR endpoint = $3)
      GROUP BY 1`, [T, stepMs, endpoint ?? null]);
  return new Map(result.rows.map((r) => [r.step.getTime(), { n: r.n, errors: r.errors, p: r.p }]));
}

function expectWithin(label: string, actual: unknown, expected: number, relative: number) {
  expect([label, typeof actual]).toEqual([label, 'number']);
  const ok = Math.abs((actual as number) - expected) <= Math.abs(expected) * relative;
  expect([label, actual, expected, ok]).toEqual([label, actual, expected, true]);
}

/** Every step's p50, p95, p99 within 1 % of the raw rows', and null where the step had no requests. */
async function expectPercentilesMatch(frame: Frame | undefined, stepMs: number, endpoint?: string) {
  const exact = await naive(stepMs, endpoint);
  const t = column(frame, 'time') as number[];
  let compared = 0;
  t.forEach((time, k) => {
    const row = exact.get(time);
    ['p50', 'p95', 'p99'].forEach((name, i) => {
      const value = (column(frame, name) as Array<number | null>)[k];
      if (!row) expect([new Date(time).toISOString(), name, value]).toEqual([new Date(time).toISOString(), name, null]);
      else {
        expectWithin(`${new Date(time).toISOString()} ${name}`, value, row.p[i]!, 0.01);
        compared++;
      }
    });
  });
  return compared;
}

async function expectCountsMatch(frame: Frame | undefined, stepMs: number, endpoint?: string) {
  const exact = await naive(stepMs, endpoint);
  const t = column(frame, 'time') as number[];
  const rps = column(frame, 'requestsPerSecond') as number[];
  const eps = column(frame, 'errorsPerSecond') as number[];
  let total = 0;
  t.forEach((time, k) => {
    const row = exact.get(time);
    expect([new Date(time).toISOString(), Math.round(rps[k]! * stepMs / 1000)]).toEqual([new Date(time).toISOString(), row?.n ?? 0]);
    expect([new Date(time).toISOString(), Math.round(eps[k]! * stepMs / 1000)]).toEqual([new Date(time).toISOString(), row?.errors ?? 0]);
    total += row?.n ?? 0;
  });
  return total;
}

describe('series steps at stored resolutions', () => {
  // The whole span: every step whole, so each compares with all of its raw rows.
  const range = { from: start, to: end };

  it('reads three days at 100 points in hourly rows (72 points), not 45-minute steps of 5-minute rows', async () => {
    // Grafana's interval for three days over 100 points: 43.2 minutes rounded to 30.
    const { frames } = await queryOne(url, token, { queryType: 'latencyPercentiles' }, { ...range, intervalMs: 30 * MINUTE, maxDataPoints: 100 });
    expect(stepOf(frames[0])).toEqual({ stepMs: HOUR, source: '1h' });
    expect(timeField(frames[0]).config).toEqual({ interval: HOUR });
    expect((column(frames[0], 'time') as number[]).length).toBe(72);
    expect(await expectPercentilesMatch(frames[0], HOUR)).toBeGreaterThan(60 * 3);
    const gap = (column(frames[0], 'time') as number[]).indexOf(GAP.from);
    expect((column(frames[0], 'p95') as Array<number | null>).slice(gap, gap + 3)).toEqual([null, null, null]);
  });

  // One endpoint's 5-minute rows are kept for the current and previous day only
  // (src/rollups/plan.ts fineRollupStart): over these older days its 20-minute ask gets
  // hourly steps, the tenant's total 20-minute ones (and 30-minute ones from its own
  // 30-minute rows).
  it.each([
    ['20-minute steps of 5-minute rows', { intervalMs: 15 * MINUTE, maxDataPoints: 240 }, { stepMs: 20 * MINUTE, source: '5m' }, { stepMs: HOUR, source: '1h' }],
    ['30-minute steps of the total\'s 30-minute rows', { intervalMs: 30 * MINUTE, maxDataPoints: 240 }, { stepMs: 30 * MINUTE, source: '30m' }, { stepMs: HOUR, source: '1h' }],
    ['2-hour steps of hourly rows', { intervalMs: 2 * HOUR, maxDataPoints: 1000 }, { stepMs: 2 * HOUR, source: '1h' }, null],
    ['6-hour steps of hourly rows for an interval of 5 hours', { intervalMs: 5 * HOUR, maxDataPoints: 1000 }, { stepMs: 6 * HOUR, source: '1h' }, null],
    ['daily steps', { intervalMs: 12 * HOUR, maxDataPoints: 4 }, { stepMs: DAY, source: '1d' }, null],
  ])('merges %s into the raw rows\' counts and percentiles, tenant-wide and for one endpoint', async (_label, ask, expected, forEndpoint) => {
    const latency = await queryOne(url, token, { queryType: 'latencyPercentiles' }, { ...range, ...ask });
    expect(stepOf(latency.frames[0])).toEqual(expected);
    expect(timeField(latency.frames[0]).config).toEqual({ interval: expected.stepMs });
    expect(await expectPercentilesMatch(latency.frames[0], expected.stepMs)).toBeGreaterThan(0);
    const throughput = await queryOne(url, token, { queryType: 'throughput' }, { ...range, ...ask });
    expect(stepOf(throughput.frames[0])).toEqual(expected);
    expect(timeField(throughput.frames[0]).config).toEqual({ interval: expected.stepMs });
    const all = (await db.pool.query('SELECT count(*)::int AS n FROM api_performance_log WHERE tenant_id = $1', [T])).rows[0].n;
    expect(await expectCountsMatch(throughput.frames[0], expected.stepMs)).toBe(all);

    const endpointStep = forEndpoint ?? expected;
    const one = await queryOne(url, token, { queryType: 'latencyPercentiles', endpoint: '/e1' }, { ...range, ...ask });
    expect(stepOf(one.frames[0])).toEqual(endpointStep);
    expect(await expectPercentilesMatch(one.frames[0], endpointStep.stepMs, '/e1')).toBeGreaterThan(0);
    const oneCounts = await queryOne(url, token, { queryType: 'throughput', endpoint: '/e1' }, { ...range, ...ask });
    expect(await expectCountsMatch(oneCounts.frames[0], endpointStep.stepMs, '/e1')).toBeGreaterThan(0);
  });

  it('draws each endpoint\'s p95 as the per-endpoint panel asks, every step its raw rows\'', async () => {
    // Three days at 1800 points: Grafana's interval is 20 minutes, and an endpoint's rows
    // before the fine window are hourly. A step of one row at p95 reads only the top of
    // its histogram (packedTop).
    const { frames } = await queryOne(url, token, { queryType: 'latencyPercentiles', byEndpoint: true, percentiles: [95] },
      { ...range, intervalMs: 20 * MINUTE, maxDataPoints: 1800 });
    expect(frames.map((f) => f.schema.name).sort()).toEqual(ENDPOINTS);
    let compared = 0;
    for (const f of frames) {
      expect(stepOf(f)).toEqual({ stepMs: HOUR, source: '1h' });
      const exact = await naive(HOUR, f.schema.name);
      const p95 = column(f, 'p95') as Array<number | null>;
      (column(f, 'time') as number[]).forEach((time, k) => {
        const row = exact.get(time);
        const at = `${f.schema.name} ${new Date(time).toISOString()}`;
        if (!row) expect([at, p95[k]]).toEqual([at, null]);
        else {
          expectWithin(at, p95[k], row.p[1]!, 0.01);
          compared++;
        }
      });
    }
    expect(compared).toBeGreaterThan(3 * 69);
  });

  it('tells Grafana the step of every series it answers, on the time field', async () => {
    const ask = { ...range, intervalMs: 30 * MINUTE, maxDataPoints: 100 };
    for (const query of [
      { queryType: 'healthSeries' },
      { queryType: 'resources' },
      { queryType: 'queryDetail', queryHash: '000000000000005b' },
      { queryType: 'latencyPercentiles', byEndpoint: true, percentiles: [95] },
    ]) {
      const { status, frames } = await queryOne(url, token, query, ask);
      expect([query.queryType, status]).toEqual([query.queryType, 200]);
      const series = frames.filter((f) => f.schema.fields[0]?.name === 'time');
      expect([query.queryType, series.length > 0]).toEqual([query.queryType, true]);
      for (const f of series) {
        expect([query.queryType, timeField(f).config.interval]).toEqual([query.queryType, stepOf(f).stepMs]);
        const t = column(f, 'time') as number[];
        for (let k = 1; k < t.length; k++) expect(t[k]! - t[k - 1]!).toBe(stepOf(f).stepMs);
      }
    }
  });

  // Last: it removes the per-endpoint rows.
  it('reads the tenant-wide series from the tenant-level rows, not from every endpoint\'s', async () => {
    const ask = { ...range, intervalMs: 2 * HOUR, maxDataPoints: 1000 };
    const before = await queryOne(url, token, { queryType: 'latencyPercentiles' }, ask);
    const counts = await queryOne(url, token, { queryType: 'throughput' }, ask);
    const removed = await db.pool.query(`DELETE FROM api_metrics_rollup WHERE tenant_id = $1 AND resolution = '1h' AND endpoint <> ''`, [T]);
    expect(removed.rowCount).toBeGreaterThan(72);
    expect((await queryOne(url, token, { queryType: 'latencyPercentiles' }, ask)).frames).toEqual(before.frames);
    expect((await queryOne(url, token, { queryType: 'throughput' }, ask)).frames).toEqual(counts.frames);
    // While one endpoint's series has nothing left to read.
    const one = await queryOne(url, token, { queryType: 'throughput', endpoint: '/e1' }, ask);
    expect((column(one.frames[0], 'requestsPerSecond') as number[]).every((v) => v === 0)).toBe(true);
  });
});
