// Migration runner: applies the Flyway-named files of migrations/ in version order,
// each in its own transaction, and records version, checksum and time in
// agog_schema_history. An applied file that changed since is refused by name.
// Concurrent runners queue on an advisory lock, so two at once are safe.
// When the application's own Flyway applied some versions (flyway_schema_history), those
// count as applied too, so both tools can share the same files.
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { Client } from 'pg';

export const MIGRATIONS_DIR = path.resolve(__dirname, '../../../migrations');
const MIGRATION_LOCK_KEY = 'agog.migrate';
const FILE_PATTERN = /^V(\d+(?:[._]\d+)*)__([A-Za-z0-9_]+)\.sql$/;

export interface MigrationFile {
  version: string;
  description: string;
  script: string;
  checksum: string;
  sql: string;
}

export interface MigrateResult {
  applied: string[];
  pending: string[];
  alreadyApplied: number;
}

export class MigrationError extends Error {
  override name = 'MigrationError';
}

/**
 * The database recorded migrations this build does not have: versions without a file,
 * a V0.0.41 recorded under another file name, or a V0.0.41__baseline.sql recorded with
 * the checksum of an earlier text of that file. Development builds before the first
 * release applied V0.0.41 to V0.0.57 as separate files, then earlier texts of the
 * baseline (V0.0.41__baseline.sql) followed by V0.0.58 to V0.0.60; the baseline of this
 * build replaced all of them. Such a database cannot be upgraded in place and is left
 * untouched.
 */
export class SupersededSchemaError extends MigrationError {
  override name = 'SupersededSchemaError';
}

/** The version of the baseline that replaced the development files V0.0.41 to V0.0.60. */
export const BASELINE_VERSION = '0.0.41';
/** The newest version of a development file the baseline replaced. */
const LAST_SUPERSEDED_VERSION = '0.0.60';

/**
 * SHA-256 (as listMigrations computes it) of every earlier text of V0.0.41__baseline.sql
 * that landed in this repository before the first release, oldest first, with the commit
 * that left it. A database migrated by those builds recorded V0.0.41 under the baseline's
 * own name with one of these checksums; any other checksum there is an edited file.
 */
export const EARLIER_BASELINE_CHECKSUMS: readonly string[] = [
  '6da64c2562d31665dfb70da336ee1c544afc91b0b3bee2e5e9754c402f875e70', // 5b1e54e, the squash of V0.0.41..V0.0.57
  '9641a83bbd7fe62aee33b4d8d0a437a56580a8eba8758acac3cd518ce538fac6', // 9108922
  '41335119445d3b4cb5172a0671c4b156784e7975efdcb3050b5ab7ab79bc2736', // 9c0fb75
  'c9b51ad000434cdac8c8289a29b7a59154411523be5cc74d30a03c62defc0b15', // 21c037d
  '165bf2c7e7112daa4d16cb3da9e6c82cfc5c2282c5e0cff26cdc14901c97d51c', // ecfdcd0, followed by V0.0.58..V0.0.60
  '0fd6db0a64bff03724d04cadb6434946aa362a7d22e1c2382ff2b93e907822d2', // 2fe9404, before the raw logs' BRIN indexes summarized as they fill
];

/** Said after a SupersededSchemaError when the caller gives no reset hint of its own. */
export const DEFAULT_RESET_HINT =
  'Nothing was changed. It cannot be upgraded in place: keep what you need from it ' +
  '(pg_dump), then drop and recreate the database (or run DROP SCHEMA public CASCADE; CREATE SCHEMA public; in it) ' +
  'and migrate again.';

/**
 * Throws SupersededSchemaError when the recorded history holds a version between the
 * baseline and V0.0.60 that has no file here, a V0.0.41 recorded under another file
 * name with another checksum (the earlier builds' V0.0.41__rollups_histograms_tokens.sql),
 * or a V0.0.41 recorded under the baseline's own name with the checksum of one of its
 * earlier texts (EARLIER_BASELINE_CHECKSUMS). A baseline recorded under its own name with
 * any other checksum is an edited file, which migrate refuses as it refuses any other.
 * Versions newer than this build's files are left alone as before (an older replica may
 * start against a database a newer one migrated). Exported for tests.
 */
