// The read session of the query API: one pooled connection, a read-only transaction,
// and row-level security as a second line of defence. Every query of the API also
// filters by the token's tenant itself; here the session additionally takes the role
// agog_readonly with app.tenant_id set, so a query that forgot its tenant filter still
// sees only that tenant's rows (policies in migrations V0.0.40 and V0.0.41).
// The service's database user must be allowed to SET ROLE agog_readonly (a superuser,
// the tables' owner created by the migrations, or GRANT agog_readonly TO <user>).
import type { Pool, PoolClient } from 'pg';
import { callbackQueries, inTransaction } from './pool';

/** What the read functions of src/db need: a pool or a client. */
export type Queryable = Pick<PoolClient, 'query'>;

/** Longest a single API read may run. */
export const READ_TIMEOUT_MS = 10_000;

export class ReadSessionError extends Error {
  override name = 'ReadSessionError';
}

/**
 * Runs fn in a read-only transaction as agog_readonly for one tenant. tenantId null
 * (admin tokens reading across tenants, e.g. the tenant list) leaves app.tenant_id
 * empty, which agog_readonly's policies read as "all tenants".
 */
export async function withTenantReadSession<T>(pool: Pool, tenantId: string | null, fn: (db: Queryable) => Promise<T>): Promise<T> {
  return inTransaction(pool, async (client) => {
    const db = callbackQueries(client);
    await db.query(`SELECT set_config('app.tenant_id', $1::text, true)`, [tenantId ?? '']);
    return fn(db);
  }, async (client) => {
    try {
      // One snapshot for every statement of the request (a ranking reads its totals and
      // then its winners' histograms), begun with the session's settings in one round
      // trip. JIT compilation and parallel workers cost more than these small,
      // index-driven reads ever take.
      await client.query(`BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY; SET LOCAL ROLE agog_readonly; SET LOCAL jit = off; SET LOCAL max_parallel_workers_per_gather = 0; SET LOCAL statement_timeout = ${READ_TIMEOUT_MS}`);
    } catch (err) {
      if ((err as { code?: string }).code === '42501') {
        throw new ReadSessionError('the service\'s database user may not SET ROLE agog_readonly; run GRANT agog_readonly TO <that user>');
      }
      throw err;
    }
  });
}
