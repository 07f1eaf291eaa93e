import { cpSync, mkdtempSync, readFileSync, writeFileSync, readdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { migrate, MIGRATIONS_DIR, listMigrations, verifyRoleFlags } from '../src/db/migrate';
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
    // The 5-second totals (V0.0.50) hold only requests inserted after them: on a database
    // that had requests, they answer from a day later on (ingest takes timestamps up to a
    // day ahead); a new database's answer from the start.
    const state = await db.pool.query(`SELECT complete_from > now() + interval '23 hours' AS later FROM api_rollup_5s_state`);
    expect(state.rows).toEqual([{ later: true }]);
    const fresh = await createTestDatabase('migrate_fresh', { migrated: true });
    try {
      const empty = await fresh.pool.query(`SELECT complete_from = '-infinity' AS from_start FROM api_rollup_5s_state`);
      expect(empty.rows).toEqual([{ from_start: true }]);
    } finally {
      await fresh.drop();
    }
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
