// One tenant's heavy reads cannot take what others need: the query API reads on its own
// pool, each tenant has a bounded number of requests running, a request has a deadline,
// and a pool that stays busy is answered as busy, not as a database outage.
import type { PoolClient } from 'pg';
import { createPool } from '../src/db/pool';
import { GroupCommitQueue } from '../src/ingest/groupCommit';
import type { RunningService } from '../src/service';
import { createTestDatabase, type TestDatabase } from './support/db';
import { apiRecord, post, startTestService, tokenFor } from './support/service';

const TENANT_A = '13131313-1313-4313-8313-13131313131a';
const TENANT_B = '13131313-1313-4313-8313-13131313131b';
const TENANT_C = '13131313-1313-4313-8313-13131313131c';

const recommendationsQuery = { range: { from: Date.now() - 3_600_000, to: Date.now() }, queries: [{ refId: 'A', queryType: 'recommendations' }] };

describe('shared resources of the service', () => {
  let db: TestDatabase;
  let lock: PoolClient;

  beforeAll(async () => {
    db = await createTestDatabase('shared_resources');
  });
  afterAll(async () => {
    await db.drop();
  });

  /** Holds an exclusive lock on the table the recommendations query reads, so its reads wait. */
  async function holdReads(): Promise<void> {
    lock = await db.pool.connect();
    await lock.query('BEGIN');
    await lock.query('LOCK TABLE optimization_recommendations IN ACCESS EXCLUSIVE MODE');
  }
  async function releaseReads(): Promise<void> {
    await lock.query('ROLLBACK');
    lock.release();
  }
  async function until(condition: () => Promise<boolean>, what: string): Promise<void> {
    for (let i = 0; i < 1000; i++) {
      if (await condition()) return;
      await new Promise((r) => setTimeout(r, 20));
    }
    throw new Error(`never saw ${what}`);
  }
  async function readsWaitingOnLock(): Promise<number> {
    const rows = await db.pool.query(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'agog-perf service reads' AND wait_event_type = 'Lock'`);
    return rows.rows[0].n;
  }

  describe('with two connections, one reserved for reads, and one request per tenant running and one waiting', () => {
    let service: RunningService;
    let url: string;
    beforeAll(async () => {
      ({ service, url } = await startTestService(db, { DATABASE_POOL_MAX: '2', QUERY_TENANT_CONCURRENCY: '1', QUERY_TENANT_QUEUE: '1' }));
    });
    afterAll(async () => {
      await service.stop();
    });

    it('keeps ingest succeeding while reads of two tenants wait, lets one more request of a tenant wait its turn, and answers the next 429 with Retry-After', async () => {
      const readA = await tokenFor(db, TENANT_A, ['read']);
      const readB = await tokenFor(db, TENANT_B, ['read']);
      const ingestC = await tokenFor(db, TENANT_C, ['ingest']);
      // Tokens are looked up once before the reads hold anything.
      expect((await post(`${url}/v1/query`, readA, recommendationsQuery)).status).toBe(200);
      expect((await post(`${url}/v1/query`, readB, recommendationsQuery)).status).toBe(200);
      await holdReads();
      try {
        const firstA = post(`${url}/v1/query`, readA, recommendationsQuery);
        await until(async () => (await readsWaitingOnLock()) === 1, 'the first read waiting');
        // Of two more requests of tenant A, one waits its turn and one is refused at once.
        const moreA = [post(`${url}/v1/query`, readA, recommendationsQuery), post(`${url}/v1/query`, readA, recommendationsQuery)];
        const refused = await Promise.race(moreA);
        expect(refused.status).toBe(429);
        expect(refused.body.error.code).toBe('too_many_requests');
        expect(refused.headers.get('retry-after')).toBe('1');
        const firstB = post(`${url}/v1/query`, readB, recommendationsQuery); // waits for the read connection
        const ingest = await post(`${url}/v1/ingest/api-requests`, ingestC, [apiRecord({ endpoint: '/while-reads-wait' })]);
        expect(ingest.status).toBe(200);
        await releaseReads();
        expect((await firstA).status).toBe(200);
        expect((await firstB).status).toBe(200);
        expect((await Promise.all(moreA)).map((a) => a.status).sort()).toEqual([200, 429]);
      } finally {
        if (await readsWaitingOnLock().catch(() => 0)) await releaseReads().catch(() => undefined);
      }
      const stored = await db.pool.query(`SELECT count(*)::int AS n FROM api_performance_log WHERE endpoint = '/while-reads-wait'`);
      expect(stored.rows[0].n).toBe(1);
    });
  });

  it('answers a request that runs past QUERY_REQUEST_TIMEOUT_MS with 503 request_timeout', async () => {
    const { service, url } = await startTestService(db, { QUERY_REQUEST_TIMEOUT_MS: '300' });
    try {
      const read = await tokenFor(db, TENANT_A, ['read']);
      await holdReads();
      try {
        const answer = await post(`${url}/v1/query`, read, recommendationsQuery);
        expect(answer.status).toBe(503);
        expect(answer.body.error.code).toBe('request_timeout');
        expect(answer.headers.get('retry-after')).toBe('1');
      } finally {
        await releaseReads();
      }
      expect((await post(`${url}/v1/query`, read, recommendationsQuery)).status).toBe(200);
    } finally {
      await service.stop();
    }
  });

  it('answers 503 database_busy, not database_unavailable, when the ingest pool stays busy, and keeps accepting', async () => {
    const pool = createPool(db.url, { max: 1, connectionTimeoutMs: 200 });
    const queue = new GroupCommitQueue(pool, { deltas: { apdexTargetMs: 100, slowQueryThresholdMs: 1000 }, flushIntervalMs: 1, flushMaxRecords: 1000, queueMaxRecords: 1000 });
    const line = `${new Date().toISOString()}\t${TENANT_C}\t5\t\\N\t\\N\t200\tGET\t/busy\t\\N\t\\N\n`;
    const held = await pool.connect();
    try {
      await expect(queue.enqueue({ api: [line], query: [], resource: [] })).rejects.toMatchObject({ status: 503, code: 'database_busy' });
      expect(queue.databaseAvailable).toBe(true);
    } finally {
      held.release();
    }
    await expect(queue.enqueue({ api: [line], query: [], resource: [] })).resolves.toEqual({});
    await queue.drain();
    await pool.end();
  });
});
