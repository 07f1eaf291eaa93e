// createPool (src/db/pool.ts): every new connection runs SETTLE_ALLOCATOR_SQL first, and
// the connection is then the caller's as usual. The query API's read session
// (src/db/tenantSession.ts) plans without JIT and without parallel workers.
import { createPool, SETTLE_ALLOCATOR_BYTES, SETTLE_ALLOCATOR_SQL, type Pool } from '../src/db/pool';
import { withTenantReadSession } from '../src/db/tenantSession';
import { createTestDatabase, type TestDatabase } from './support/db';

let db: TestDatabase;
let pool: Pool;

beforeAll(async () => {
  db = await createTestDatabase('pool');
  pool = createPool(db.url, { max: 2 });
});

afterAll(async () => {
  await pool?.end();
  await db?.drop();
});

/** The last statement of a backend once it is idle, as another connection sees it. */
async function lastStatement(pid: number): Promise<string> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const { rows } = await db.pool.query<{ state: string | null; query: string }>(
      'SELECT state, query FROM pg_stat_activity WHERE pid = $1', [pid],
    );
    if (rows[0]?.state === 'idle') return rows[0].query;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error(`backend ${pid} never became idle`);
}

describe('createPool', () => {
  let pid = 0;

  it('has a new connection allocate and free the settling block before the caller uses it', async () => {
    const client = await pool.connect();
    try {
      pid = (client as unknown as { processID: number }).processID;
      expect(await lastStatement(pid)).toBe(SETTLE_ALLOCATOR_SQL);
      const { rows } = await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
      expect(rows[0]!.pid).toBe(pid);
      expect(await lastStatement(pid)).toBe('SELECT pg_backend_pid() AS pid');
    } finally {
      client.release();
    }
  });

  it('settles a connection once: taken again from the pool, it runs only the caller\'s statements', async () => {
    const client = await pool.connect();
    try {
      expect((client as unknown as { processID: number }).processID).toBe(pid);
      expect(await lastStatement(pid)).toBe('SELECT pg_backend_pid() AS pid');
      await client.query('SELECT 2 AS two');
      expect(await lastStatement(pid)).toBe('SELECT 2 AS two');
    } finally {
      client.release();
    }
  });

  it('allocates the block it names', async () => {
    const { rows } = await pool.query<{ length: number }>(SETTLE_ALLOCATOR_SQL);
    expect(rows[0]!.length).toBe(SETTLE_ALLOCATOR_BYTES);
  });
});

describe('withTenantReadSession', () => {
  it('reads as agog_readonly for the tenant, without JIT or parallel workers, and leaves the connection as it was', async () => {
    const settings = `SELECT current_user AS role, current_setting('app.tenant_id') AS tenant, current_setting('jit') AS jit,
                             current_setting('max_parallel_workers_per_gather') AS workers`;
    const inside = await withTenantReadSession(pool, 'a0000000-0000-4000-8000-00000000000a', async (q) => (await q.query(settings)).rows[0]);
    expect(inside).toEqual({ role: 'agog_readonly', tenant: 'a0000000-0000-4000-8000-00000000000a', jit: 'off', workers: '0' });
    const after = (await pool.query(settings.replace("current_setting('app.tenant_id')", "current_setting('app.tenant_id', true)"))).rows[0];
    expect(after.role).not.toBe('agog_readonly');
    expect(after.workers).not.toBe('0');
  });
});
