// The collector against a real pg_stat_statements (docs/collector.md): the collected
// calls and total time of a scripted workload and of pgbench equal pg_stat_statements'
// own deltas, a reset or a re-created entry between rounds is counted once, the
// least-privilege login reads everything and a login without pg_read_all_stats is told
// so, and a missing extension gives a message that says what to add.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { collectRound, type RoundSummary } from '../src/collector/collect';
import type { MonitoredDatabase } from '../src/config';
import { readStatementCounters } from '../src/db/monitoredStatements';
import { createPool, withDatabase, type Pool } from '../src/db/pool';
import { createDatabaseIfMissing, dropDatabase } from '../src/db/admin';
import { fingerprintQuery, loadParser } from '../src/ingest/fingerprint';
import { createTestDatabase, type TestDatabase } from './support/db';
import { createMonitoredDatabase, startMonitoredServer, type MonitoredDatabaseFixture, type MonitoredServer } from './support/monitoredServer';

const TENANT = 'c011ec70-0000-4000-8000-000000000031';
const SETTINGS = { slowQueryThresholdMs: 1000, retentionDays: 30 };

let db: TestDatabase;
let server: MonitoredServer;
let monitored: MonitoredDatabaseFixture;
let collectorPool: Pool;
let database: MonitoredDatabase;
let versionNum: number;

/** The workload's statements, each run with literals (one pg_stat_statements entry per text). */
const WORKLOAD = {
  select: (i: number) => `SELECT abalance FROM accounts WHERE aid = ${i}`,
  update: (i: number) => `UPDATE accounts SET abalance = abalance + ${i} WHERE aid = ${(i % 1000) + 1}`,
  count: (i: number) => `SELECT count(*) FROM accounts WHERE abalance > ${i}`,
};
const hashOf = (sql: string) => fingerprintQuery(sql).hashDecimal;

async function runWorkload(counts: Partial<Record<keyof typeof WORKLOAD, number>>): Promise<void> {
  for (const [kind, n] of Object.entries(counts) as Array<[keyof typeof WORKLOAD, number]>) {
    for (let i = 1; i <= n; i++) await monitored.admin.query(WORKLOAD[kind](i));
  }
}

/** pg_stat_statements read as a superuser: calls and total time per fingerprint of the workload. */
async function truth(): Promise<Map<string, { calls: number; totalMs: number }>> {
  const result = await monitored.admin.query<{ query: string; calls: number; total_ms: number }>(
    `SELECT query, calls::float8 AS calls, total_exec_time AS total_ms FROM pg_stat_statements
      WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())`,
  );
  const workload = new Set(Object.values(WORKLOAD).map((f) => hashOf(f(1))));
  const out = new Map<string, { calls: number; totalMs: number }>();
  for (const row of result.rows) {
    const hash = hashOf(row.query);
    if (!workload.has(hash)) continue;
    const sum = out.get(hash) ?? { calls: 0, totalMs: 0 };
    sum.calls += row.calls;
    sum.totalMs += row.total_ms;
    out.set(hash, sum);
  }
  return out;
}

function minus(after: Map<string, { calls: number; totalMs: number }>, before: Map<string, { calls: number; totalMs: number }>) {
  return new Map([...after].map(([hash, a]) => {
    const b = before.get(hash) ?? { calls: 0, totalMs: 0 };
    return [hash, { calls: a.calls - b.calls, totalMs: a.totalMs - b.totalMs }];
  }).filter(([, d]) => (d as { calls: number }).calls > 0) as Array<[string, { calls: number; totalMs: number }]>);
}

type Collected = Map<string, { calls: number; totalMs: number; rows: number; slowCalls: number }>;

