// Connection pools. Only files under src/db import 'pg'.
import { Pool, type PoolClient, type PoolConfig } from 'pg';

export type { Pool, PoolClient } from 'pg';

export interface PoolOptions {
  max?: number;
  idleTimeoutMs?: number;
  applicationName?: string;
  /** Longest wait for a connection, a new one or one of the pool's (default 5 s). */
  connectionTimeoutMs?: number;
}

/**
 * Whether pg's pool gave up waiting for one of its own connections: every connection was
 * checked out for connectionTimeoutMs. The database is busy, not unreachable (a new
 * connection that times out fails with "Connection terminated due to connection
 * timeout" instead), and must not be answered as an outage.
 */
export function isPoolExhausted(err: unknown): boolean {
  return /timeout exceeded when trying to connect/i.test((err as { message?: string } | undefined)?.message ?? '');
}

export function createPool(connectionString: string, options: PoolOptions = {}): Pool {
  const config: PoolConfig = {
    connectionString,
    max: options.max ?? 10,
    idleTimeoutMillis: options.idleTimeoutMs ?? 30_000,
    connectionTimeoutMillis: options.connectionTimeoutMs ?? 5_000,
    application_name: options.applicationName ?? 'agog-perf',
    // Before the pool hands a new connection out. A failure only leaves the backend as
    // it was.
    onConnect: (client) => client.query(SETTLE_ALLOCATOR_SQL).then(() => undefined, () => undefined),
  };
  const pool = new Pool(config);
  // An idle client losing its connection (server restart) must not crash the process;
  // the pool drops it and the next checkout reconnects.
  pool.on('error', () => undefined);
  // A checked-out client can be told the server is going away between two queries (e.g.
  // a group commit between BEGIN and COPY). Without a listener that 'error' event would
  // crash the process; the next query on that client fails and the caller handles it.
  pool.on('connect', (client) => {
    client.on('error', () => undefined);
  });
  return pool;
}

/** Bytes a new connection's backend allocates and frees once (SETTLE_ALLOCATOR_SQL). */
export const SETTLE_ALLOCATOR_BYTES = 2 ** 20;

/**
 * The first statement of every pooled connection: one allocation of 1 MB in the server
 * backend (a string of 1024 copies of 1 KB), freed when the statement ends. On a server
 * built with glibc (the usual Linux builds and images), freeing a block that malloc had
 * mapped on its own raises malloc's mapping threshold to that size and its trim
 * threshold to twice that, for the life of the backend. Before that, a backend can give
 * the top of its heap back to the system after each statement and fault it in again on
 * the next.
 *
 * The query API's rankings plan large statements, and a backend that had never freed
 * such a block spent much of their planning faulting in pages (a profile showed page
 * faults under AllocSetAlloc and palloc0, and sysmalloc and brk), none once warm with
 * this statement first. Which backend had run what first decided it, so one service
 * process could answer its rankings markedly slower than another for a whole run (the
 * query benchmark's "endpoints by p95, 24 h"). Smaller and larger blocks did as well;
 * this size leaves room for larger statements, at a cost paid once per connection.
 */
export const SETTLE_ALLOCATOR_SQL = `SELECT length(repeat(repeat('x', 1024), ${SETTLE_ALLOCATOR_BYTES / 1024}))`;

/**
 * A client whose query() calls pg's callback form and returns a promise of its own. With
 * pg's promise form (client.query without a callback) the rows of finished queries stayed
 * reachable across minor garbage collections while the client was checked out: on a
 * loop of reads of a few hundred rows on one client, every scavenge copied and promoted
 * those rows, and its pauses were many times those of the callback form, which copies
 * almost nothing. The promoted rows grow the old generation until a full collection. The
 * query API's reads run on such a client (src/db/tenantSession.ts), and the pauses fell
 * on its requests as a long tail (the p95s of bench/reports/query.md).
 */
export function callbackQueries(client: PoolClient): Pick<PoolClient, 'query'> {
  const query = (config: unknown, values?: unknown) => new Promise((resolve, reject) => {
    client.query(config as never, values as never, ((err: Error | null, result: unknown) => (err ? reject(err) : resolve(result))) as never);
  }).catch((err: Error) => {
    // As pg's promise form does: taken again here, the stack leads back through the
    // callers awaiting the statement rather than to the socket's read.
    Error.captureStackTrace(err);
    throw err;
  });
  return { query: query as PoolClient['query'] };
}

/**
 * Runs fn inside a transaction on one client; rolls back when begin or fn throws. begin
 * opens the transaction (plain BEGIN by default; a caller may send its settings along in
 * the same round trip).
 */
export async function inTransaction<T>(
  pool: Pool,
  fn: (client: import('pg').PoolClient) => Promise<T>,
  begin: (client: import('pg').PoolClient) => Promise<unknown> = (client) => client.query('BEGIN'),
): Promise<T> {
  const client = await pool.connect();
  try {
    await begin(client);
    const result = await fn(client);
    await client.query('COMMIT');
    return result;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    client.release();
  }
}

/** The database name in a connection URL, and the same URL pointing at another database. */
export function withDatabase(connectionString: string, database: string): string {
  const url = new URL(connectionString);
  url.pathname = '/' + encodeURIComponent(database);
  return url.toString();
}

export function databaseName(connectionString: string): string {
  return decodeURIComponent(new URL(connectionString).pathname.replace(/^\//, '')) || 'postgres';
}

/** The URL with its password replaced, for printing. */
export function redactUrl(connectionString: string): string {
  const url = new URL(connectionString);
  if (url.password) url.password = '***';
  return url.toString();
}
