// merge_collected_into_cache (V0.0.56): an hour's cache row counts a fingerprint both
// reported and collected once, by its collected calls, and its health score's slow-query
// component follows; a refresh that rewrites the hour from reported rows alone is undone
// by running it again; an hour with collected calls only gets a row.
import { mergeCollectedIntoCache } from '../src/db/collectedStats';
import { refreshRollups } from '../src/db/rollups';
import { createTestDatabase, type TestDatabase } from './support/db';
import { HOUR, hourStart, insertQueries, insertRequests, MINUTE, times } from './support/queryData';

const TENANT = 'c011ec70-0000-4000-8000-0000000000c1';
let db: TestDatabase;

beforeAll(async () => {
  db = await createTestDatabase('collector_cache');
});
afterAll(async () => db?.drop());

async function collected(at: Date, hash: string, calls: number, slowCalls: number, totalMs: number) {
  await db.pool.query(
    `INSERT INTO collected_query_stats (tenant_id, "timestamp", query_hash, source, period_start, calls, total_ms, rows_sum, slow_calls,
                                        mean_ms, shared_blks_hit, shared_blks_read)
     VALUES ($1::uuid, $2::timestamptz, $3::bigint, 'db', $2::timestamptz - interval '1 minute', $4::bigint, $6::float8, 0, $5::bigint, $6::float8 / $4::bigint, 0, 0)`,
    [TENANT, at, hash, calls, slowCalls, totalMs],
  );
}

async function cacheRow(hour: Date) {
  const { rows } = await db.pool.query(
    `SELECT total_queries::int, slow_query_count::int, avg_query_time_ms, slow_query_deduction::float8, health_score::float8, total_requests::int
       FROM performance_metrics_cache WHERE tenant_id = $1::uuid AND hour_bucket = $2::timestamptz`, [TENANT, hour]);
  return rows[0];
}

describe('collected calls in the hourly cache', () => {
  it('replaces a fingerprint\'s reported calls by its collected ones, and scores the hour from them', async () => {
    const hour = hourStart(2);
    await insertRequests(db.pool, TENANT, times(new Date(hour.getTime() + MINUTE), 200, 1000).map((at) => ({ at, endpoint: '/api/a', ms: 20 })));
    // Fingerprint 42: 100 fast calls reported, the same 100 collected with 5 slow;
    // fingerprint 43: 10 reported only.
    await insertQueries(db.pool, TENANT, times(new Date(hour.getTime() + MINUTE), 100, 1000).map((at) => ({ at, hash: '42', preview: 'SELECT $1', ms: 5 })));
    await insertQueries(db.pool, TENANT, times(new Date(hour.getTime() + MINUTE), 10, 1000).map((at) => ({ at, hash: '43', preview: 'SELECT $2', ms: 2 })));
    await refreshRollups(db.pool);
    expect(await cacheRow(hour)).toMatchObject({ total_queries: 110, slow_query_count: 0, health_score: 100 });

    await collected(new Date(hour.getTime() + 30 * MINUTE), '42', 60, 5, 6000);
    await collected(new Date(hour.getTime() + 40 * MINUTE), '42', 40, 0, 200);
    expect(await mergeCollectedIntoCache(db.pool, TENANT, hour, new Date(hour.getTime() + HOUR))).toBe(1);
    const merged = await cacheRow(hour);
    // 100 collected + 10 reported of 43; 150 × 5 / 110 = 6.82 off the score.
    expect(merged).toMatchObject({ total_queries: 110, slow_query_count: 5, slow_query_deduction: 6.82, health_score: 93.18, total_requests: 200 });
    expect(merged.avg_query_time_ms).toBeCloseTo((6200 + 10 * 2) / 110, 6);

    // A refresh rewriting the hour from reported rows forgets the collected calls; merging
    // again restores them, and merging twice changes nothing.
    await insertQueries(db.pool, TENANT, [{ at: new Date(hour.getTime() + 50 * MINUTE), hash: '43', preview: 'SELECT $2', ms: 2 }]);
    await refreshRollups(db.pool);
    expect(await cacheRow(hour)).toMatchObject({ total_queries: 111, slow_query_count: 0 });
    await mergeCollectedIntoCache(db.pool, TENANT, hour, new Date(hour.getTime() + HOUR));
    await mergeCollectedIntoCache(db.pool, TENANT, hour, new Date(hour.getTime() + HOUR));
    expect(await cacheRow(hour)).toMatchObject({ total_queries: 111, slow_query_count: 5 });
  });

  it('gives an hour with collected calls only a cache row scored from them', async () => {
    const hour = hourStart(5);
    await collected(new Date(hour.getTime() + 10 * MINUTE), '77', 20, 20, 40_000);
    await mergeCollectedIntoCache(db.pool, TENANT, hour, new Date(hour.getTime() + HOUR));
    expect(await cacheRow(hour)).toMatchObject({ total_queries: 20, slow_query_count: 20, slow_query_deduction: 15, health_score: 85, total_requests: 0 });
  });
});
