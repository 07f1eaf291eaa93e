import { createTestDatabase, type TestDatabase } from './support/db';
import { apiRecord, post, startTestService, tokenFor } from './support/service';
import type { RunningService } from '../src/service';

const TENANT = '66666666-6666-4666-8666-666666666666';

describe('group commit', () => {
  let db: TestDatabase;
  let service: RunningService;
  let url: string;
  let token: string;

  beforeAll(async () => {
    db = await createTestDatabase('group_commit');
    ({ service, url } = await startTestService(db, { METRICS_FLUSH_INTERVAL_MS: '20' }));
    token = await tokenFor(db, TENANT, ['ingest']);
  });
  afterAll(async () => {
    await service.stop();
    await db.drop();
  });

  it('shares COPY transactions between concurrent requests and stores every acknowledged row', async () => {
    const flushesBefore = service.queue.stats.flushes;
    const requests = 60;
    const perRequest = 50;
    const responses = await Promise.all(
      Array.from({ length: requests }, (_, r) =>
        post(`${url}/v1/ingest/api-requests`, token,
          Array.from({ length: perRequest }, (_, i) => apiRecord({ requestId: `gc-${r}-${i}` }))),
      ),
    );
    expect(responses.map((r) => r.status)).toEqual(Array(requests).fill(200));
    const flushes = service.queue.stats.flushes - flushesBefore;
    expect(flushes).toBeGreaterThan(0);
    expect(flushes).toBeLessThan(requests);
    const rows = await db.pool.query(`SELECT count(DISTINCT request_id)::int AS n FROM api_performance_log WHERE request_id LIKE 'gc-%'`);
    expect(rows.rows[0].n).toBe(requests * perRequest);
  });

  it('refuses with 429 and Retry-After when the queue is full, storing nothing of that batch', async () => {
    const small = await startTestService(db, { METRICS_QUEUE_MAX_RECORDS: '10' });
    try {
      const res = await post(`${small.url}/v1/ingest/api-requests`, token, Array.from({ length: 11 }, () => apiRecord({ endpoint: '/too-many' })));
      expect(res.status).toBe(429);
      expect(res.headers.get('retry-after')).toBe('1');
      expect(res.body.error.code).toBe('queue_full');
      const rows = await db.pool.query(`SELECT count(*)::int AS n FROM api_performance_log WHERE endpoint = '/too-many'`);
      expect(rows.rows[0].n).toBe(0);
    } finally {
      await small.service.stop();
    }
  });

  it('samples fast records but always keeps server errors and slow requests', async () => {
    const sampled = await startTestService(db, { PERFORMANCE_SAMPLING_RATE: '0' });
    try {
      const res = await post(`${sampled.url}/v1/ingest/api-requests`, token, [
        apiRecord({ endpoint: '/sampled', statusCode: 200, responseTimeMs: 5 }),
        apiRecord({ endpoint: '/sampled', statusCode: 503, responseTimeMs: 5 }),
        apiRecord({ endpoint: '/sampled', statusCode: 200, responseTimeMs: 5000 }),
      ]);
      expect(res.body).toEqual({ accepted: 2, sampledOut: 1 });
      const rows = await db.pool.query(`SELECT status_code, response_time_ms FROM api_performance_log WHERE endpoint = '/sampled' ORDER BY 1, 2`);
      expect(rows.rows).toEqual([{ status_code: 200, response_time_ms: 5000 }, { status_code: 503, response_time_ms: 5 }]);
    } finally {
      await sampled.service.stop();
    }
  });

  it('validates but stores nothing when PERFORMANCE_METRICS_ENABLED=false', async () => {
    const disabled = await startTestService(db, { PERFORMANCE_METRICS_ENABLED: 'false' });
    try {
      const bad = await post(`${disabled.url}/v1/ingest/api-requests`, token, [apiRecord({ statusCode: 1 })]);
      expect(bad.status).toBe(400);
      const res = await post(`${disabled.url}/v1/ingest/api-requests`, token, [apiRecord({ endpoint: '/disabled' })]);
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ accepted: 0, discarded: 1 });
      const rows = await db.pool.query(`SELECT count(*)::int AS n FROM api_performance_log WHERE endpoint = '/disabled'`);
      expect(rows.rows[0].n).toBe(0);
    } finally {
      await disabled.service.stop();
    }
  });
});
