// The query API's read session (src/db/tenantSession.ts): agog_readonly for one tenant,
// without JIT and without parallel workers, on a connection of createPool (src/db/pool.ts).
import { createPool, type Pool } from '../src/db/pool';
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
