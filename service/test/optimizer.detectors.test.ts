// The optimization engine's detectors on constructed data in a real PostgreSQL: each
// fires on the case it is for and stays silent on the near miss; the engine keeps ids
// and first_seen across runs and resolves what it no longer sees.
import { nPlusOneGroups } from '../src/db/optimizerWindow';
import { refreshRollups } from '../src/db/rollups';
import { highErrorRateDetector } from '../src/optimizer/detectors/highErrorRate';
import { nPlusOneDetector } from '../src/optimizer/detectors/nPlusOne';
import { partitionsDetector } from '../src/optimizer/detectors/partitions';
import { resourcePressureDetector } from '../src/optimizer/detectors/resourcePressure';
import { slowEndpointDetector } from '../src/optimizer/detectors/slowEndpoint';
import { staleCacheDetector } from '../src/optimizer/detectors/staleCache';
import { runOptimizer } from '../src/optimizer/engine';
import { recommendationId } from '../src/optimizer/recommendation';
import { createTestDatabase, type TestDatabase } from './support/db';
import { findingsOf, optimizerSettings } from './support/optimizer';
import { insertQueries, insertRequests, insertResources, MINUTE, times } from './support/queryData';

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase('optimizer');
});
afterAll(async () => db?.drop());

/** A minute-aligned start `minutes` ago: inside the engine's 60-minute window. */
const ago = (minutes: number) => new Date(Math.floor(Date.now() / MINUTE) * MINUTE - minutes * MINUTE);

describe('slow endpoint and high error rate', () => {
  const T = 'e1e1e1e1-0000-4000-8000-000000000001';

  beforeAll(async () => {
    const requests = (endpoint: string, n: number, ms: number, errors = 0) =>
      times(ago(30), n, 20_000).map((at, i) => ({ at, endpoint, ms, status: i < errors ? 500 : 200 }));
    await insertRequests(db.pool, T, [
      ...requests('/slow', 30, 300),
      ...requests('/slower', 30, 800),
      ...requests('/fast', 30, 20),
      ...requests('/rare', 5, 900),
      ...requests('/errors', 40, 10, 4),
      ...requests('/fine', 40, 10, 1),
    ]);
    await refreshRollups(db.pool);
    await runOptimizer(db.pool, optimizerSettings(), { detectors: [slowEndpointDetector, highErrorRateDetector] });
  });

  it('flags an endpoint whose p95 is above the target, critical above four times it', async () => {
    const found = await findingsOf(db.pool, T, 'slowEndpoint');
    expect(found.map((f) => [f.endpoint, f.severity])).toEqual([['/slow', 'warning'], ['/slower', 'critical']]);
    expect(found[0]!.evidence).toMatchObject({ endpoint: '/slow', requests: 30, targetMs: 100 });
    expect(Math.abs(found[0]!.evidence.p95Ms - 300) / 300).toBeLessThan(0.01);
    expect(found[0]!.id).toBe(recommendationId('slowEndpoint', '/slow'));
    expect(found[0]!.action).toContain('/slow');
  });

  it('leaves alone a fast endpoint, and one with too few requests to judge', async () => {
    const endpoints = (await findingsOf(db.pool, T, 'slowEndpoint')).map((f) => f.endpoint);
    expect(endpoints).not.toContain('/fast');
    expect(endpoints).not.toContain('/rare');
  });

  it('flags an endpoint above the error-rate threshold and not one below it', async () => {
    const found = await findingsOf(db.pool, T, 'highErrorRate');
    expect(found.map((f) => [f.endpoint, f.severity])).toEqual([['/errors', 'critical']]);
    expect(found[0]!.evidence).toMatchObject({ requests: 40, serverErrors: 4, errorRatePercent: 10, thresholdPercent: 5 });
  });
});

