// A COPY that fails part-way through a group commit. PostgreSQL is made to fail for real:
// a temporary row trigger on api_performance_log refuses ("poison-…") or holds
// ("hold-…", on an advisory lock the test owns) a marked row in the middle of the stream.
// Holding a first group lets the next batches pile up, so they are known to share the
// group that then fails.
import type { PoolClient } from '../src/db/pool';
import type { RunningService } from '../src/service';
import { createTestDatabase, type TestDatabase } from './support/db';
import { INGEST_PATHS, recordWithId, storedOf, type IngestKind } from './support/load';
import { post, startTestService, tokenFor } from './support/service';

const TENANT = '5c5c5c5c-5c5c-4c5c-8c5c-5c5c5c5c5c5c';

interface Sent {
  kind: IngestKind;
  ids: string[];
  answer: Promise<{ status: number; body: any; headers: Headers }>;
}

describe('a COPY failing in the middle of a group commit', () => {
  let db: TestDatabase;
  let service: RunningService;
  let url: string;
  let token: string;
  let lockHolder: PoolClient;

  beforeAll(async () => {
    db = await createTestDatabase('copy_failure');
    await db.pool.query(`
      CREATE FUNCTION test_copy_fault() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF NEW.request_id LIKE 'poison-%' THEN
          RAISE EXCEPTION 'row % refused on purpose', NEW.request_id;
        ELSIF NEW.request_id LIKE 'hold-%' THEN
          PERFORM pg_advisory_xact_lock(hashtext(NEW.request_id));
        END IF;
        RETURN NEW;
      END $$;
      CREATE TRIGGER test_copy_fault BEFORE INSERT ON api_performance_log
        FOR EACH ROW EXECUTE FUNCTION test_copy_fault();`);
    // One group commit at a time, so a held group makes the next batches wait together.
    ({ service, url } = await startTestService(db, { METRICS_FLUSH_CONCURRENCY: '1', METRICS_FLUSH_INTERVAL_MS: '5' }));
    token = await tokenFor(db, TENANT, ['ingest']);
    lockHolder = await db.pool.connect();
  });
  afterAll(async () => {
    lockHolder.release();
    await service.stop();
    await db.drop();
  });

  let next = 0;
  /** Posts one batch; `marked` replaces the record in the middle with that id. */
  function send(kind: IngestKind, size: number, marked?: string): Sent {
    const ids = Array.from({ length: size }, (_, i) => (marked && i === size >> 1 ? marked : `copy-${kind}-${next++}`));
    return { kind, ids, answer: post(url + INGEST_PATHS[kind], token, ids.map((id) => recordWithId(kind, id))) };
  }

  async function hold(id: string): Promise<void> {
    await lockHolder.query(`SELECT pg_advisory_lock(hashtext($1::text))`, [id]);
  }
  async function release(id: string): Promise<void> {
    await lockHolder.query(`SELECT pg_advisory_unlock(hashtext($1::text))`, [id]);
  }

  async function until(condition: () => boolean | Promise<boolean>, what: string): Promise<void> {
    const deadline = Date.now() + 20_000;
    while (!(await condition())) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /** The backend of the group commit whose COPY waits at a held row, or 0. */
  async function heldCopyBackend(): Promise<number> {
    const waiting = await db.pool.query(
      `SELECT pid FROM pg_stat_activity
        WHERE datname = current_database() AND query LIKE 'COPY api_performance_log%' AND wait_event = 'advisory'`);
    return waiting.rows[0]?.pid ?? 0;
  }

  /** A batch held on `holdId` is being written; then `batches` are sent and queue up behind it. */
  async function queueBehindHeldGroup(holdId: string, batches: () => Sent[]): Promise<{ gate: Sent; queued: Sent[] }> {
    await hold(holdId);
    const gate = send('api', 10, holdId);
    await until(async () => (await heldCopyBackend()) !== 0, 'the held group to start');
    const queued = batches();
    const total = queued.reduce((sum, b) => sum + b.ids.length, 10);
    await until(() => service.queue.depth === total, 'the batches to queue behind the held group');
    return { gate, queued };
  }

  async function stored(batch: Sent): Promise<number> {
    return (await storedOf(db.pool, { api: [], query: [], resource: [], [batch.kind]: batch.ids }))[batch.kind];
  }

  it('refuses only the batch PostgreSQL rejects mid-COPY, acknowledges the others of its group, and stores nothing of the refused one', async () => {
    const before = { ...service.queue.stats };
    const { gate, queued } = await queueBehindHeldGroup('hold-gate-1', () => [
      send('api', 2000),
      send('query', 500),
      send('api', 2000, 'poison-1'),
      send('resource', 50),
      send('api', 2000),
    ]);
    const poisoned = queued[2]!;
    await release('hold-gate-1');

    expect((await gate.answer).status).toBe(200);
    const answers = await Promise.all(queued.map((b) => b.answer));
    expect(answers.map((a) => a.status)).toEqual([200, 200, 500, 200, 200]);
    expect(answers[2]!.body.error).toMatchObject({ code: 'storage_rejected', message: expect.stringContaining('refused on purpose') });
    // The group of five failed, was split in halves: [0..2] failed again and split into
    // [0, 1] (committed) and the poisoned batch alone (failed); [3, 4] committed.
    expect(service.queue.stats.flushFailures - before.flushFailures).toBe(3);
    expect(service.queue.stats.flushes - before.flushes).toBe(1 + 2);

    expect(await stored(gate)).toBe(gate.ids.length);
    for (const batch of queued) {
      expect(await stored(batch)).toBe(batch === poisoned ? 0 : batch.ids.length);
    }
    const metrics = await (await fetch(`${url}/metrics`)).text();
    expect(metrics).toMatch(/^agog_ingest_batches_refused_total\{code="storage_rejected"\} 1$/m);
    expect((await fetch(`${url}/health`)).status).toBe(200);
  });

  it('answers 503 to every batch of a group whose connection is killed mid-COPY, stores none of it, and recovers', async () => {
    const { gate, queued } = await queueBehindHeldGroup('hold-gate-2', () => [
      send('api', 1000),
      send('api', 1000, 'hold-mid'),
      send('query', 200),
    ]);
    await hold('hold-mid');
    await release('hold-gate-2');
    expect((await gate.answer).status).toBe(200);

    // The group's COPY has written rows up to the held one and waits there.
    let copyBackend = 0;
    await until(async () => (copyBackend = await heldCopyBackend()) !== 0, 'the COPY to reach the held row');
    await db.pool.query(`SELECT pg_terminate_backend($1::int)`, [copyBackend]);

    const answers = await Promise.all(queued.map((b) => b.answer));
    for (const answer of answers) {
      expect(answer.status).toBe(503);
      expect(answer.body.error.code).toBe('database_unavailable');
      expect(answer.headers.get('retry-after')).toMatch(/^[1-9]\d*$/);
    }
    await release('hold-mid');
    for (const batch of queued) expect(await stored(batch)).toBe(0);

    // Ingest resumes by itself once the probe reaches PostgreSQL again.
    let retried: Awaited<Sent['answer']> | undefined;
    await until(async () => {
      retried = await send('api', 100).answer;
      return retried.status === 200;
    }, 'ingest to resume');
    const again = send('api', 1000);
    expect((await again.answer).status).toBe(200);
    expect(await stored(again)).toBe(1000);
  });
});
