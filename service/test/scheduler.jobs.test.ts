import { createTestDatabase, type TestDatabase } from './support/db';
import { startTestService } from './support/service';

describe('scheduled jobs', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase('scheduler');
  });
  afterAll(async () => db.drop());

  it('shows a failing job in /health and /metrics, and succeeds when retried', async () => {
    let attempts = 0;
    const { service, url } = await startTestService(db, {}, {
      jobs: [{
        name: 'refresh', intervalMs: 60_000,
        run: async () => {
          attempts++;
          if (attempts === 1) throw new Error('refresh exploded on purpose');
        },
      }],
    });
    try {
      expect(await service.scheduler.runNow('refresh')).toBe(false);
      const health = (await (await fetch(`${url}/health`)).json()) as any;
      expect(health.status).toBe('degraded');
      expect(health.failingJobs).toEqual(['refresh']);
      expect(health.jobs.refresh.lastError).toBe('refresh exploded on purpose');
      const metrics = await (await fetch(`${url}/metrics`)).text();
      expect(metrics).toMatch(/agog_job_failures_total\{job="refresh"\} 1/);
      const recorded = await db.pool.query(`SELECT failures::int, last_error FROM scheduler_job_runs WHERE job = 'refresh'`);
      expect(recorded.rows[0]).toEqual({ failures: 1, last_error: 'refresh exploded on purpose' });

      expect(await service.scheduler.runNow('refresh')).toBe(true);
      const after = (await (await fetch(`${url}/health`)).json()) as any;
      expect(after.failingJobs).toEqual([]);
    } finally {
      await service.stop();
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