describe('resource pressure', () => {
  const T = 'e2e2e2e2-0000-4000-8000-000000000002';

  beforeAll(async () => {
    const bucket = new Date(Math.floor(ago(20).getTime() / (5 * MINUTE)) * 5 * MINUTE);
    const samples = (source: string, rows: Array<{ cpu: number; memoryMb: number; connections: number }>) =>
      rows.map((r, i) => ({ at: new Date(bucket.getTime() + i * 30_000), memoryTotalMb: 4000, poolMax: 20, source, ...r }));
    await insertResources(db.pool, T, [
      ...samples('hot', [{ cpu: 90, memoryMb: 3800, connections: 19 }, { cpu: 92, memoryMb: 3800, connections: 18 }, { cpu: 88, memoryMb: 3810, connections: 17 }]),
      // One spike to 95 % CPU among quiet samples, memory at half, the pool at half.
      ...samples('calm', [{ cpu: 95, memoryMb: 2000, connections: 10 }, { cpu: 20, memoryMb: 2000, connections: 9 }, { cpu: 20, memoryMb: 2000, connections: 8 }]),
    ]);
    await refreshRollups(db.pool);
    await runOptimizer(db.pool, optimizerSettings(), { detectors: [resourcePressureDetector] });
  });

  it('flags pool saturation above 90 %, CPU above 80 % and memory above 90 % over 5 minutes', async () => {
    const found = await findingsOf(db.pool, T);
    expect(found.map((f) => [f.kind, f.evidence.source]).sort()).toEqual([
      ['cpuPressure', 'hot'], ['memoryPressure', 'hot'], ['poolSaturation', 'hot'],
    ]);
    const pool = found.find((f) => f.kind === 'poolSaturation')!;
    expect(pool.evidence).toMatchObject({ peakConnections: 19, poolMax: 20, peakPercent: 95, thresholdPercent: 90 });
    expect(found.find((f) => f.kind === 'cpuPressure')!.evidence.peakFiveMinuteCpuPercent).toBeCloseTo(90, 1);
  });

  it('does not flag a single CPU spike, half-used memory or a half-used pool', async () => {
    const sources = (await findingsOf(db.pool, T)).map((f) => f.evidence.source);
    expect(sources).not.toContain('calm');
  });
});

describe('N+1 queries', () => {
  const T = 'e3e3e3e3-0000-4000-8000-000000000003';

  beforeAll(async () => {
    const burst = (requestId: string, endpoint: string, hash: string, n: number, ms: number) =>
      times(ago(15), n, 100).map((at) => ({ at, hash, preview: 'SELECT * FROM items WHERE id = $1', ms, endpoint, requestId }));
    await insertQueries(db.pool, T, [
      ...burst('r1', '/list', '3001', 6, 12), // 6 queries, 72 ms: Sentry's rule fires
      ...burst('r2', '/cheap', '3002', 6, 5), // 6 queries, 30 ms: under 50 ms
      ...burst('r3', '/few', '3003', 4, 20), // 4 queries, 80 ms: under 5 queries
      ...burst('r4', '/list', '3001', 8, 10), // the same pattern again in another request
    ]);
    await refreshRollups(db.pool);
  });

  it('flags a fingerprint run 5 or more times in one request for over 50 ms, and not the near misses', async () => {
    await runOptimizer(db.pool, optimizerSettings(), { detectors: [nPlusOneDetector] });
    const found = await findingsOf(db.pool, T, 'nPlusOne');
    expect(found.map((f) => f.endpoint)).toEqual(['/list']);
    expect(found[0]!.evidence).toMatchObject({
      queryHash: '0000000000000bb9', requestsAffected: 2, maxQueriesPerRequest: 8, avgQueriesPerRequest: 7,
      avgRepeatedMsPerRequest: 76, rule: { minQueries: 5, minTotalMs: 50 }, rawRowsCapped: false,
    });
    expect(found[0]!.query_hash).toBe('3001');
    expect(found[0]!.action).toContain('= ANY($1)');
  });

  it('follows the configured rule', async () => {
    await runOptimizer(db.pool, optimizerSettings({ nPlusOneMinQueries: 3, nPlusOneMinTotalMs: 10 }), { detectors: [nPlusOneDetector] });
    const open = (await findingsOf(db.pool, T, 'nPlusOne')).filter((f) => !f.resolved_at);
    expect(open.map((f) => f.endpoint)).toEqual(['/cheap', '/few', '/list']);
  });

  it('reads no more raw rows than it is allowed, and says so', async () => {
    const window = { from: ago(60), to: new Date() };
    const capped = await nPlusOneGroups(db.pool, window, { minQueries: 5, minTotalMs: 50, maxRows: 10 });
    expect(capped.rowsRead).toBe(10);
    const all = await nPlusOneGroups(db.pool, window, { minQueries: 5, minTotalMs: 50, maxRows: 1_000 });
    expect(all.rowsRead).toBe(24);
    const list = (await findingsOf(db.pool, T, 'nPlusOne')).find((f) => f.endpoint === '/list')!;
    expect(list.evidence.rawRowsRead).toBe(24);
  });
});

