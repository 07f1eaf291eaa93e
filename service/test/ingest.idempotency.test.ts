// Idempotency keys (Idempotency-Key header, ingest_idempotency_keys in the baseline migration): a COMMIT whose answer
// is lost after the server committed, the client's retry with the same key, and exactly
// one copy stored.
import { randomUUID } from 'node:crypto';
import { expireIdempotencyKeys } from '../src/db/idempotencyKeys';
import type { RunningService } from '../src/service';
import { CommitCuttingProxy } from './support/cutProxy';
import { createTestDatabase, type TestDatabase } from './support/db';
import { apiRecord, post, startTestService, tokenFor } from './support/service';

const TENANT = 'abababab-abab-4bab-8bab-abababababab';
const OTHER = 'cdcdcdcd-cdcd-4dcd-8dcd-cdcdcdcdcdcd';

describe('ingest with an Idempotency-Key', () => {
  let db: TestDatabase;
  let proxy: CommitCuttingProxy;
  let service: RunningService;
  let url: string;
  let token: string;

  beforeAll(async () => {
    db = await createTestDatabase('idempotency');
    const target = new URL(db.url);
    proxy = new CommitCuttingProxy({ host: target.hostname, port: Number(target.port) });
    await proxy.start();
    ({ service, url } = await startTestService({ ...db, url: proxy.url(db.url) }));
    token = await tokenFor(db, TENANT, ['ingest']);
  });
  afterAll(async () => {
    await service.stop();
    await proxy.close();
    await db.drop();
  });

  const batchOf = (label: string, n: number) => Array.from({ length: n }, (_, i) => apiRecord({ endpoint: `/idem/${label}`, requestId: `${label}-${i}` }));
  async function stored(label: string): Promise<number> {
    return (await db.pool.query(`SELECT count(*)::int AS n FROM api_performance_log WHERE endpoint = $1`, [`/idem/${label}`])).rows[0].n;
  }
  /** Sends until the answer is not a 503 (the client's retry loop), at most 200 times. */
  async function sendUntilAnswered(body: unknown, headers: Record<string, string>) {
    for (let attempt = 0; attempt < 200; attempt++) {
      const res = await post(`${url}/v1/ingest/api-requests`, token, body, headers);
      if (res.status !== 503) return res;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error('still 503 after 200 attempts');
  }

  it('answers a COMMIT cut after the server committed with an honest 503, and the retry with the same key stores nothing twice', async () => {
    const batch = batchOf('cut', 40);
    const headers = { 'idempotency-key': `batch-${randomUUID()}` };
    proxy.cutAfterNextCommit();
    const first = await post(`${url}/v1/ingest/api-requests`, token, batch, headers);
    expect(proxy.cuts).toBe(1);
    expect(first.status).toBe(503);
    expect(first.body.error.code).toBe('commit_outcome_unknown');
    expect(first.body.error.message).toMatch(/may have been stored: retry with the same Idempotency-Key/);
    expect(first.headers.get('retry-after')).toBe('2');
    // The server did commit.
    expect(await stored('cut')).toBe(40);

    const retry = await sendUntilAnswered(batch, headers);
    expect(retry.status).toBe(200);
    expect(retry.body).toEqual({ accepted: 40, sampledOut: 0, replayed: true });
    expect(await stored('cut')).toBe(40);
  });

  it('stores a batch sent twice at once with one key once, and answers both', async () => {
    const batch = batchOf('twice', 25);
    const headers = { 'idempotency-key': randomUUID() };
    const answers = await Promise.all([post(`${url}/v1/ingest/api-requests`, token, batch, headers), post(`${url}/v1/ingest/api-requests`, token, batch, headers)]);
    expect(answers.map((a) => a.status)).toEqual([200, 200]);
    expect(answers.map((a) => a.body.accepted)).toEqual([25, 25]);
    expect(answers.filter((a) => a.body.replayed === true)).toHaveLength(1);
    expect(await stored('twice')).toBe(25);
  });

  it('keeps keys per tenant, and stores a batch without a key each time it is sent', async () => {
    const admin = await tokenFor(db, null, ['admin']);
    const key = { 'idempotency-key': 'shared-key-1' };
    expect((await post(`${url}/v1/ingest/api-requests`, token, batchOf('tenants', 3), key)).body.replayed).toBeUndefined();
    const other = await post(`${url}/v1/ingest/api-requests`, admin, batchOf('tenants', 3), { ...key, 'x-tenant-id': OTHER });
    expect(other.status).toBe(200);
    expect(other.body.replayed).toBeUndefined();
    expect(await stored('tenants')).toBe(6);
    await post(`${url}/v1/ingest/api-requests`, token, batchOf('nokey', 2));
    await post(`${url}/v1/ingest/api-requests`, token, batchOf('nokey', 2));
    expect(await stored('nokey')).toBe(4);
  });

  it('answers 400 naming the header for a key that is too long or not visible ASCII', async () => {
    for (const bad of ['x'.repeat(129), 'has space', 'é']) {
      const res = await post(`${url}/v1/ingest/api-requests`, token, batchOf('badkey', 1), { 'idempotency-key': bad });
      expect(res.status).toBe(400);
      expect(res.body.error).toMatchObject({ code: 'invalid_idempotency_key', details: { field: 'Idempotency-Key' } });
    }
    expect(await stored('badkey')).toBe(0);
  });

  it('forgets keys a day old in the daily upkeep, and keeps younger ones', async () => {
    await db.pool.query(`INSERT INTO ingest_idempotency_keys (tenant_id, idempotency_key, accepted, sampled_out, created_at)
                         VALUES ($1::uuid, 'old-key', 1, 0, now() - interval '25 hours'), ($1::uuid, 'young-key', 1, 0, now() - interval '23 hours')`, [OTHER]);
    expect(await expireIdempotencyKeys(db.pool)).toBe(1);
    const left = await db.pool.query(`SELECT idempotency_key FROM ingest_idempotency_keys WHERE tenant_id = $1::uuid ORDER BY 1`, [OTHER]);
    expect(left.rows.map((r) => r.idempotency_key)).toEqual(['shared-key-1', 'young-key']);
  });
});
