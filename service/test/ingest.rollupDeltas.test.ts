// Rollup deltas computed in the service from the COPY lines (src/ingest/rollupDeltas.ts)
// are those the database would compute from the stored rows: the same histogram bucket
// as latency_bucket() for every duration, including those next to a bucket's edge, and
// the same keys for endpoints that COPY text escapes.
import { latencyBucket } from '../src/ingest/rollupDeltas';
import { createTestDatabase, type TestDatabase } from './support/db';
import { insertRequests } from './support/queryData';

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase('rollup_deltas');
});
afterAll(async () => db?.drop());

describe('latencyBucket', () => {
  it('puts every duration in latency_bucket()\'s bucket, next to bucket edges too', async () => {
    const values: number[] = [0, 0.001, 0.0099, 0.01, 0.0100001, 86_400_000, 1e30];
    for (let k = 1; k < 1200; k += 3) {
      const edge = 0.01 * 1.02 ** k;
      values.push(edge, edge * (1 + 1e-7), edge * (1 - 1e-7), Math.fround(edge), edge * (1 + 3e-8));
    }
    for (let i = 0; i < 2000; i++) values.push(Math.exp(Math.sin(i) * 12));
    const { rows } = await db.pool.query<{ b: number }>(
      'SELECT latency_bucket(v::real) AS b FROM unnest($1::float8[]) WITH ORDINALITY AS u(v, o) ORDER BY o', [values]);
    const mismatches = values.map((v, i) => [v, latencyBucket(v), rows[i]!.b]).filter(([, ours, theirs]) => ours !== theirs);
    expect(mismatches).toEqual([]);
    expect(values.length).toBeGreaterThan(4000);
  });
});

describe('deltas of escaped and empty endpoints', () => {
  it('key an endpoint by its text, and an empty one as (none), as the raw reads do', async () => {
    const T = 'abababab-0000-4000-8000-000000000001';
    const at = new Date(Date.UTC(2026, 10, 2, 10, 1));
    await insertRequests(db.pool, T, [
      { at, endpoint: 'tab\there', ms: 5 },
      { at, endpoint: 'back\\slash\nnewline', ms: 6 },
      { at, endpoint: '', ms: 7 },
    ]);
    const pending = await db.pool.query<{ endpoint: string; requests: string }>(
      `SELECT endpoint, requests::text FROM api_rollup_pending WHERE tenant_id = $1 ORDER BY endpoint`, [T]);
    const stored = await db.pool.query<{ endpoint: string }>(
      `SELECT DISTINCT coalesce(nullif(endpoint, ''), '(none)') AS endpoint FROM api_performance_log WHERE tenant_id = $1`, [T]);
    expect(pending.rows.map((r) => r.endpoint)).toEqual(['', ...stored.rows.map((r) => r.endpoint).sort()]);
    expect(pending.rows.find((r) => r.endpoint === '')!.requests).toBe('3');
  });
});