describe('N+1 detection for every tenant, whatever one busy tenant sends', () => {
  const BUSY = 'e3e3e3e3-0000-4000-8000-0000000000b5';
  const QUIET = 'e3e3e3e3-0000-4000-8000-0000000000c1';
  let own: TestDatabase;

  beforeAll(async () => {
    own = await createTestDatabase('nplusone_tenants');
    // The busy tenant's 3000 rows come first on disk; each request runs one query.
    await insertQueries(own.pool, BUSY, times(ago(40), 3000, 500).map((at, i) => ({ at, hash: '4001', preview: 'SELECT 1', ms: 2, endpoint: '/busy', requestId: `b${i}` })));
    await insertQueries(own.pool, QUIET, times(ago(10), 6, 100).map((at) => ({ at, hash: '4002', preview: 'SELECT * FROM items WHERE id = $1', ms: 15, endpoint: '/quiet-list', requestId: 'q1' })));
  });
  afterAll(async () => own?.drop());

  it("finds the quiet tenant's N+1 with a raw-row limit the busy tenant alone exceeds, and says whose rows were capped", async () => {
    await runOptimizer(own.pool, optimizerSettings({ maxRawRows: 1000 }), { detectors: [nPlusOneDetector] });
    const found = await findingsOf(own.pool, QUIET, 'nPlusOne');
    expect(found.map((f) => f.endpoint)).toEqual(['/quiet-list']);
    expect(found[0]!.evidence).toMatchObject({ rawRowsRead: 6, rawRowsCapped: false });
    const groups = await nPlusOneGroups(own.pool, { from: ago(60), to: new Date() }, { minQueries: 1, minTotalMs: 0, maxRows: 1000 });
    expect(groups.rowsRead).toBe(1000);
    expect(new Set(groups.groups.filter((g) => g.tenantId === BUSY).map((g) => g.rowsRead))).toEqual(new Set([1000]));
  });
});

describe('stale cache', () => {
  const STALE = 'e4e4e4e4-0000-4000-8000-000000000004';
  const FRESH = 'e5e5e5e5-0000-4000-8000-000000000005';

  it('flags a tenant whose cache was last updated over 10 minutes ago, not a fresh one', async () => {
    for (const tenant of [STALE, FRESH]) await insertRequests(db.pool, tenant, [{ at: ago(5), endpoint: '/x', ms: 5 }]);
    await refreshRollups(db.pool);
    await db.pool.query(`UPDATE performance_metrics_cache SET last_updated = now() - interval '25 minutes' WHERE tenant_id = $1`, [STALE]);
    await runOptimizer(db.pool, optimizerSettings(), { detectors: [staleCacheDetector] });
    const stale = await findingsOf(db.pool, STALE, 'staleCache');
    expect(stale.map((f) => f.severity)).toEqual(['critical']);
    expect(stale[0]!.evidence.ageSeconds).toBeGreaterThanOrEqual(25 * 60 - 5);
    expect(await findingsOf(db.pool, FRESH, 'staleCache')).toEqual([]);
  });
});

