import { cpSync, mkdtempSync, readFileSync, writeFileSync, readdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { embeddedResetHint } from '../src/cli/database';
import { migrate, MIGRATIONS_DIR, listMigrations, SupersededSchemaError, verifyRoleFlags } from '../src/db/migrate';
import { dumpSchema } from '../src/db/schemaDump';
import { createTestDatabase, type TestDatabase } from './support/db';

function copyOfMigrations(): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'agog-migrations-'));
  for (const name of readdirSync(MIGRATIONS_DIR)) {
    if (name.endsWith('.sql')) cpSync(path.join(MIGRATIONS_DIR, name), path.join(dir, name));
  }
  return dir;
}

describe('the migration runner', () => {
  let db: TestDatabase;
  afterEach(async () => db?.drop());

  it('applies every file once and changes nothing when run again', async () => {
    db = await createTestDatabase('migrate_twice', { migrated: false });
    const first = await migrate(db.url);
    expect(first.applied).toEqual(listMigrations().map((m) => m.script));
    const schemaAfterFirst = await dumpSchema(db.pool);

    const second = await migrate(db.url);
    expect(second.applied).toEqual([]);
    expect(second.alreadyApplied).toBe(first.applied.length);
    expect(await dumpSchema(db.pool)).toBe(schemaAfterFirst);
    const history = await db.pool.query('SELECT version, checksum FROM agog_schema_history ORDER BY version');
    expect(history.rows.map((r) => r.version)).toEqual(listMigrations().map((m) => m.version));
  });

  it('is safe when two runners start at once: each file is applied exactly once', async () => {
    db = await createTestDatabase('migrate_concurrent', { migrated: false });
    const [a, b] = await Promise.all([migrate(db.url), migrate(db.url)]);
    const total = listMigrations().length;
    expect(a.applied.length + b.applied.length).toBe(total);
    expect([a.applied.length, b.applied.length].sort()).toEqual([0, total]);
    const history = await db.pool.query('SELECT count(*)::int AS n FROM agog_schema_history');
    expect(history.rows[0].n).toBe(total);
  });

  it('refuses to run, naming the file, when an applied file has changed', async () => {
    db = await createTestDatabase('migrate_changed', { migrated: false });
    const dir = copyOfMigrations();
    await migrate(db.url, { dir });
    const first = listMigrations(dir)[0]!;
    const file = path.join(dir, first.script);
    writeFileSync(file, readFileSync(file, 'utf8') + '\n-- an edit after release\n');
    await expect(migrate(db.url, { dir })).rejects.toThrow(
      new RegExp(`${first.script.replace(/\./g, '\\.')} has changed since it was applied`),
    );
  });

  it('refuses an edited baseline as any edited file, not as an earlier build', async () => {
    db = await createTestDatabase('migrate_changed_baseline', { migrated: false });
    const dir = copyOfMigrations();
    await migrate(db.url, { dir });
    const baseline = listMigrations(dir).find((m) => m.version === '0.0.41')!;
    const file = path.join(dir, baseline.script);
    writeFileSync(file, readFileSync(file, 'utf8') + '\n-- an edit after release\n');
    await expect(migrate(db.url, { dir })).rejects.toThrow('V0.0.41__baseline.sql has changed since it was applied');
  });

  it('lists pending files on a dry run and applies nothing', async () => {
    db = await createTestDatabase('migrate_dry', { migrated: false });
    const result = await migrate(db.url, { dryRun: true });
    expect(result.pending).toEqual(listMigrations().map((m) => m.script));
    const tables = await db.pool.query(`SELECT to_regclass('query_performance_log') AS t`);
    expect(tables.rows[0].t).toBeNull();
  });

  it('treats versions applied by the application\'s Flyway as applied', async () => {
    db = await createTestDatabase('migrate_flyway', { migrated: false });
    const dir = copyOfMigrations();
    const [first] = listMigrations(dir);
    await db.pool.query(first!.sql);
    await db.pool.query(`CREATE TABLE flyway_schema_history (version text, success boolean)`);
    await db.pool.query(`INSERT INTO flyway_schema_history VALUES ($1, true)`, [first!.version]);
    const result = await migrate(db.url, { dir });
    expect(result.applied).not.toContain(first!.script);
    expect(result.alreadyApplied).toBeGreaterThanOrEqual(1);
  });

  it('keeps data across an upgrade from the first version to the latest', async () => {
    db = await createTestDatabase('migrate_upgrade', { migrated: false });
    const dir = mkdtempSync(path.join(os.tmpdir(), 'agog-migrations-first-'));
    const [first] = listMigrations();
    cpSync(path.join(MIGRATIONS_DIR, first!.script), path.join(dir, first!.script));
    await migrate(db.url, { dir });
    await db.pool.query(
      `INSERT INTO api_performance_log ("timestamp", tenant_id, endpoint, method, status_code, response_time_ms)
       VALUES (now(), '11111111-1111-1111-1111-111111111111', '/api/orders', 'GET', 200, 12.5)`,
    );
    await migrate(db.url);
    const rows = await db.pool.query('SELECT endpoint, response_time_ms FROM api_performance_log');
    expect(rows.rows).toEqual([{ endpoint: '/api/orders', response_time_ms: 12.5 }]);
  });

  it('undoes everything with the rollback scripts, and migrates again afterwards', async () => {
    db = await createTestDatabase('migrate_rollback', { migrated: true });
    const rollbackDir = path.join(MIGRATIONS_DIR, 'rollback');
    const scripts = readdirSync(rollbackDir).filter((f) => f.endsWith('.sql')).sort().reverse();
    expect(scripts).toContain('rollback_V0.0.40.sql');
    for (const script of scripts) await db.pool.query(readFileSync(path.join(rollbackDir, script), 'utf8'));
    const left = await db.pool.query(
      `SELECT relname FROM pg_class WHERE relnamespace = 'public'::regnamespace
         AND relname ~ '(performance|system_resource)' `,
    );
    expect(left.rows).toEqual([]);
    const history = await db.pool.query('SELECT count(*)::int AS n FROM agog_schema_history');
    expect(history.rows[0].n).toBe(0);
    const again = await migrate(db.url);
    expect(again.applied.length).toBe(listMigrations().length);
  });

  it('refuses to go on when a confined role exists with BYPASSRLS or SUPERUSER, naming the role, the flag and the fix', async () => {
    db = await createTestDatabase('migrate_roles', { migrated: true });
    // Roles are shared by the whole server: the check runs on roles of this test's own.
    const suffix = db.name.slice(-8);
    const bypass = `agog_test_bypass_${suffix}`;
    const superuser = `agog_test_super_${suffix}`;
    await db.pool.query(`CREATE ROLE ${bypass} NOLOGIN BYPASSRLS`);
    await db.pool.query(`CREATE ROLE ${superuser} NOLOGIN SUPERUSER`);
    const client = await db.pool.connect();
    try {
      await expect(verifyRoleFlags(client, [bypass])).rejects.toThrow(`role ${bypass} has BYPASSRLS, which switches row-level security off for it (fix: ALTER ROLE ${bypass} NOBYPASSRLS)`);
      await expect(verifyRoleFlags(client, [superuser])).rejects.toThrow(`role ${superuser} is SUPERUSER`);
      await client.query(`ALTER ROLE ${bypass} NOBYPASSRLS`);
      await expect(verifyRoleFlags(client, [bypass])).resolves.toBeUndefined();
      // The roles the migrations made pass, and migrate checks them on every run.
      await expect(verifyRoleFlags(client)).resolves.toBeUndefined();
    } finally {
      client.release();
      await db.pool.query(`DROP ROLE ${bypass}`);
      await db.pool.query(`DROP ROLE ${superuser}`);
    }
    expect((await migrate(db.url)).applied).toEqual([]);
  });
});

