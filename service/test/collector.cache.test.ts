// merge_collected_into_cache (baseline migration): an hour's cache row counts a fingerprint both
// reported and collected once, by its collected calls, and its health score's slow-query
// component follows; a refresh that rewrites the hour from reported rows alone is undone
// by running it again; an hour with collected calls only gets a row. Also: a range reads
// 5-minute and hourly buckets without counting a round twice, and the service has no
// collect job unless a monitored database is configured.
import { collectedTotals, insertCollectedStats, mergeCollectedIntoCache } from '../src/db/collectedStats';

import { startTestService } from './support/service';
import { refreshRollups } from '../src/db/rollups';
import { createTestDatabase, type TestDatabase } from './support/db';
import { HOUR, hourStart, insertQueries, insertRequests, MINUTE, times } from './support/queryData';

const TENANT = 'c011ec70-0000-4000-8000-0000000000c1';
let db: TestDatabase;

beforeAll(async () => {
  db = await createTestDatabase('collector_cache');
});
afterAll(async () => db?.drop());

/** A round's figures at `at`, in its 5-minute and hourly buckets. */
async function collected(at: Date, hash: string, calls: number, slowCalls: number, totalMs: number) {
  await db.pool.query(
    `INSERT INTO collected_query_stats AS c (tenant_id, resolution, bucket, query_hash, source, rounds, calls, total_ms, sum_squares_ms,
                                             rows_sum, slow_calls, shared_blks_hit, shared_blks_read, last_round_at)
     SELECT $1::uuid, r, date_bin(w, $2::timestamptz, timestamptz '2000-01-01 00:00:00+00'), $3::bigint, 'db', 1, $4::bigint, $6::float8,
            0, 0, $5::bigint, 0, 0, $2::timestamptz
       FROM (VALUES ('5m', interval '5 minutes'), ('1h', interval '1 hour')) AS v(r, w)
     ON CONFLICT (tenant_id, resolution, bucket, query_hash, source) DO UPDATE SET
       calls = c.calls + EXCLUDED.calls, slow_calls = c.slow_calls + EXCLUDED.slow_calls, total_ms = c.total_ms + EXCLUDED.total_ms`,
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

  it('reads a range\'s edges from 5-minute buckets and the hours between from hourly ones, each round once', async () => {
    const hour = hourStart(30);
    const tenant = 'c011ec70-0000-4000-8000-0000000000c2';
    const at = (minutes: number) => new Date(hour.getTime() + minutes * MINUTE);
    // Rounds written as the collector writes them: into a 5-minute and an hourly bucket each.
    for (const [minutes, calls] of [[10, 1], [90, 10], [170, 100], [175, 1000]] as const) {
      await insertCollectedStats(db.pool, tenant, 'db', { periodStart: at(minutes - 1), at: at(minutes) }, [{
        queryHash: '9', preview: 'SELECT $1', calls, totalMs: calls, rows: 0, slowCalls: 0, meanMs: 1, stddevMs: 0, sumSquares: calls,
        minMs: null, maxMs: null, sharedBlksHit: 0, sharedBlksRead: 0,
      }]);
    }
    const calls = async (from: number, to: number) =>
      (await collectedTotals(db.pool, tenant, { from: at(from), to: at(to) })).get('9')?.calls ?? 0;
    expect(await calls(5, 174)).toBe(111); // 5-minute edges at both ends, one whole hour between
    expect(await calls(15, 180)).toBe(1110);
    expect(await calls(0, 3 * 60)).toBe(1111); // three whole hours
    expect(await calls(60, 120)).toBe(10);
  });

  it('has no collect job unless a monitored database is configured', async () => {
    const { service } = await startTestService(db);
    try {
      expect(Object.keys(service.scheduler.status())).not.toContain('collect');
      expect(Object.keys(service.scheduler.status())).toContain('refresh');
    } finally {
      await service.stop();
    }
  });
});