/** Everything collected so far per fingerprint of the workload (5-minute buckets). */
async function collectedSoFar(): Promise<Collected> {
  const workload = new Set(Object.values(WORKLOAD).map((f) => hashOf(f(1))));
  const result = await db.pool.query<{ query_hash: string; calls: number; total_ms: number; rows_sum: number; slow_calls: number }>(
    `SELECT query_hash::text, sum(calls)::float8 AS calls, sum(total_ms) AS total_ms, sum(rows_sum)::float8 AS rows_sum,
            sum(slow_calls)::float8 AS slow_calls
       FROM collected_query_stats WHERE tenant_id = $1::uuid AND source = 'erp' AND resolution = '5m' GROUP BY query_hash`,
    [TENANT],
  );
  return new Map(result.rows.filter((row) => workload.has(row.query_hash)).map((row) => [row.query_hash, {
    calls: row.calls, totalMs: row.total_ms, rows: row.rows_sum, slowCalls: row.slow_calls,
  }]));
}

/** Everything collected so far for some fingerprints (5-minute buckets). */
async function pgbenchCollected(hashes: Set<string>): Promise<Map<string, { calls: number; totalMs: number }>> {
  const result = await db.pool.query<{ query_hash: string; calls: number; total_ms: number }>(
    `SELECT query_hash::text, sum(calls)::float8 AS calls, sum(total_ms) AS total_ms FROM collected_query_stats
      WHERE tenant_id = $1::uuid AND source = 'erp' AND resolution = '5m' AND query_hash = ANY ($2::bigint[]) GROUP BY query_hash`,
    [TENANT, [...hashes]],
  );
  return new Map(result.rows.map((row) => [row.query_hash, { calls: row.calls, totalMs: row.total_ms }]));
}

/** A round, and what it added per fingerprint of the workload. */
async function roundAdded(): Promise<{ summary: RoundSummary; added: Collected }> {
  const before = await collectedSoFar();
  const summary = await round();
  const after = await collectedSoFar();
  const added: Collected = new Map();
  for (const [hash, a] of after) {
    const b = before.get(hash) ?? { calls: 0, totalMs: 0, rows: 0, slowCalls: 0 };
    if (a.calls === b.calls) continue;
    added.set(hash, { calls: a.calls - b.calls, totalMs: a.totalMs - b.totalMs, rows: a.rows - b.rows, slowCalls: a.slowCalls - b.slowCalls });
  }
  return { summary, added };
}

function expectSame(collected: Map<string, { calls: number; totalMs: number }>, expected: Map<string, { calls: number; totalMs: number }>) {
  expect([...collected.keys()].sort()).toEqual([...expected.keys()].sort());
  for (const [hash, want] of expected) {
    const got = collected.get(hash)!;
    expect(got.calls).toBe(want.calls);
    // Both are sums of the same float8 counters; only the subtraction's rounding differs.
    expect(got.totalMs).toBeCloseTo(want.totalMs, 6);
  }
}

const round = (): Promise<RoundSummary> => collectRound(db.pool, collectorPool, database, SETTINGS);

beforeAll(async () => {
  await loadParser();
  db = await createTestDatabase('collector');
  server = await startMonitoredServer();
  monitored = await createMonitoredDatabase(server);
  collectorPool = createPool(monitored.collectorUrl, { max: 1 });
  database = { name: 'erp', url: monitored.collectorUrl, tenantId: TENANT };
  versionNum = Number((await monitored.admin.query<{ v: string }>(`SELECT current_setting('server_version_num') AS v`)).rows[0]!.v);
  await monitored.admin.query(`CREATE TABLE accounts (aid integer PRIMARY KEY, abalance integer NOT NULL DEFAULT 0)`);
  await monitored.admin.query(`INSERT INTO accounts (aid) SELECT generate_series(1, 1000)`);
  process.stdout.write(`monitored server: ${server.origin}, PostgreSQL ${versionNum}\n`);
});

afterAll(async () => {
  await collectorPool?.end();
  await monitored?.drop();
  await server?.stop();
  await db?.drop();
});