describe('the baseline', () => {
  it('defines each function once, replacing only what V0.0.40 defined', () => {
    const [seed, baseline] = listMigrations();
    expect(baseline!.script).toBe('V0.0.41__baseline.sql');
    const defined = (sql: string) =>
      [...sql.matchAll(/^CREATE (OR REPLACE )?(?:FUNCTION|AGGREGATE) (\w+)\(/gm)].map((m) => ({ replace: Boolean(m[1]), name: m[2]! }));
    const seedFunctions = new Set(defined(seed!.sql).map((f) => f.name));
    const own = defined(baseline!.sql);
    expect(own.length).toBeGreaterThan(10);
    expect(new Set(own.map((f) => f.name)).size).toBe(own.length);
    expect(own.filter((f) => f.replace).map((f) => f.name).filter((name) => !seedFunctions.has(name))).toEqual([]);
    // Names the removed derived forms used are gone.
    for (const removed of ['hist_percentiles', 'hist_p95_bounds', 'hist_coarsen', 'cumulate_rollup_histograms',
      'cumulate_rollup_prefixes', 'refresh_rollups_from_pending', 'maintain_partitions_and_rollups']) {
      expect(own.map((f) => f.name)).not.toContain(removed);
    }
  });
});

// Development builds before the baseline applied V0.0.41 to V0.0.57 as separate files
// (script names and SHA-256 of those files below). The baseline replaced them; a
// database that recorded them must get a message saying how to reset it, and be left
// as it is.
const EARLIER_BUILD_HISTORY: Array<[string, string]> = [
  ['V0.0.41__rollups_histograms_tokens.sql', '23913f023d293bf84f8d6ffd04742ed87909b1dd0f250039dcb78dae004b0791'],
  ['V0.0.42__optimization_recommendations.sql', 'fce64c604bd7f80e504d925984399ed1c8c27032eed3c564a20d5b6c4c88cec7'],
  ['V0.0.43__rollup_percentiles.sql', '1c9a649322b1cd63cea85ebe09dec07cde33b0137bc987fff4058516dde6f663'],
  ['V0.0.44__rollup_covering_indexes.sql', 'ab3edf3ef8cd81847e05b88286e9a37f0bebde37b0d8bf95eee3997221d0ac16'],
  ['V0.0.45__retention_everywhere.sql', 'cc6b9c3ac883ad6f3276b9a1e7cb5f63296ec728adf8ef674750d9c6c0849abe'],
  ['V0.0.46__query_text_once_per_fingerprint.sql', 'baacd5d7fda7899bdaf499ddfe507c875f29be04480bf60514422aadd37a03e4'],
  ['V0.0.47__p95_bounds.sql', '467efacf2a46b4b81e872ba473799f109870ab50a5778ea58a23c2d008597a3a'],
  ['V0.0.48__cumulative_histograms.sql', '17c3c376e3ddfb211f9b25d294b8b6e629f8ed17c5b4104ddee1695bea8cf0de'],
  ['V0.0.49__hist_percentiles_fix.sql', 'b15d4a645f197af398de324b64fa627579922a755a38951b977c2681fac76f23'],
  ['V0.0.50__request_rollup_5s.sql', '8ebcdf51d8a2f1aff56c7ad17237f6737977e4a28f47237fc7f98427976705ca'],
  ['V0.0.51__query_rollup_key_order.sql', 'fdf9dc1460cd12ea8a98f757cb99ff9d27acdf2474f7f4aeb74efa01cc5f3d30'],
  ['V0.0.52__stored_percentiles_for_series.sql', '890c8e065b90f4d797762ddce74b93f992ecc212029926e646169f07b18f239a'],
  ['V0.0.53__edge_prefixes.sql', '91e60ad32c2a378e405981ccb695912f162c7f8203c00f3caf752ef18855c006'],
  ['V0.0.54__alerting_reader.sql', '4b4a366d91d4d01b04f23166ae9fe9e3426f2a6657e70076106f5532789ebc6f'],
  ['V0.0.55__ingest_idempotency_keys.sql', '97fc7867351921f095f92bd6f374010ebebf599031e1dbd29ac32527cb04455e'],
  ['V0.0.56__collected_query_stats.sql', '2fd1a8a57606b7cc552f085e03e5304e0cce16c8fc7394e2c250d7d089e44612'],
  ['V0.0.57__alerting_collected_counts.sql', '3622184ebb7d0054c5953eaab5a3e96342ae587d70c0cebe7074721419f1f486'],
];

describe('a database migrated by an earlier development build', () => {
  let db: TestDatabase;
  afterEach(async () => db?.drop());

  /** V0.0.40 applied by the runner, then the history rows the earlier build's files left. */
  async function earlierBuildDatabase(label: string, rows = EARLIER_BUILD_HISTORY): Promise<TestDatabase> {
    const database = await createTestDatabase(label, { migrated: false });
    const dir = mkdtempSync(path.join(os.tmpdir(), 'agog-migrations-seed-'));
    const [seed] = listMigrations();
    cpSync(path.join(MIGRATIONS_DIR, seed!.script), path.join(dir, seed!.script));
    await migrate(database.url, { dir });
    for (const [script, checksum] of rows) {
      const [, version, description] = /^V([0-9.]+)__(.+)\.sql$/.exec(script)!;
      await database.pool.query(
        `INSERT INTO agog_schema_history (version, description, script, checksum, execution_time_ms)
         VALUES ($1::text, $2::text, $3::text, $4::text, 1)`,
        [version, description!.replace(/_/g, ' '), script, checksum],
      );
    }
    await database.pool.query(
      `INSERT INTO api_performance_log ("timestamp", tenant_id, endpoint, method, status_code, response_time_ms)
       VALUES (now(), '11111111-1111-1111-1111-111111111111', '/api/orders', 'GET', 200, 12.5)`,
    );
    return database;
  }

  it('is refused with a message naming the old versions and how to reset it, and nothing is changed', async () => {
    db = await earlierBuildDatabase('migrate_earlier');
    const schemaBefore = await dumpSchema(db.pool);
    const historyBefore = (await db.pool.query('SELECT * FROM agog_schema_history ORDER BY version')).rows;

    const failure = await migrate(db.url).then(() => undefined, (err: unknown) => err);
    expect(failure).toBeInstanceOf(SupersededSchemaError);
    const message = (failure as Error).message;
    expect(message).toContain('migrated by an earlier development build');
    expect(message).toContain('16 versions from 0.0.42 to 0.0.57, which no file in migrations/ has');
    expect(message).toContain('a V0.0.41 applied from V0.0.41__rollups_histograms_tokens.sql, not V0.0.41__baseline.sql');
    expect(message).toContain('Nothing was changed');
    expect(message).toContain('drop and recreate the database');
    expect(message).not.toMatch(/has changed since it was applied/);

    expect(await dumpSchema(db.pool)).toBe(schemaBefore);
    expect((await db.pool.query('SELECT * FROM agog_schema_history ORDER BY version')).rows).toEqual(historyBefore);
    expect((await db.pool.query(`SELECT to_regclass('api_metrics_rollup')::text AS t`)).rows).toEqual([{ t: null }]);
    expect((await db.pool.query('SELECT count(*)::int AS n FROM api_performance_log')).rows).toEqual([{ n: 1 }]);
  });

  it('names the embedded data directory to delete when the caller says it is the embedded database', async () => {
    db = await earlierBuildDatabase('migrate_earlier_embedded');
    const dataDir = '/home/someone/agog/.data/postgres';
    await expect(migrate(db.url, { resetHint: embeddedResetHint(dataDir) })).rejects.toThrow(
      `delete that directory (rm -rf ${dataDir}) and run \`npm start\` again`,
    );
  });

  it('is recognised by a single old version without a file, even when V0.0.41 was never recorded', async () => {
    db = await earlierBuildDatabase('migrate_earlier_one', [EARLIER_BUILD_HISTORY[12]!]);
    await expect(migrate(db.url)).rejects.toThrow(/records version 0\.0\.53, which no file in migrations\/ has/);
  });

  it('leaves alone versions newer than this build\'s files (a newer replica migrated first)', async () => {
    db = await createTestDatabase('migrate_newer', { migrated: true });
    await db.pool.query(
      `INSERT INTO agog_schema_history (version, description, script, checksum, execution_time_ms)
       VALUES ('99.0.0', 'from a newer build', 'V99.0.0__from_a_newer_build.sql', 'x', 1)`,
    );
    const result = await migrate(db.url);
    expect(result.applied).toEqual([]);
  });
});
