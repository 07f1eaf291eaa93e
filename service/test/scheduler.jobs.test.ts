import { createTestDatabase, type TestDatabase } from './support/db';
import { apiRecord, post, startTestService, tokenFor } from './support/service';

describe('scheduled jobs', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase('scheduler');
  });
  afterAll(async () => db.drop());

  it('retries a refresh that PostgreSQL refuses on its own, shows the failure in /health and /metrics meanwhile, and loses no delta', async () => {
    const tenant = '99999999-9999-4999-8999-999999999999';
    // The real refresh job on its real timers, with an hourly interval: a second run within
    // seconds can only be the retry.
    const { service, url } = await startTestService(db, { REFRESH_INTERVAL_MS: '3600000' }, { startScheduler: true, jobRetryMs: 300 });
    const token = await tokenFor(db, tenant, ['ingest']);
    const admin = { authorization: `Bearer ${await tokenFor(db, null, ['admin'])}` };
    const refresh = () => service.scheduler.status().refresh!;
    const until = async (condition: () => boolean) => {
      const deadline = Date.now() + 20_000;
      while (!condition() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      return condition();
    };
    try {
      expect((await post(`${url}/v1/ingest/api-requests`, token, Array.from({ length: 40 }, () => apiRecord()))).status).toBe(200);
      // The refresh function's last statement now fails, after it merged the deltas:
      // the transaction must roll back and leave them pending.
      await db.pool.query(`ALTER TABLE rollup_refresh_state RENAME TO rollup_refresh_state_away`);
      expect(await until(() => refresh().failures >= 2)).toBe(true);

      // Without a token: the status alone, none of the error's text.
      const bare = await fetch(`${url}/health`);
      const bareText = await bare.text();
      expect(bare.status).toBe(200);
      expect(Object.keys(JSON.parse(bareText)).sort()).toEqual(['memoryUsage', 'status', 'uptimeSeconds']);
      expect(JSON.parse(bareText).status).toBe('degraded');
      expect(bareText).not.toMatch(/rollup_refresh_state|refresh/);
      const notAdmin = await fetch(`${url}/health`, { headers: { authorization: `Bearer ${token}` } });
      expect(notAdmin.status).toBe(403);
      const health = (await (await fetch(`${url}/health`, { headers: admin })).json()) as any;
      expect(health.status).toBe('degraded');
      expect(health.failingJobs).toEqual(['refresh']);
      expect(health.jobs.refresh.lastError).toMatch(/rollup_refresh_state/);
      const metrics = await (await fetch(`${url}/metrics`)).text();
      expect(Number(/^agog_job_failures_total\{job="refresh"\} (\d+)$/m.exec(metrics)?.[1])).toBeGreaterThanOrEqual(2);
      const recorded = await db.pool.query(`SELECT failures::int, last_error FROM scheduler_job_runs WHERE job = 'refresh'`);
      expect(recorded.rows[0].failures).toBeGreaterThanOrEqual(2);
      expect(recorded.rows[0].last_error).toMatch(/rollup_refresh_state/);
      expect((await db.pool.query(`SELECT count(*)::int AS n FROM performance_metrics_cache WHERE tenant_id = $1`, [tenant])).rows[0].n).toBe(0);

      await db.pool.query(`ALTER TABLE rollup_refresh_state_away RENAME TO rollup_refresh_state`);
      expect(await until(() => refresh().lastSuccessAt !== null)).toBe(true);
      const after = (await (await fetch(`${url}/health`, { headers: admin })).json()) as any;
      expect(after.failingJobs).toEqual([]);
      const cache = await db.pool.query(`SELECT sum(total_requests)::int AS n FROM performance_metrics_cache WHERE tenant_id = $1`, [tenant]);
      expect(cache.rows[0].n).toBe(40);
    } finally {
      await service.stop();
      await db.pool.query(`ALTER TABLE IF EXISTS rollup_refresh_state_away RENAME TO rollup_refresh_state`);
    }
  });

  it('runs a job on one replica at a time (the other skips its turn)', async () => {
    let concurrent = 0;
    let maxConcurrent = 0;
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const job = {
      name: 'maintain', intervalMs: 60_000,
      run: async () => {
        concurrent++;
        maxConcurrent = Math.max(maxConcurrent, concurrent);
        await gate;
        concurrent--;
      },
    };
    const a = await startTestService(db, {}, { jobs: [job] });
    const b = await startTestService(db, {}, { jobs: [job] });
    try {
      const first = a.service.scheduler.runNow('maintain');
      await new Promise((r) => setTimeout(r, 200));
      expect(await b.service.scheduler.runNow('maintain')).toBe(true);
      expect(b.service.scheduler.status().maintain!.skippedNotLeader).toBe(1);
      release();
      await first;
      expect(maxConcurrent).toBe(1);
      expect(a.service.scheduler.status().maintain!.runs).toBe(1);
    } finally {
      await a.service.stop();
      await b.service.stop();
    }
  });

  it('samples its own process and the database into system_resource_metrics', async () => {
    const { service } = await startTestService(db, { RESOURCE_SAMPLE_INTERVAL_MS: '60000' });
    try {
      expect(await service.scheduler.runNow('sample-resources')).toBe(true);
      await service.queue.drain();
      const rows = await db.pool.query(
        `SELECT source, active_connections, pool_max FROM system_resource_metrics
          WHERE tenant_id = '00000000-0000-0000-0000-000000000000' ORDER BY source`);
      expect(rows.rows.map((r) => r.source)).toEqual(['agog-service', 'postgresql']);
      expect(rows.rows[0].pool_max).toBe(30);
      expect(rows.rows[1].pool_max).toBeGreaterThan(0);
    } finally {
      await service.stop();
    }
  });
});
