import { spawn } from 'node:child_process';
import path from 'node:path';
import { freePort } from '../src/localResources';
import { createTestDatabase, type TestDatabase } from './support/db';
import { apiRecord, post, tokenFor } from './support/service';

const TENANT = '88888888-8888-4888-8888-888888888888';
const CLI = path.resolve(__dirname, '../bin/agog-perf.js');

describe('SIGTERM with requests in flight', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase('sigterm');
  });
  afterAll(async () => db.drop());

  it('finishes the batches in flight, exits 0, and every acknowledged row is stored', async () => {
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

    const url = `http://127.0.0.1:${port}/v1/ingest/api-requests`;
    const acknowledged: string[] = [];
    let n = 0;
    let stop = false;
    const sender = async () => {
      while (!stop) {
        const ids = Array.from({ length: 20 }, () => `term-${n++}`);
        const res = await post(url, token, ids.map((id) => apiRecord({ requestId: id }))).catch(() => undefined);
        if (!res) return; // connection refused: the server has stopped accepting
        if (res.status === 200) acknowledged.push(...ids);
      }
    };
    const senders = Array.from({ length: 4 }, sender);
    await new Promise((r) => setTimeout(r, 500));
    // With a 200 ms flush window, batches are waiting for their commit right now.
    child.kill('SIGTERM');
    const code = await exited;
    stop = true;
    await Promise.all(senders);

    expect(code).toBe(0);
    expect(acknowledged.length).toBeGreaterThan(0);
    const rows = await db.pool.query(`SELECT count(*)::int AS n FROM api_performance_log WHERE request_id = ANY($1::text[])`, [acknowledged]);
    expect(rows.rows[0].n).toBe(acknowledged.length);
  });
});
