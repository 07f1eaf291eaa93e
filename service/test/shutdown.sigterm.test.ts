import { spawn } from 'node:child_process';
import path from 'node:path';
import { freePort } from '../src/localResources';
import { createTestDatabase, type TestDatabase } from './support/db';
import { countsOf, storedOf, SustainedIngest } from './support/load';
import { tokenFor } from './support/service';

const TENANT = '88888888-8888-4888-8888-888888888888';
const CLI = path.resolve(__dirname, '../bin/agog-perf.js');

describe('SIGTERM under sustained ingest', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase('sigterm');
  });
  afterAll(async () => db.drop());

  it('finishes the batches in flight, exits 0, and every acknowledged record is stored', async () => {
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

    // Three senders per record kind, 50 records a batch; a sender stops at its first
    // refused connection (the server has closed its socket).
    const load = new SustainedIngest(`http://127.0.0.1:${port}`, token, {
      label: 'term', sendersPerKind: 3, recordsPerBatch: 50, stopOnConnectionFailure: true,
    }).start();
    expect(await load.until(() => load.count(200) >= 45, 20_000)).toBe(true);
    // Signal while records are waiting for their commit (a 200 ms flush window): right
    // after a flush every sender is between requests, so wait until /metrics shows a
    // queue. Answers counted from here on.
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
    expect(output).toContain('SIGTERM: shutting down');
    // Batches waiting at the signal were committed and answered 200; later requests got
    // 503 shutting_down or found the socket closed. Nothing failed otherwise.
    expect(load.count(200, signalled)).toBeGreaterThan(0);
    for (const answer of load.answers) {
      if (answer.status === 503) expect(answer.code).toBe('shutting_down');
      else expect([0, 200]).toContain(answer.status);
    }
    expect(await storedOf(db.pool, load.acknowledged)).toEqual(countsOf(load.acknowledged));
  });
});
