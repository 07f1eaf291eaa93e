// Where a body is parsed (src/ingest/ingestWorkers.ts): a small gzip body that inflates
// to many records must not be parsed on the main thread, which serves every route.
import { gzipSync } from 'node:zlib';
import { loadParser } from '../src/ingest/fingerprint';
import { IngestWorkers } from '../src/ingest/ingestWorkers';

const TENANT = '12121212-1212-4212-8212-121212121212';

describe('the choice between the main thread and the workers', () => {
  let workers: IngestWorkers;
  beforeAll(async () => {
    await loadParser();
    workers = new IngestWorkers(1);
  });
  afterAll(() => workers.close());

  const input = (body: Buffer, contentEncoding?: string) => ({
    kind: 'api' as const, body, contentType: 'application/json', contentEncoding, bodyLimitBytes: 64 * 1024 * 1024,
    tenantId: TENANT, nowMs: Date.now(), slowQueryThresholdMs: 1000, samplingRate: 1,
  });

  it('sends a gzip body of a few KB that inflates to 20 000 records to a worker', async () => {
    const record = { timestamp: new Date().toISOString(), endpoint: '/api/orders', method: 'GET', statusCode: 200, responseTimeMs: 4 };
    const gzip = gzipSync(JSON.stringify(Array.from({ length: 20_000 }, () => record)));
    expect(gzip.length).toBeLessThan(16 * 1024);
    const before = { ...workers.stats };
    const prepared = await workers.prepare(input(gzip, 'gzip'));
    expect(prepared.kept).toBe(20_000);
    expect(workers.stats.inWorker - before.inWorker).toBe(1);
    expect(workers.stats.inline - before.inline).toBe(0);
  });

  it('prepares a small plain body inline', async () => {
    const before = { ...workers.stats };
    const body = Buffer.from(JSON.stringify([{ timestamp: new Date().toISOString(), endpoint: '/x', method: 'GET', statusCode: 200, responseTimeMs: 1 }]));
    expect((await workers.prepare(input(body))).kept).toBe(1);
    expect(workers.stats.inline - before.inline).toBe(1);
  });
});