describe('partitions', () => {
  it('flags a partition past the retention still attached, and a count that grew, for every active tenant', async () => {
    const T = 'e6e6e6e6-0000-4000-8000-000000000006';
    await insertRequests(db.pool, T, [{ at: ago(5), endpoint: '/x', ms: 5 }]);
    await refreshRollups(db.pool);
    await runOptimizer(db.pool, optimizerSettings(), { detectors: [partitionsDetector] });
    expect(await findingsOf(db.pool, T, 'partitions')).toEqual([]);

    // A month four months back, created by an upkeep that was told it was then.
    await db.pool.query(`SELECT * FROM maintain_performance_partitions(0, interval '400 days', now() - interval '120 days')`);
    await db.pool.query(
      `INSERT INTO storage_snapshots (taken_on, table_name, partitions, total_bytes, row_estimate, taken_at)
       VALUES ((now() - interval '30 days')::date, 'api_performance_log', 2, 0, 0, now() - interval '30 days')`);
    await runOptimizer(db.pool, optimizerSettings(), { detectors: [partitionsDetector] });
    const found = await findingsOf(db.pool, T, 'partitions');
    expect(found.map((f) => f.table_name)).toEqual(['api_performance_log', 'query_performance_log', 'system_resource_metrics']);
    const api = found[0]!;
    expect(api.evidence.expiredPartitions).toHaveLength(1);
    expect(api.evidence.partitionsThen).toBe(2);
    expect(api.title).toMatch(/older than the 30-day retention.*grew from 2/);
    expect(api.action).toContain('agog-perf maintain');
  });
});

describe('the engine', () => {
  const T = 'e7e7e7e7-0000-4000-8000-000000000007';

  it('keeps id and first_seen across runs, moves last_seen, and resolves what it no longer sees', async () => {
    await insertRequests(db.pool, T, times(ago(10), 25, 10_000).map((at) => ({ at, endpoint: '/late', ms: 250 })));
    await refreshRollups(db.pool);
    const first = new Date();
    await runOptimizer(db.pool, optimizerSettings(), { detectors: [slowEndpointDetector], now: first });
    const second = new Date(first.getTime() + 60_000);
    await runOptimizer(db.pool, optimizerSettings(), { detectors: [slowEndpointDetector], now: second });
    let [finding] = await findingsOf(db.pool, T, 'slowEndpoint');
    expect(finding!.first_seen).toEqual(first);
    expect(finding!.last_seen).toEqual(second);
    expect(finding!.resolved_at).toBeNull();

    // Two hours on, the window holds none of those requests.
    const later = new Date(first.getTime() + 2 * 3_600_000);
    await runOptimizer(db.pool, optimizerSettings(), { detectors: [slowEndpointDetector], now: later });
    [finding] = await findingsOf(db.pool, T, 'slowEndpoint');
    expect(finding!.resolved_at).toEqual(later);
    expect(finding!.first_seen).toEqual(first);
  });

  it('records the other detectors\' findings when one fails, and leaves the failed one\'s findings open', async () => {
    const failing = { name: 'broken', kinds: ['staleCache' as const], detect: async () => { throw new Error('boom'); } };
    await db.pool.query(
      `INSERT INTO optimization_recommendations (tenant_id, id, kind, severity, title, evidence, action, first_seen, last_seen)
       VALUES ($1, '0000000000000abc', 'staleCache', 'critical', 'old', '{}', 'refresh', now() - interval '1 day', now() - interval '1 day')`, [T]);
    const run = await runOptimizer(db.pool, optimizerSettings(), { detectors: [failing, slowEndpointDetector] });
    expect(run.failures).toEqual([{ detector: 'broken', error: 'boom' }]);
    const stale = await findingsOf(db.pool, T, 'staleCache');
    expect(stale.map((f) => f.resolved_at)).toEqual([null]);
  });

  it('takes a storage snapshot on every run', async () => {
    await runOptimizer(db.pool, optimizerSettings(), { detectors: [] });
    const rows = await db.pool.query(`SELECT table_name FROM storage_snapshots WHERE taken_on = (now() AT TIME ZONE 'UTC')::date ORDER BY 1`);
    expect(rows.rows.map((r) => r.table_name)).toEqual(['api_performance_log', 'query_performance_log', 'system_resource_metrics']);
  });
});