export function checkHistoryMatchesFiles(
  history: ReadonlyArray<{ version: string; checksum: string; script: string }>,
  migrations: readonly MigrationFile[],
  resetHint: string = DEFAULT_RESET_HINT,
): void {
  const files = new Map(migrations.map((m) => [m.version, m]));
  const superseded = history
    .map((row) => row.version)
    .filter((v) => !files.has(v) && compareVersions(v, BASELINE_VERSION) >= 0 && compareVersions(v, LAST_SUPERSEDED_VERSION) <= 0)
    .sort(compareVersions);
  const baseline = files.get(BASELINE_VERSION);
  const baselineRow = history.find((row) => row.version === BASELINE_VERSION);
  const baselineDiffers = Boolean(baseline && baselineRow && baselineRow.checksum !== baseline.checksum);
  const baselineRenamed = baselineDiffers && baselineRow!.script !== baseline!.script;
  const baselineEarlier =
    baselineDiffers && !baselineRenamed && EARLIER_BASELINE_CHECKSUMS.includes(baselineRow!.checksum);
  if (superseded.length === 0 && !baselineRenamed && !baselineEarlier) return;
  const recorded = [
    superseded.length > 3
      ? `${superseded.length} versions from ${superseded[0]} to ${superseded[superseded.length - 1]}, which no file in migrations/ has`
      : superseded.length
        ? `version${superseded.length > 1 ? 's' : ''} ${superseded.join(', ')}, which no file in migrations/ has`
        : '',
    baselineRenamed ? `a V${BASELINE_VERSION} applied from ${baselineRow!.script}, not ${baseline!.script}` : '',
    baselineEarlier
      ? `a ${baseline!.script} applied from an earlier text of that file (checksum ${baselineRow!.checksum.slice(0, 12)}…)`
      : '',
  ].filter(Boolean).join(', and ');
  throw new SupersededSchemaError(
    `This database was migrated by an earlier development build: its agog_schema_history records ${recorded}. ` +
      `The development files V${BASELINE_VERSION} to V${LAST_SUPERSEDED_VERSION} and the earlier texts of the baseline ` +
      `were replaced before the first release by one baseline, V${BASELINE_VERSION}__baseline.sql. ${resetHint}`,
  );
}

function compareVersions(a: string, b: string): number {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

export function listMigrations(dir: string = MIGRATIONS_DIR): MigrationFile[] {
  const files = readdirSync(dir).filter((name) => name.endsWith('.sql'));
  const migrations: MigrationFile[] = [];
  for (const script of files) {
    const match = FILE_PATTERN.exec(script);
    if (!match) continue;
    const sql = readFileSync(path.join(dir, script), 'utf8');
    migrations.push({
      version: match[1]!.replace(/_/g, '.'),
      description: match[2]!.replace(/_/g, ' '),
      script,
      checksum: createHash('sha256').update(sql).digest('hex'),
      sql,
    });
  }
  migrations.sort((a, b) => compareVersions(a.version, b.version));
  for (let i = 1; i < migrations.length; i++) {
    if (compareVersions(migrations[i - 1]!.version, migrations[i]!.version) === 0) {
      throw new MigrationError(
        `two migration files share version ${migrations[i]!.version}: ${migrations[i - 1]!.script} and ${migrations[i]!.script}`,
      );
    }
  }
  return migrations;
}

const HISTORY_DDL = `
CREATE TABLE IF NOT EXISTS agog_schema_history (
  version           text        PRIMARY KEY,
  description       text        NOT NULL,
  script            text        NOT NULL,
  checksum          text        NOT NULL,
  installed_by      text        NOT NULL DEFAULT current_user,
  installed_on      timestamptz NOT NULL DEFAULT now(),
  execution_time_ms integer     NOT NULL
)`;

export interface MigrateOptions {
  dir?: string;
  dryRun?: boolean;
  log?: (line: string) => void;
  /** How to reset this database, said when its history belongs to other files (SupersededSchemaError). */
  resetHint?: string;
}

export async function migrate(connectionString: string, options: MigrateOptions = {}): Promise<MigrateResult> {
  const log = options.log ?? (() => undefined);
  const migrations = listMigrations(options.dir);
  const client = new Client({ connectionString, application_name: 'agog-perf migrate' });
  client.on('error', () => undefined); // surfaced by the failing query instead
  await client.connect();
  try {
    await client.query('SELECT pg_advisory_lock(hashtext($1))', [MIGRATION_LOCK_KEY]);
    await client.query(HISTORY_DDL);
    const history = await client.query<{ version: string; checksum: string; script: string }>(
      'SELECT version, checksum, script FROM agog_schema_history',
    );
    checkHistoryMatchesFiles(history.rows, migrations, options.resetHint);
    const applied = new Map(history.rows.map((row) => [row.version, row]));
    const flyway = await flywayVersions(client);

    const result: MigrateResult = { applied: [], pending: [], alreadyApplied: 0 };
    for (const migration of migrations) {
      const row = applied.get(migration.version);
      if (row) {
        if (row.checksum !== migration.checksum) {
          throw new MigrationError(
            `${migration.script} has changed since it was applied (recorded checksum ${row.checksum.slice(0, 12)}…, ` +
              `file now ${migration.checksum.slice(0, 12)}…). Applied migrations must never be edited: ` +
              `restore the file and put the change in a new V-file.`,
          );
        }
        result.alreadyApplied++;
        continue;
      }
      if (flyway.has(migration.version)) {
        result.alreadyApplied++;
        continue;
      }
      if (options.dryRun) {
        result.pending.push(migration.script);
        log(`would apply ${migration.script}`);
        continue;
      }
      const started = process.hrtime.bigint();
      try {
        await client.query('BEGIN');
        await client.query(migration.sql);
        const elapsedMs = Math.round(Number(process.hrtime.bigint() - started) / 1e6);
        await client.query(
          `INSERT INTO agog_schema_history (version, description, script, checksum, execution_time_ms)
           VALUES ($1::text, $2::text, $3::text, $4::text, $5::integer)`,
          [migration.version, migration.description, migration.script, migration.checksum, elapsedMs],
        );
        await client.query('COMMIT');
        result.applied.push(migration.script);
        log(`applied ${migration.script} in ${elapsedMs} ms`);
      } catch (err) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw new MigrationError(`${migration.script} failed and was rolled back: ${(err as Error).message}`);
      }
    }
    if (!options.dryRun) await verifyRoleFlags(client);
    return result;
  } finally {
    await client.query('SELECT pg_advisory_unlock(hashtext($1))', [MIGRATION_LOCK_KEY]).catch(() => undefined);
    await client.end().catch(() => undefined);
  }
}

