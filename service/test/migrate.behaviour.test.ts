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

  it('undoes the baseline back to V0.0.40 exactly, then everything, and migrates again afterwards', async () => {
    // The schema of V0.0.40 alone, for comparison.
    const seedOnly = await createTestDatabase('migrate_rollback_seed', { migrated: false });
    let seedSchema: string;
    try {
      await migrate(seedOnly.url, { dir: seedOnlyMigrations() });
      seedSchema = await dumpSchema(seedOnly.pool);
    } finally {
      await seedOnly.drop();
    }

    db = await createTestDatabase('migrate_rollback', { migrated: true });
    const rollbackDir = path.join(MIGRATIONS_DIR, 'rollback');
    const scripts = readdirSync(rollbackDir).filter((f) => f.endsWith('.sql')).sort().reverse();
    expect(scripts).toEqual(['rollback_V0.0.41.sql', 'rollback_V0.0.40.sql']);
    const rollBack = async (script: string) => db.pool.query(readFileSync(path.join(rollbackDir, script), 'utf8'));

    await rollBack('rollback_V0.0.41.sql');
    expect(await dumpSchema(db.pool)).toBe(seedSchema);
    expect((await db.pool.query('SELECT version FROM agog_schema_history')).rows).toEqual([{ version: '0.0.40' }]);

    await rollBack('rollback_V0.0.40.sql');
    const left = await db.pool.query(
      `SELECT relname FROM pg_class WHERE relnamespace = 'public'::regnamespace AND relname !~ '^agog_schema_history'
       UNION ALL SELECT proname FROM pg_proc WHERE pronamespace = 'public'::regnamespace
       UNION ALL SELECT typname FROM pg_type WHERE typnamespace = 'public'::regnamespace AND typname !~ 'agog_schema_history$'`,
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
  it('is the last file, and defines each function once, replacing only what V0.0.40 defined', () => {
    const migrations = listMigrations();
    expect(migrations.map((m) => m.script)).toEqual(['V0.0.40__add_performance_monitoring_olap.sql', 'V0.0.41__baseline.sql']);
    const [seed, baseline] = migrations;
    // A function is its name and argument types (hist_merge has a bigint[] and a bytea form).
    const defined = (sql: string) =>
      [...sql.matchAll(/^CREATE (OR REPLACE )?(FUNCTION|AGGREGATE) (\w+)\(([^)]*)\)/gm)].map((m) => ({
        replace: Boolean(m[1]),
        name: m[3]!,
        signature: `${m[3]}(${m[2] === 'AGGREGATE' ? m[4]!.trim() : argumentTypes(m[4]!)})`,
      }));
    const seedFunctions = new Set(defined(seed!.sql).map((f) => f.name));
    const own = defined(baseline!.sql);
    expect(own.length).toBeGreaterThan(10);
    expect(own.map((f) => f.signature).filter((sig, i, all) => all.indexOf(sig) !== i)).toEqual([]);
    expect(own.filter((f) => f.replace).map((f) => f.name).filter((name) => !seedFunctions.has(name))).toEqual([]);
    // Created in the final form: no type conversion, and nothing dropped but V0.0.40's.
    expect(baseline!.sql).not.toMatch(/ALTER COLUMN \w+ (SET DATA )?TYPE/i);
    const dropped = [...baseline!.sql.matchAll(/^DROP (?:FUNCTION|AGGREGATE|INDEX|TABLE) (?:IF EXISTS )?(\w+)/gm)].map((m) => m[1]!);
    expect(dropped.filter((name) => !new RegExp(`^CREATE (?:OR REPLACE )?(?:FUNCTION|AGGREGATE|INDEX|TABLE) ${name}\\b`, 'm').test(seed!.sql)))
      .toEqual([]);
    // Names the removed derived forms used are gone.
    for (const removed of ['hist_percentiles', 'hist_p95_bounds', 'hist_coarsen', 'cumulate_rollup_histograms',
      'cumulate_rollup_prefixes', 'refresh_rollups_from_pending', 'maintain_partitions_and_rollups']) {
      expect(own.map((f) => f.name)).not.toContain(removed);
    }
  });
});

/** The types of a parameter list: "a bytea, p_q double precision DEFAULT 1" gives "bytea, double precision". */
function argumentTypes(parameters: string): string {
  return parameters.split(',').map((p) => p.trim().replace(/\s+DEFAULT\s[\s\S]*$/i, '').replace(/^\w+\s+/, '').replace(/\s+/g, ' '))
    .filter(Boolean).join(', ');
}

/** A directory with V0.0.40 alone. */
function seedOnlyMigrations(): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'agog-migrations-seed-'));
  const [seed] = listMigrations();
  cpSync(path.join(MIGRATIONS_DIR, seed!.script), path.join(dir, seed!.script));
  return dir;
}

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

