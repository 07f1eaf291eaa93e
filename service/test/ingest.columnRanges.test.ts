import { createTestDatabase, type TestDatabase } from './support/db';
import { apiRecord, post, queryRecord, resourceRecord, startTestService, tokenFor } from './support/service';
import { GroupCommitQueue, IngestRejected, type Lines } from '../src/ingest/groupCommit';
import type { RunningService } from '../src/service';

const TENANT = '66666666-6666-4666-8666-666666666666';

describe('ingest validates each value against the range its column can hold', () => {
  let db: TestDatabase;
  let service: RunningService;
  let url: string;
  let ingest: string;

  beforeAll(async () => {
    db = await createTestDatabase('column_ranges');
    ({ service, url } = await startTestService(db));
    ingest = await tokenFor(db, TENANT, ['ingest']);
  });
  afterAll(async () => {
    await service.stop();
    await db.drop();
  });

  const TOO_SMALL = [1e-50, 1e-40, -0 + 1e-39, 5e-324];

  it.each(TOO_SMALL)('answers 400 naming responseTimeMs for %p, which a real column refuses or cannot keep', async (value) => {
    const res = await post(`${url}/v1/ingest/api-requests`, ingest, [apiRecord(), apiRecord({ responseTimeMs: value })]);
    expect(res.status).toBe(400);
    expect(res.body.error.details.errors).toEqual([{ index: 1, field: 'responseTimeMs', reason: expect.stringMatching(/too small for a 4-byte real/) }]);
  });

  it('names executionTimeMs, cpuUsagePercent, memoryUsedMb and memoryTotalMb the same way', async () => {
    const query = await post(`${url}/v1/ingest/queries`, ingest, [queryRecord({ executionTimeMs: 1e-50 })]);
    expect(query.status).toBe(400);
    expect(query.body.error.details.errors[0]).toMatchObject({ field: 'executionTimeMs' });
    const resource = await post(`${url}/v1/ingest/resources`, ingest, [resourceRecord({ cpuUsagePercent: 1e-50, memoryUsedMb: 1e-45, memoryTotalMb: 2e-44 })]);
    expect(resource.status).toBe(400);
    expect(resource.body.error.details.errors.map((e: { field: string }) => e.field)).toEqual(['cpuUsagePercent', 'memoryUsedMb', 'memoryTotalMb']);
  });

  it('stores zero and the smallest normal real, which the column keeps', async () => {
    const res = await post(`${url}/v1/ingest/api-requests`, ingest, [apiRecord({ responseTimeMs: 0, endpoint: '/edge' }), apiRecord({ responseTimeMs: 1.2e-38, endpoint: '/edge' })]);
    expect(res.status).toBe(200);
    const rows = await db.pool.query(`SELECT response_time_ms FROM api_performance_log WHERE endpoint = '/edge' ORDER BY 1`);
    expect(rows.rows.map((r) => r.response_time_ms)).toEqual([0, expect.closeTo(1.2e-38, 40)]);
  });
});

describe('a group the database refuses is split in halves until the refused batch is alone', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase('group_bisect');
  });
  afterAll(async () => {
    await db.drop();
  });

  function apiLine(endpoint: string, responseTime = '5'): Lines {
    return { api: [`${new Date().toISOString()}\t${TENANT}\t${responseTime}\t\\N\t\\N\t200\tGET\t${endpoint}\t\\N\t\\N\n`], query: [], resource: [] };
  }

  it('commits every other batch of the group, refuses the poisoned one, in far fewer transactions than one per batch', async () => {
    const queue = new GroupCommitQueue(db.pool, { deltas: { apdexTargetMs: 100, slowQueryThresholdMs: 1000 }, flushIntervalMs: 200, flushMaxRecords: 1_000_000, queueMaxRecords: 1_000_000 });
    const batches = 32;
    const poisoned = 19;
    const outcomes = await Promise.allSettled(
      Array.from({ length: batches }, (_, i) => queue.enqueue(apiLine(`/bisect/${i}`, i === poisoned ? '1e-50' : '5'))),
    );
    await queue.drain();
    outcomes.forEach((outcome, i) => {
      if (i === poisoned) {
        expect(outcome.status).toBe('rejected');
        expect((outcome as PromiseRejectedResult).reason).toBeInstanceOf(IngestRejected);
        expect((outcome as PromiseRejectedResult).reason).toMatchObject({ status: 500, code: 'storage_rejected' });
      } else {
        expect(outcome.status).toBe('fulfilled');
      }
    });
    const stored = await db.pool.query(`SELECT count(*)::int AS n FROM api_performance_log WHERE endpoint LIKE '/bisect/%'`);
    expect(stored.rows[0].n).toBe(batches - 1);
    // One group of 32: the whole, then two halves per level down to the single batch
    // (1 + 2 * log2(32) = 11). Retrying one by one would take 1 + 32.
    expect(queue.stats.transactions).toBe(11);
  });
});

describe('the queue is bounded by bytes as well as records', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase('queue_bytes');
  });
  afterAll(async () => {
    await db.drop();
  });

  function longEndpointBatch(records: number, endpointChars: number): Lines {
    const endpoint = '/long/' + 'x'.repeat(endpointChars);
    const line = `${new Date().toISOString()}\t${TENANT}\t5\t\\N\t\\N\t200\tGET\t${endpoint}\t\\N\t\\N\n`;
    return { api: [line.repeat(records)], query: [], resource: [] };
  }

  it('refuses with 429 a batch that would take the bytes waiting past queueMaxBytes, though few records wait, and takes batches again once written', async () => {
    const queue = new GroupCommitQueue(db.pool, { deltas: { apdexTargetMs: 100, slowQueryThresholdMs: 1000 }, flushIntervalMs: 60_000, flushMaxRecords: 1_000_000, queueMaxRecords: 1_000_000, queueMaxBytes: 1024 * 1024 });
    const first = queue.enqueue(longEndpointBatch(1000, 490), 1000); // about 560 KB
    expect(queue.depthBytes).toBeGreaterThan(500 * 1024);
    const refused = queue.enqueue(longEndpointBatch(1000, 490), 1000);
    await expect(refused).rejects.toMatchObject({ status: 429, code: 'queue_full', message: expect.stringMatching(/bytes waiting, at most 1048576/) });
    await queue.drain();
    await expect(first).resolves.toEqual({});
    expect(queue.depthBytes).toBe(0);
    // An empty queue accepts one batch larger than the bound.
    const queue2 = new GroupCommitQueue(db.pool, { deltas: { apdexTargetMs: 100, slowQueryThresholdMs: 1000 }, flushIntervalMs: 5, flushMaxRecords: 1_000_000, queueMaxRecords: 1_000_000, queueMaxBytes: 1024 * 1024 });
    await expect(queue2.enqueue(longEndpointBatch(2000, 490), 2000)).resolves.toEqual({});
    await queue2.drain();
    const stored = await db.pool.query(`SELECT count(*)::int AS n FROM api_performance_log WHERE endpoint LIKE '/long/%'`);
    expect(stored.rows[0].n).toBe(3000);
  });
});