/** The roles the migrations create; row-level security confines them (V0.0.40 onwards). */
export const CONFINED_ROLES = ['agog_app', 'agog_readonly'] as const;

/**
 * V0.0.40 creates the roles and leaves a role of the same name that exists already as it
 * is. A pre-existing role with SUPERUSER or BYPASSRLS would silently switch row-level
 * security off for everyone using it, so after every migrate run the flags are checked,
 * and migrate fails naming the role, the flag and the fix.
 */
export async function verifyRoleFlags(client: Pick<Client, 'query'>, roles: readonly string[] = CONFINED_ROLES): Promise<void> {
  const result = await client.query<{ rolname: string; rolsuper: boolean; rolbypassrls: boolean }>(
    `SELECT rolname, rolsuper, rolbypassrls FROM pg_roles WHERE rolname = ANY($1::text[]) ORDER BY rolname`, [roles]);
  const problems: string[] = [];
  for (const role of roles) {
    const row = result.rows.find((r) => r.rolname === role);
    if (!row) {
      problems.push(`role ${role} does not exist`);
      continue;
    }
    if (row.rolsuper) problems.push(`role ${role} is SUPERUSER, which bypasses row-level security (fix: ALTER ROLE ${role} NOSUPERUSER)`);
    if (row.rolbypassrls) problems.push(`role ${role} has BYPASSRLS, which switches row-level security off for it (fix: ALTER ROLE ${role} NOBYPASSRLS)`);
  }
  if (problems.length) {
    throw new MigrationError(`refusing to go on: ${problems.join('; ')}. The migrations confine ${roles.join(' and ')} with row-level security; run the fix as a superuser and migrate again.`);
  }
}

async function flywayVersions(client: Client): Promise<Set<string>> {
  const exists = await client.query<{ found: string | null }>(
    `SELECT to_regclass('flyway_schema_history')::text AS found`,
  );
  if (!exists.rows[0]?.found) return new Set();
  const rows = await client.query<{ version: string }>(
    'SELECT version FROM flyway_schema_history WHERE success AND version IS NOT NULL',
  );
  return new Set(rows.rows.map((row) => row.version));
}
