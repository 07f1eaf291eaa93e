import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { createTestDatabase, type TestDatabase } from './support/db';

const run = promisify(execFile);
const CLI = path.resolve(__dirname, '../bin/agog-perf.js');

async function cli(args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [CLI, ...args], { env: { ...process.env, ...env } });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

describe('the agog-perf command line', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase('cli');
  });
  afterAll(async () => db.drop());

  it('creates a token, prints it alone on the last line, lists it and revokes it', async () => {
    const tenant = '12121212-1212-4212-8212-121212121212';
    const created = await cli(['token', 'create', '--tenant', tenant, '--scope', 'read,ingest', '--name', 'ci'], { DATABASE_URL: db.url });
    expect(created.code).toBe(0);
    const lines = created.stdout.trim().split('\n');
    const token = lines[lines.length - 1]!;
    expect(token).toMatch(/^agog_[A-Za-z0-9_-]{43}$/);
    const stored = await db.pool.query(`SELECT id, tenant_id, scopes FROM api_tokens WHERE name = 'ci'`);
    expect(stored.rows[0]).toMatchObject({ tenant_id: tenant, scopes: ['read', 'ingest'] });
    const hashes = await db.pool.query(`SELECT count(*)::int AS n FROM api_tokens WHERE token_hash::text LIKE '%' || $1 || '%'`, [token]);
    expect(hashes.rows[0].n).toBe(0); // only the hash is stored

    const listed = await cli(['token', 'list'], { DATABASE_URL: db.url });
    expect(listed.stdout).toContain(stored.rows[0].id);
    expect(listed.stdout).not.toContain(token);

    const revoked = await cli(['token', 'revoke', stored.rows[0].id], { DATABASE_URL: db.url });
    expect(revoked.code).toBe(0);
    const again = await cli(['token', 'revoke', stored.rows[0].id], { DATABASE_URL: db.url });
    expect(again.code).toBe(1);
  });

  it('refuses bad usage with exit code 2 and the command help', async () => {
    const badScope = await cli(['token', 'create', '--tenant', '12121212-1212-4212-8212-121212121212', '--scope', 'write'], { DATABASE_URL: db.url });
    expect(badScope.code).toBe(2);
    expect(badScope.stderr).toMatch(/unknown scope "write"/);
    const unknown = await cli(['frobnicate']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/unknown command "frobnicate"/);
    const option = await cli(['migrate', '--dryrun'], { DATABASE_URL: db.url });
    expect(option.code).toBe(2);
    expect(option.stderr).toMatch(/unknown option --dryrun/);
  });

  it('reports an up-to-date schema on migrate --dry-run', async () => {
    const result = await cli(['migrate', '--dry-run'], { DATABASE_URL: db.url });
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/schema is up to date/);
  });

  it('names the variable when the configuration is invalid', async () => {
    const result = await cli(['refresh'], { DATABASE_URL: db.url, PERFORMANCE_SAMPLING_RATE: '2' });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/PERFORMANCE_SAMPLING_RATE: expected a number from 0 to 1/);
  });

  it('runs the refresh and the partition upkeep', async () => {
    const refresh = await cli(['refresh'], { DATABASE_URL: db.url });
    expect(refresh.stdout).toMatch(/refreshed \d+ cache row\(s\) in [\d.]+ ms/);
    const maintain = await cli(['maintain'], { DATABASE_URL: db.url });
    expect(maintain.code).toBe(0);
    expect(maintain.stdout).toMatch(/partitions already in shape|change\(s\)/);
  });
});
