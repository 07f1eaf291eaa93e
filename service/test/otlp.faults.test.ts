// The fault tests of the JSON endpoints (ingest.outage, shutdown.sigterm) driven through
// OTLP/HTTP with protobuf bodies: PostgreSQL stopped and restarted under sustained
// export, and SIGTERM while exports wait for their commit. No acknowledged span or
// sample may be lost.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { createDatabaseIfMissing } from '../src/db/admin';
import { freePort, makeScratchDir } from '../src/localResources';
import { migrate } from '../src/db/migrate';
import { createPool, withDatabase } from '../src/db/pool';
import { createToken } from '../src/db/tokens';
import { loadConfig } from '../src/config';
import { startService, type RunningService } from '../src/service';
import { createTestDatabase } from './support/db';
import { StandalonePostgres } from './support/standalonePostgres';
import { countsOf, storedOf, SustainedIngest } from './support/load';
import { tokenFor } from './support/service';

const CLI = path.resolve(__dirname, '../bin/agog-perf.js');

describe('OTLP export while PostgreSQL is stopped and restarted', () => {
  const TENANT = '27277777-7777-4777-8777-777777777777';
  let pg: StandalonePostgres;
  let service: RunningService;
  let dbUrl: string;
  let token: string;

  beforeAll(async () => {
    pg = new StandalonePostgres(makeScratchDir('agog-otlp-outage-'), await freePort());
    await pg.start();
    await createDatabaseIfMissing(pg.url, 'agog');
    dbUrl = withDatabase(pg.url, 'agog');
    await migrate(dbUrl);
    const pool = createPool(dbUrl, { max: 1 });
    token = (await createToken(pool, { tenantId: TENANT, scopes: ['ingest'] })).token;
    await pool.end();
    service = await startService(loadConfig({ PORT: '0', RESOURCE_SAMPLE_INTERVAL_MS: '0', METRICS_FLUSH_INTERVAL_MS: '5' }), dbUrl, {
      startScheduler: false, log: () => undefined,
    });
  });
  afterAll(async () => {
    await service?.stop().catch(() => undefined);
    await pg.stop();
  });

  it('answers 503 with Retry-After during the gap, recovers by itself, and loses no acknowledged span or sample', async () => {
    const load = new SustainedIngest(service.url, token, { label: 'otlp-outage', sendersPerKind: 2, recordsPerBatch: 25, transport: 'otlp' }).start();
    expect(await load.until(() => load.count(200) >= 30, 15_000)).toBe(true);

    await pg.stop();
    const gapStarted = load.answers.length;
    expect(await load.until(() => load.count(503, gapStarted) >= 10, 10_000)).toBe(true);
    await pg.start();
    const restarted = load.answers.length;
    const recovered = await load.until(
      () => (['api', 'query', 'resource'] as const).every((kind) => load.answers.slice(restarted).filter((a) => a.kind === kind && a.status === 200).length >= 5),
      30_000,
    );
    await load.stop();

    expect(recovered).toBe(true);
    // Only 200 and 503; every 503 is OTLP's UNAVAILABLE (a google.rpc.Status, code 14) with Retry-After.
    expect(new Set(load.answers.map((a) => a.status))).toEqual(new Set([200, 503]));
    const refusals = load.answers.filter((a) => a.status === 503);
    expect(refusals.every((a) => a.code === 'grpc-14' && /^[1-9]\d*$/.test(a.retryAfter ?? ''))).toBe(true);

    const pool = createPool(dbUrl, { max: 1 });
    try {
      expect(await storedOf(pool, load.acknowledged)).toEqual(countsOf(load.acknowledged));
    } finally {
      await pool.end();
    }
  });
});

describe('SIGTERM under sustained OTLP export', () => {
  const TENANT = '27278888-8888-4888-8888-888888888888';

  it('finishes the exports in flight, exits 0, and every acknowledged span and sample is stored', async () => {
    const db = await createTestDatabase('otlp_sigterm');
    try {
      const token = await tokenFor(db, TENANT, ['ingest']);
      const port = await freePort();
      const child = spawn(process.execPath, [CLI, 'serve'], {
        env: { ...process.env, DATABASE_URL: db.url, PORT: String(port), SCHEDULER_ENABLED: 'false', RESOURCE_SAMPLE_INTERVAL_MS: '0', METRICS_FLUSH_INTERVAL_MS: '200' },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let output = '';
      child.stdout.on('data', (c: Buffer) => (output += c.toString()));
      child.stderr.on('data', (c: Buffer) => (output += c.toString()));
      const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
      const deadline = Date.now() + 30_000;
      while (!output.includes('listening on') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      expect(output).toContain('listening on');

      const load = new SustainedIngest(`http://127.0.0.1:${port}`, token, {
        label: 'otlp-term', sendersPerKind: 3, recordsPerBatch: 50, stopOnConnectionFailure: true, transport: 'otlp',
      }).start();
      expect(await load.until(() => load.count(200) >= 45, 20_000)).toBe(true);
      // Signal while exports wait for their commit (a 200 ms flush window).
      const signalled = load.answers.length;
      let queued = false;
      for (let i = 0; i < 200 && !queued; i++) {
        const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
        queued = Number(/^agog_ingest_queue_depth (\d+)$/m.exec(metrics)?.[1] ?? 0) > 0;
        if (!queued) await new Promise((r) => setTimeout(r, 5));
      }
      expect(queued).toBe(true);
      child.kill('SIGTERM');
      const code = await exited;
      await load.stop();

      expect(code).toBe(0);
      expect(load.count(200, signalled)).toBeGreaterThan(0);
      // 503 either from the receiver (UNAVAILABLE) or from the shutdown hook (shutting_down).
      for (const answer of load.answers) {
        if (answer.status === 503) expect(['grpc-14', 'shutting_down']).toContain(answer.code);
        else expect([0, 200]).toContain(answer.status);
      }
      expect(await storedOf(db.pool, load.acknowledged)).toEqual(countsOf(load.acknowledged));
    } finally {
      await db.drop();
    }
  });
});
