import { doctorFacts, missingObjects, roundTripTestRow } from '../src/db/checks';
import { maintainPartitions } from '../src/db/partitions';
import { refreshRollups } from '../src/db/rollups';
import { evaluate } from '../src/ops/doctor';
import { createTestDatabase, type TestDatabase } from './support/db';
import { insertRows } from './support/queryData';

const TENANT = '13131313-1313-4313-8313-131313131313';

describe('doctor and verify', () => {
  let db: TestDatabase;
  beforeEach(async () => {
    db = await createTestDatabase('doctor');
  });
  afterEach(async () => db.drop());

  function verdicts(checks: ReturnType<typeof evaluate>): Record<string, string> {
    return Object.fromEntries(checks.map((c) => [c.name, c.verdict]));
  }

  it('passes a fresh, healthy installation', async () => {
    await insertRows(db.pool,
      `INSERT INTO api_performance_log ("timestamp", tenant_id, endpoint, method, status_code, response_time_ms)
       SELECT now() - make_interval(secs => i), $1, '/ok', 'GET', 200, 20 FROM generate_series(1, 50) i`, [TENANT]);
    await refreshRollups(db.pool);
    const checks = evaluate(await doctorFacts(db.pool), { retentionDays: 30 });
    expect(checks.filter((c) => c.verdict !== 'pass')).toEqual([]);
    expect(verdicts(checks)).toMatchObject({ 'cache freshness': 'pass', 'health score': 'pass', 'scheduled jobs': 'pass' });
  });

  it('fails a stale cache, a missing next month, a failing job and a critical health score', async () => {
    await db.pool.query(
      `INSERT INTO performance_metrics_cache (tenant_id, hour_bucket, total_requests, health_score, last_updated)
       VALUES ($1, date_trunc('hour', now()), 10, 40, now() - interval '25 minutes')`, [TENANT]);
    const next = await db.pool.query<{ name: string }>(
      `SELECT 'api_performance_log_' || to_char(date_trunc('month', now()) + interval '1 month', 'YYYY_MM') AS name`);
    await db.pool.query(`DROP TABLE ${next.rows[0]!.name}`);
    await db.pool.query(`INSERT INTO scheduler_job_runs (job, last_started, last_error, last_error_at, failures, runs)
                         VALUES ('refresh', now(), 'disk full', now(), 3, 3)`);
    const checks = evaluate(await doctorFacts(db.pool), { retentionDays: 30 });
    expect(verdicts(checks)).toMatchObject({
      'cache freshness': 'fail', 'partitions of api_performance_log': 'fail', 'partitions of query_performance_log': 'pass',
      'scheduled jobs': 'fail', 'health score': 'fail',
    });
    expect(checks.find((c) => c.name === 'scheduled jobs')!.detail).toBe('refresh: disk full');
  });

  it('warns when retention was not applied and rows sit in the DEFAULT partition', async () => {
    await maintainPartitions(db.pool, { monthsAhead: 0, retentionDays: 30, now: new Date(Date.now() - 120 * 86_400_000) });
    await insertRows(db.pool,
      `INSERT INTO query_performance_log ("timestamp", tenant_id, query_hash, query_preview, execution_time_ms)
       VALUES ('2001-01-01', $1, 1, 'SELECT 1', 1)`, [TENANT]);
    const checks = evaluate(await doctorFacts(db.pool), { retentionDays: 30 });
    const query = checks.find((c) => c.name === 'partitions of query_performance_log')!;
    expect(query.verdict).toBe('warn');
    expect(query.detail).toMatch(/past the 30-day retention/);
    expect(query.detail).toMatch(/1 rows in the DEFAULT partition/);
  });

  it('finds every object present and round-trips a test row without leaving it behind', async () => {
    expect(await missingObjects(db.pool)).toEqual({ tables: [], functions: [], indexes: [] });
    expect(await roundTripTestRow(db.pool)).toBe(true);
    const left = await db.pool.query(`SELECT count(*)::int AS n FROM api_performance_log WHERE endpoint = '/verify'`);
    expect(left.rows[0].n).toBe(0);
    await db.pool.query(`DROP FUNCTION get_performance_summary(uuid, integer)`);
    expect((await missingObjects(db.pool)).functions).toEqual(['get_performance_summary']);
  });
});
