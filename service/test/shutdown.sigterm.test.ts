import { createTestDatabase, type TestDatabase } from './support/db';
import { countsOf, storedOf, SustainedIngest } from './support/load';
import { startServeProcess, untilRecordsQueued } from './support/serveProcess';
import { tokenFor } from './support/service';

const TENANT = '88888888-8888-4888-8888-888888888888';

describe('SIGTERM under sustained ingest', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase('sigterm');
  });
  afterAll(async () => db.drop());

  it('finishes the batches in flight, exits 0, and every acknowledged record is stored', async () => {
    const token = await tokenFor(db, TENANT, ['ingest']);
    const serve = await startServeProcess(db.url, { SCHEDULER_ENABLED: 'false', METRICS_FLUSH_INTERVAL_MS: '200' });
    const { child, port } = serve;
    const exited = serve.exited.then(({ code }) => code);

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
    expect(await untilRecordsQueued(serve.url, 200)).toBe(true);
    child.kill('SIGTERM');
    const code = await exited;
    await load.stop();

    expect(code).toBe(0);
    expect(serve.output()).toContain('SIGTERM: shutting down');
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
