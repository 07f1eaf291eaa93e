// V0.0.58 converts the rollups' bigint[] histograms of a database migrated to V0.0.41
// into the packed form, V0.0.59 adds the 30-minute totals, V0.0.60 the fingerprints'
// weekly rows, and their rollbacks convert them back: none may change a count.
import { cpSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { migrate, MIGRATIONS_DIR } from '../src/db/migrate';
import { createTestDatabase, type TestDatabase } from './support/db';

const T = 'c5c5c5c5-0000-4000-8000-000000000005';

/** The migration files before V0.0.58, in a directory of their own. */
function migrationsBefore58(): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'agog-migrations-41-'));
  for (const name of readdirSync(MIGRATIONS_DIR)) {
    if (name.endsWith('.sql') && !/^V0\.0\.(58|59|60)__/.test(name)) cpSync(path.join(MIGRATIONS_DIR, name), path.join(dir, name));
  }
  return dir;
}

describe('V0.0.58 to V0.0.60 on a database with rollups', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase('migrate_compact_hist', { migrated: false });
    await migrate(db.url, { dir: migrationsBefore58() });
    // Histograms of every size, counts above 2^20 (several packed elements), bucket 4000,
    // and a row with database time only (no histogram).
    await db.pool.query(
      `INSERT INTO api_metrics_rollup (tenant_id, resolution, bucket, endpoint, requests, hist)
       SELECT $1::uuid, r, timestamptz '2026-01-01' + g * interval '1 hour', 'e' || (g % 7), 1,
              (SELECT array_agg((b::bigint << 40) + 1 + (b * g) % 3000000 ORDER BY b)
                 FROM generate_series(1 + g % 50, 1 + g % 50 + g % 300) b)
         FROM generate_series(1, 400) g, unnest(ARRAY['1h', '1d']) r`,
      [T]);
    await db.pool.query(
      `INSERT INTO api_metrics_rollup (tenant_id, resolution, bucket, endpoint, requests, hist, db_ms)
       VALUES ($1::uuid, '5m', '2026-01-01', '', 3, ARRAY[(4000::bigint << 40) + 3], 0),
              ($1::uuid, '5m', '2026-01-01', '(none)', 0, NULL, 12.5)`,
      [T]);
    await db.pool.query(
      `INSERT INTO query_metrics_rollup (tenant_id, resolution, bucket, query_hash, calls, hist)
       SELECT $1::uuid, '1h', timestamptz '2026-01-01' + g * interval '1 hour', g % 5, 1,
              ARRAY[(7::bigint << 40) + g, ((20 + g % 9)::bigint << 40) + 5 * 1048576 + g]
         FROM generate_series(1, 200) g`,
      [T]);
    // Daily fingerprint rows over three weeks and a half, for the weekly level.
    await db.pool.query(
      `INSERT INTO query_metrics_rollup (tenant_id, resolution, bucket, query_hash, calls, slow_calls, total_ms, max_ms, rows_sum, hist)
       SELECT $1::uuid, '1d', timestamptz '2026-01-01' + g * interval '1 day', g % 3, g, g % 2, g * 1.5, g, 2 * g,
              ARRAY[(7::bigint << 40) + g, ((30 + g % 4)::bigint << 40) + 2]
         FROM generate_series(1, 25) g`,
      [T]);
    await db.pool.query(
      `CREATE TABLE before_58 AS
         SELECT 'api' AS t, resolution, bucket, endpoint AS key, hist::text AS hist, hist_percentile(hist, 0.95) AS p95 FROM api_metrics_rollup
         UNION ALL
         SELECT 'query', resolution, bucket, query_hash::text, hist::text, hist_percentile(hist, 0.95) FROM query_metrics_rollup`);
  });
  afterAll(async () => db.drop());

  const compare = (hist: string) => `
    SELECT count(*)::int AS rows,
           count(*) FILTER (WHERE b.hist IS DISTINCT FROM a.hist)::int AS histograms_differ,
           count(*) FILTER (WHERE b.p95 IS DISTINCT FROM a.p95)::int AS p95_differ
      FROM before_58 b
      JOIN (SELECT 'api' AS t, resolution, bucket, endpoint AS key, (${hist})::text AS hist, hist_percentile(hist, 0.95) AS p95 FROM api_metrics_rollup
            UNION ALL
            SELECT 'query', resolution, bucket, query_hash::text, (${hist})::text, hist_percentile(hist, 0.95) FROM query_metrics_rollup) a
        USING (t, resolution, bucket, key)`;

  it('packs every histogram without changing a count, and its rollback restores them', async () => {
    const applied = await migrate(db.url);
    expect(applied.applied).toEqual(['V0.0.58__compact_histograms.sql', 'V0.0.59__tenant_total_30m.sql', 'V0.0.60__weekly_fingerprint_rollups.sql']);
    const types = await db.pool.query(
      `SELECT table_name, data_type FROM information_schema.columns
        WHERE column_name = 'hist' AND table_name IN ('api_metrics_rollup', 'query_metrics_rollup') ORDER BY 1`);
    expect(types.rows.map((r) => r.data_type)).toEqual(['bytea', 'bytea']);
    const packed = (await db.pool.query(compare('hist_unpack(hist)'))).rows[0];
    expect(packed).toEqual({ rows: 1027, histograms_differ: 0, p95_differ: 0 });
    // The tenant's 5-minute total gained its 30-minute row.
    const halfHour = await db.pool.query(`SELECT bucket, requests::int AS requests, hist_unpack(hist)::text AS hist FROM api_metrics_rollup WHERE resolution = '30m'`);
    expect(halfHour.rows).toEqual([{ bucket: new Date('2026-01-01T00:00:00Z'), requests: 3, hist: `{${4000n * 2n ** 40n + 3n}}` }]);
    // A count above 2^20 - 1 took more than one element.
    const split = await db.pool.query(`SELECT max(length(hist))::int AS n FROM query_metrics_rollup`);
    expect(split.rows[0].n).toBe(4 * (1 + 6));
    // Each fingerprint's week (from Monday) is the sum of its days.
    const weeks = (await db.pool.query(
      `WITH d AS (SELECT date_trunc('week', bucket, 'UTC') AS wk, query_hash, calls, slow_calls, total_ms, max_ms, rows_sum, hist
                    FROM query_metrics_rollup WHERE resolution = '1d'),
            sums AS (SELECT wk, query_hash, sum(calls) AS calls, sum(slow_calls) AS slow_calls, sum(total_ms) AS total_ms,
                            max(max_ms) AS max_ms, sum(rows_sum) AS rows_sum FROM d GROUP BY 1, 2),
            hists AS (SELECT wk, query_hash, array_agg((b << 40) + n ORDER BY b)::text AS hist
                        FROM (SELECT wk, query_hash, e >> 40 AS b, sum(e & 1099511627775)::bigint AS n
                                FROM d, unnest(hist_unpack(d.hist)) e GROUP BY 1, 2, 3) s GROUP BY 1, 2),
            w AS (SELECT bucket AS wk, query_hash, calls, slow_calls, total_ms, max_ms, rows_sum, hist_unpack(hist)::text AS hist
                    FROM query_metrics_rollup WHERE resolution = '1w')
       SELECT (SELECT count(*) FROM w)::int AS rows,
              (SELECT count(*) FROM w WHERE extract(isodow FROM wk AT TIME ZONE 'UTC') <> 1 OR wk <> date_trunc('day', wk, 'UTC'))::int AS not_mondays,
              (SELECT count(*) FROM w FULL JOIN (sums JOIN hists USING (wk, query_hash)) e USING (wk, query_hash)
                WHERE (w.calls, w.slow_calls, w.total_ms, w.max_ms, w.rows_sum, w.hist)
                      IS DISTINCT FROM (e.calls, e.slow_calls, e.total_ms, e.max_ms, e.rows_sum, e.hist))::int AS differ`)).rows[0];
    // Days 2026-01-02 (a Friday) to 2026-01-26, fingerprint g % 3: a (week, fingerprint) each.
    const mondayOf = (ms: number) => ms - ((new Date(ms).getUTCDay() + 6) % 7) * 86_400_000;
    const expected = new Set(Array.from({ length: 25 }, (_, i) => `${mondayOf(Date.UTC(2026, 0, 2 + i))}:${(i + 1) % 3}`));
    expect(weeks).toEqual({ rows: expected.size, not_mondays: 0, differ: 0 });

    for (const version of ['0.0.60', '0.0.59', '0.0.58']) {
      await db.pool.query(readFileSync(path.join(MIGRATIONS_DIR, 'rollback', `rollback_V${version}.sql`), 'utf8'));
    }
    const back = (await db.pool.query(compare('hist'))).rows[0];
    expect(back).toEqual({ rows: 1027, histograms_differ: 0, p95_differ: 0 });
    const history = await db.pool.query(`SELECT version FROM agog_schema_history ORDER BY version`);
    expect(history.rows.map((r) => r.version)).toEqual(['0.0.40', '0.0.41']);
  });
});