// Later development builds applied an earlier text of V0.0.41__baseline.sql, under that
// name, then (the one of ecfdcd0) V0.0.58 to V0.0.60, which the baseline now holds. The
// SHA-256 of every text of the baseline that landed before this one (git log --
// migrations/V0.0.41__baseline.sql), oldest first, and of the three files.
const EARLIER_BASELINE_TEXTS: Array<[string, string]> = [
  ['5b1e54e', '6da64c2562d31665dfb70da336ee1c544afc91b0b3bee2e5e9754c402f875e70'],
  ['9108922', '9641a83bbd7fe62aee33b4d8d0a437a56580a8eba8758acac3cd518ce538fac6'],
  ['9c0fb75', '41335119445d3b4cb5172a0671c4b156784e7975efdcb3050b5ab7ab79bc2736'],
  ['21c037d', 'c9b51ad000434cdac8c8289a29b7a59154411523be5cc74d30a03c62defc0b15'],
  ['ecfdcd0', '165bf2c7e7112daa4d16cb3da9e6c82cfc5c2282c5e0cff26cdc14901c97d51c'],
  ['2fe9404', '0fd6db0a64bff03724d04cadb6434946aa362a7d22e1c2382ff2b93e907822d2'],
];
const FOLDED_INTO_BASELINE: Array<[string, string]> = [
  ['V0.0.58__compact_histograms.sql', '035e79765e864daeda5dccb920e8865a8caec54477b45231c1899bd644feaff7'],
  ['V0.0.59__tenant_total_30m.sql', '517ba0ffce6507e23b8e523b8cb170261c66669bcc37a8c38a454860681d87e7'],
  ['V0.0.60__weekly_fingerprint_rollups.sql', '072290ba157f91fffdba92fc1234799c22527e0e641ee1c4622a2400a1c1f6b3'],
];

describe('a database migrated by an earlier development build', () => {
  let db: TestDatabase;
  afterEach(async () => db?.drop());

  /** V0.0.40 applied by the runner, then the history rows the earlier build's files left. */
  async function earlierBuildDatabase(label: string, rows = EARLIER_BUILD_HISTORY): Promise<TestDatabase> {
    const database = await createTestDatabase(label, { migrated: false });
    await migrate(database.url, { dir: seedOnlyMigrations() });
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

  it('is refused when the build before V0.0.58 to V0.0.60 were folded into the baseline migrated it, with no checksum error', async () => {
    // The baseline's text that V0.0.58 to V0.0.60 followed.
    const lastText = EARLIER_BASELINE_TEXTS.find(([commit]) => commit === 'ecfdcd0')![1];
    db = await earlierBuildDatabase('migrate_before_fold', [['V0.0.41__baseline.sql', lastText], ...FOLDED_INTO_BASELINE]);
    const schemaBefore = await dumpSchema(db.pool);
    const historyBefore = (await db.pool.query('SELECT * FROM agog_schema_history ORDER BY version')).rows;

    const failure = await migrate(db.url).then(() => undefined, (err: unknown) => err);
    expect(failure).toBeInstanceOf(SupersededSchemaError);
    const message = (failure as Error).message;
    expect(message).toContain('migrated by an earlier development build');
    expect(message).toContain('versions 0.0.58, 0.0.59, 0.0.60, which no file in migrations/ has');
    expect(message).toContain(`a V0.0.41__baseline.sql applied from an earlier text of that file (checksum ${lastText.slice(0, 12)}…)`);
    expect(message).toContain('The development files V0.0.41 to V0.0.60 and the earlier texts of the baseline were replaced');
    expect(message).toContain('Nothing was changed');
    expect(message).not.toMatch(/has changed since it was applied/);

    expect(await dumpSchema(db.pool)).toBe(schemaBefore);
    expect((await db.pool.query('SELECT * FROM agog_schema_history ORDER BY version')).rows).toEqual(historyBefore);

    // npm start on such an embedded database names the directory to delete.
    const dataDir = '/home/someone/agog/.data/postgres';
    await expect(migrate(db.url, { resetHint: embeddedResetHint(dataDir) })).rejects.toThrow(`(rm -rf ${dataDir})`);
  });

  it('is recognised by one of V0.0.58 to V0.0.60 without a file', async () => {
    db = await earlierBuildDatabase('migrate_folded_one', [FOLDED_INTO_BASELINE[2]!]);
    await expect(migrate(db.url)).rejects.toThrow(/records version 0\.0\.60, which no file in migrations\/ has/);
  });

  it('is recognised by a V0.0.41__baseline.sql recorded from any earlier text of that file', async () => {
    db = await earlierBuildDatabase('migrate_earlier_text', [['V0.0.41__baseline.sql', EARLIER_BASELINE_TEXTS[0]![1]]]);
    for (const [commit, checksum] of EARLIER_BASELINE_TEXTS) {
      await db.pool.query(`UPDATE agog_schema_history SET checksum = $1::text WHERE version = '0.0.41'`, [checksum]);
      const failure = await migrate(db.url).then(() => undefined, (err: unknown) => err);
      expect([commit, failure instanceof SupersededSchemaError ? 'superseded' : String(failure)]).toEqual([commit, 'superseded']);
      expect((failure as Error).message).toContain(
        `records a V0.0.41__baseline.sql applied from an earlier text of that file (checksum ${checksum.slice(0, 12)}…)`);
    }
  });

  it('still refuses a V0.0.41__baseline.sql recorded with any other checksum as an edited file', async () => {
    db = await earlierBuildDatabase('migrate_unknown_text', [['V0.0.41__baseline.sql', 'f'.repeat(64)]]);
    const failure = await migrate(db.url).then(() => undefined, (err: unknown) => err);
    expect(failure).not.toBeInstanceOf(SupersededSchemaError);
    expect((failure as Error).message).toContain('V0.0.41__baseline.sql has changed since it was applied');
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
