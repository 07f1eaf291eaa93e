// One database per test file, cloned from the migrated template (CREATE DATABASE ...
// TEMPLATE): fast and fully isolated. Set KEEP_TEST_DATABASES=1 to keep them for
// inspection after the run.
import { randomBytes } from 'node:crypto';
import { createDatabaseIfMissing, dropDatabase } from '../../src/db/admin';
import { createPool, withDatabase, type Pool } from '../../src/db/pool';

export interface TestDatabase {
  name: string;
  url: string;
  serverUrl: string;
  pool: Pool;
  drop(): Promise<void>;
}

export function testServerUrl(): string {
  const url = process.env.AGOG_TEST_SERVER_URL;
  if (!url) throw new Error('AGOG_TEST_SERVER_URL is unset: run the tests through jest (test/support/globalSetup.ts)');
  return url;
}

export function templateName(): string {
  return process.env.AGOG_TEST_TEMPLATE!;
}

export async function createTestDatabase(label = 'test', { migrated = true } = {}): Promise<TestDatabase> {
  const serverUrl = testServerUrl();
  const name = `agog_${label.replace(/[^a-z0-9_]/gi, '_').toLowerCase().slice(0, 30)}_${randomBytes(4).toString('hex')}`;
  await createDatabaseIfMissing(serverUrl, name, migrated ? templateName() : undefined);
  const url = withDatabase(serverUrl, name);
  const pool = createPool(url, { max: 10 });
  return {
    name,
    url,
    serverUrl,
    pool,
    async drop() {
      await pool.end();
      if (process.env.KEEP_TEST_DATABASES !== '1') await dropDatabase(serverUrl, name);
    },
  };
}

/** Runs SQL as a given role with app.tenant_id set (or unset), in a rolled-back transaction. */
export async function asRole<T>(
  pool: Pool,
  role: 'agog_app' | 'agog_readonly',
  tenantId: string | null,
  fn: (query: (sql: string, params?: unknown[]) => Promise<Record<string, unknown>[]>) => Promise<T>,
): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    await client.query(`SET LOCAL ROLE ${role}`);
    if (tenantId) await client.query(`SELECT set_config('app.tenant_id', $1::text, true)`, [tenantId]);
    return await fn(async (sql, params) => (await client.query(sql, params)).rows);
  } finally {
    await client.query('ROLLBACK').catch(() => undefined);
    client.release();
  }
}