describe('collecting pg_stat_statements', () => {
  it('takes the first round as a baseline and writes nothing', async () => {
    await runWorkload({ select: 5 });
    const summary = await round();
    expect(summary.baseline).toBe(true);
    expect(summary.entries).toBeGreaterThan(0);
    const { rows } = await db.pool.query(`SELECT count(*)::int AS n FROM collected_query_stats`);
    expect(rows[0].n).toBe(0);
  });

  it('collects exactly the calls and total time pg_stat_statements grew by, as the least-privilege login', async () => {
    const before = await truth();
    await runWorkload({ select: 40, update: 25, count: 7 });
    const expected = minus(await truth(), before);
    const { summary, added: collected } = await roundAdded();
    expect(summary.hiddenEntries).toBe(0);
    // The collector's own statements (its login's) are not among them.
    const own = await db.pool.query(`SELECT count(*)::int AS n FROM collected_query_stats c JOIN query_fingerprints f USING (tenant_id, query_hash)
                                      WHERE f.query_preview LIKE '%pg_stat_statements(%'`);
    expect(own.rows[0].n).toBe(0);
    expectSame(collected, expected);
    expect(collected.get(hashOf(WORKLOAD.select(1)))!.rows).toBe(40);
    expect(collected.get(hashOf(WORKLOAD.update(1)))!.rows).toBe(25);
    expect(collected.get(hashOf(WORKLOAD.select(1)))!.slowCalls).toBe(0);
    // The texts reached query_fingerprints under the ingest fingerprint.
    const { rows } = await db.pool.query(`SELECT query_preview FROM query_fingerprints WHERE tenant_id = $1::uuid AND query_hash = $2::bigint`,
      [TENANT, hashOf(WORKLOAD.select(1))]);
    expect(rows[0].query_preview).toMatch(/^SELECT abalance FROM accounts WHERE aid = \$1$/);
  });

  it('collects exactly what pg_stat_statements grew by under pgbench\'s workload', async () => {
    const pgbench = '/usr/lib/postgresql/15/bin/pgbench';
    if (!existsSync(pgbench)) {
      process.stdout.write(`skipped: no ${pgbench} (Debian's postgresql-15 package ships it)\n`);
      return;
    }
    const url = new URL(monitored.adminUrl);
    const env = { ...process.env, PGHOST: url.hostname, PGPORT: url.port, PGUSER: decodeURIComponent(url.username), PGPASSWORD: decodeURIComponent(url.password) };
    const run = (args: string[]) => promisify(execFile)(pgbench, [...args, monitored.name], { env });
    await run(['-i', '-s', '1', '-q']);
    const pgbenchTexts = async () => new Map((await monitored.admin.query<{ query: string; calls: number; total_ms: number }>(
      `SELECT query, calls::float8 AS calls, total_exec_time AS total_ms FROM pg_stat_statements
        WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database()) AND query ~ 'pgbench_(accounts|branches|tellers|history)'
          AND query !~* '^(create|drop|alter|truncate|copy|vacuum|insert into pgbench_(accounts|branches|tellers) )'`,
    )).rows.reduce((sums, row) => {
      const hash = hashOf(row.query);
      const sum = sums.get(hash) ?? { calls: 0, totalMs: 0 };
      sums.set(hash, { calls: sum.calls + row.calls, totalMs: sum.totalMs + row.total_ms });
      return sums;
    }, new Map<string, { calls: number; totalMs: number }>()));
    await round();
    const before = await pgbenchTexts();
    await run(['-n', '-t', '40', '-c', '2', '-M', 'simple']);
    const expected = minus(await pgbenchTexts(), before);
    const pgbenchHashes = new Set(expected.keys());
    const beforeCollected = await pgbenchCollected(pgbenchHashes);
    await round();
    const added = minus(await pgbenchCollected(pgbenchHashes), beforeCollected);
    expectSame(added, expected);
    // The TPC-B-like transaction's five statements, 2 clients × 40 transactions each.
    expect([...added.values()].filter((v) => v.calls === 80)).toHaveLength(5);
  });

  it('writes nothing for a round without calls', async () => {
    const { added } = await roundAdded();
    expect(added).toEqual(new Map());
  });

  it('counts once the calls after a reset between rounds, never negative', async () => {
    await runWorkload({ select: 30, count: 10 });
    await monitored.admin.query('SELECT pg_stat_statements_reset()');
    const before = await truth(); // empty for the workload: every entry is gone
    await runWorkload({ select: 4, update: 3 });
    const expected = minus(await truth(), before);
    expect(expected.get(hashOf(WORKLOAD.select(1)))!.calls).toBe(4);
    const { summary, added: collected } = await roundAdded();
    if (versionNum >= 140000) expect(summary.reset).toBe(true);
    expectSame(collected, expected);
    const { rows } = await db.pool.query(
      `SELECT count(*)::int AS n FROM collected_query_stats
        WHERE calls <= 0 OR total_ms < 0 OR rows_sum < 0 OR shared_blks_hit < 0 OR shared_blks_read < 0 OR sum_squares_ms < 0`);
    expect(rows[0].n).toBe(0);
  });

  it('counts a deallocated and re-created entry once, from its new counters', async () => {
    await round();
    const select = await monitored.admin.query<{ userid: string; dbid: string; queryid: string }>(
      `SELECT userid::text, dbid::text, queryid::text FROM pg_stat_statements
        WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database()) AND query LIKE 'SELECT abalance FROM accounts%'`);
    expect(select.rows).toHaveLength(1);
    await runWorkload({ select: 10 }); // the entry now has 14 calls since the reset
    const { userid, dbid, queryid } = select.rows[0]!;
    // Removing one entry is what eviction at pg_stat_statements.max does; the entry is
    // created again by the next call, with fresh counters below the old ones.
    await monitored.admin.query('SELECT pg_stat_statements_reset($1::oid, $2::oid, $3::bigint)', [userid, dbid, queryid]);
    await runWorkload({ select: 3 });
    const { summary, added: collected } = await roundAdded();
    expect(summary.restartedEntries).toBeGreaterThanOrEqual(1);
    // The 10 calls before the removal are gone with the entry; the 3 after it count once.
    expect(collected.get(hashOf(WORKLOAD.select(1)))!.calls).toBe(3);
  });

  it('notices a re-created entry with more calls than before by its stats_since (PostgreSQL 17+)', async () => {
    if (versionNum < 170000) {
      process.stdout.write('skipped: pg_stat_statements has no stats_since before PostgreSQL 17 (docs/collector.md, "Deltas")\n');
      return;
    }
    await round();
    const select = await monitored.admin.query<{ userid: string; dbid: string; queryid: string; calls: number }>(
      `SELECT userid::text, dbid::text, queryid::text, calls::float8 AS calls FROM pg_stat_statements
        WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database()) AND query LIKE 'SELECT abalance FROM accounts%'`);
    const { userid, dbid, queryid, calls } = select.rows[0]!;
    await monitored.admin.query('SELECT pg_stat_statements_reset($1::oid, $2::oid, $3::bigint)', [userid, dbid, queryid]);
    await runWorkload({ select: calls + 5 });
    const { added } = await roundAdded();
    expect(added.get(hashOf(WORKLOAD.select(1)))!.calls).toBe(calls + 5);
  });

  it('keeps the statistics of other users from a login without pg_read_all_stats, and says so', async () => {
    const unprivileged = await createMonitoredDatabase(server, { privileged: false });
    const pool = createPool(unprivileged.collectorUrl, { max: 1 });
    try {
      await unprivileged.admin.query('SELECT 1 AS warm_up');
      const reading = await readStatementCounters(pool);
      // The login's own statements are left out, and it may read no one else's.
      expect(reading.hiddenEntries).toBeGreaterThan(0);
      expect(reading.entries).toEqual([]);
    } finally {
      await pool.end();
      await unprivileged.drop();
    }
  });

  it('says to run CREATE EXTENSION when pg_stat_statements is preloaded but not created in the database', async () => {
    const bare = await createMonitoredDatabase(server, { extension: false });
    const pool = createPool(bare.collectorUrl, { max: 1 });
    try {
      await expect(readStatementCounters(pool)).rejects.toThrow(
        new RegExp(`^pg_stat_statements is not installed in database "${bare.name}": run CREATE EXTENSION pg_stat_statements; in "${bare.name}"`));
    } finally {
      await pool.end();
      await bare.drop();
    }
  });

  it('says to add shared_preload_libraries when the server does not load pg_stat_statements', async () => {
    // The product's own test server runs without pg_stat_statements preloaded.
    const name = `agog_unloaded_${process.pid}`;
    await createDatabaseIfMissing(db.serverUrl, name);
    const pool = createPool(withDatabase(db.serverUrl, name), { max: 1 });
    try {
      const preload = (await pool.query<{ p: string }>(`SELECT current_setting('shared_preload_libraries') AS p`)).rows[0]!.p;
      if (preload.includes('pg_stat_statements')) {
        process.stdout.write('skipped: the test server preloads pg_stat_statements\n');
        return;
      }
      await expect(readStatementCounters(pool)).rejects.toThrow(
        /^pg_stat_statements is not installed in database "agog_unloaded_\d+": add pg_stat_statements to shared_preload_libraries in postgresql\.conf and restart the server, then run CREATE EXTENSION pg_stat_statements;/);
      await pool.query('CREATE EXTENSION pg_stat_statements');
      await expect(readStatementCounters(pool)).rejects.toThrow(
        /^pg_stat_statements is created in database "agog_unloaded_\d+" but not loaded: add pg_stat_statements to shared_preload_libraries/);
    } finally {
      await pool.end();
      await dropDatabase(db.serverUrl, name);
    }
  });

  it('runs one round from the command line with `agog-perf collect --once` and prints what it read', async () => {
    const cli = async (env: Record<string, string>) => {
      try {
        const { stdout, stderr } = await promisify(execFile)(process.execPath, [path.resolve(__dirname, '../bin/agog-perf.js'), 'collect', '--once'],
          { env: { ...process.env, DATABASE_URL: db.url, ...env } });
        return { code: 0, stdout, stderr };
      } catch (err) {
        const e = err as { code: number; stdout: string; stderr: string };
        return { code: e.code, stdout: e.stdout, stderr: e.stderr };
      }
    };
    const env = { MONITORED_DATABASE_URL: monitored.collectorUrl, MONITORED_TENANT_ID: TENANT };
    const first = await cli(env);
    expect(first.code).toBe(0);
    expect(first.stdout).toMatch(/^127\.0\.0\.1:\d+\/agog_monitored_\w+ → tenant c011ec70-0000-4000-8000-000000000031: \d+ pg_stat_statements entries read\n {2}first round: counters recorded as the baseline/);
    await runWorkload({ count: 6 });
    const second = await cli(env);
    expect(second.code).toBe(0);
    expect(second.stdout).toMatch(/ {2}since \S+: \d+ call\(s\), [\d.]+ ms in \d+ fingerprint\(s\)/);
    const { rows } = await db.pool.query(
      `SELECT sum(calls)::int AS calls FROM collected_query_stats
        WHERE tenant_id = $1::uuid AND source LIKE '127.0.0.1:%' AND resolution = '5m' AND query_hash = $2::bigint`,
      [TENANT, hashOf(WORKLOAD.count(1))]);
    expect(rows[0].calls).toBe(6);

    const bare = await createMonitoredDatabase(server, { extension: false });
    try {
      const failed = await cli({ MONITORED_DATABASE_URL: bare.collectorUrl, MONITORED_TENANT_ID: TENANT });
      expect(failed.code).toBe(1);
      expect(failed.stderr).toContain(`pg_stat_statements is not installed in database "${bare.name}": run CREATE EXTENSION pg_stat_statements;`);
      const usage = await cli({ MONITORED_DATABASE_URL: '', MONITORED_TENANT_ID: '' });
      expect(usage.code).toBe(2);
      expect(usage.stderr).toMatch(/no monitored database: set MONITORED_DATABASE_URL and MONITORED_TENANT_ID/);
    } finally {
      await bare.drop();
    }
  });
});
