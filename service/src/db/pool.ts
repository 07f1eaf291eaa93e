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

/**
 * A client whose query() calls pg's callback form and returns a promise of its own. With
 * pg's promise form (client.query without a callback) the rows of finished queries stayed
 * reachable across minor garbage collections while the client was checked out: on a
 * loop of reads of a few hundred rows on one client, every scavenge copied and promoted
 * those rows, and its pauses were many times those of the callback form, which copies
 * almost nothing. The promoted rows grow the old generation until a full collection. The
 * query API's reads run on such a client (src/db/tenantSession.ts), and the pauses fell
 * on its requests as a long tail (the p95s of bench/reports/query.md). A query object
 * that runs itself (a COPY stream, src/db/binaryRows.ts) is passed to pg as it is.
 */
export function callbackQueries(client: PoolClient): Pick<PoolClient, 'query'> {
  const query = (config: unknown, values?: unknown) => (isSubmittable(config) ? client.query(config) : new Promise((resolve, reject) => {
    client.query(config as never, values as never, ((err: Error | null, result: unknown) => (err ? reject(err) : resolve(result))) as never);
  }).catch((err: Error) => {
    // As pg's promise form does: taken again here, the stack leads back through the
    // callers awaiting the statement rather than to the socket's read.
    Error.captureStackTrace(err);
    throw err;
  }));
  return { query: query as PoolClient['query'] };
}

/** A query object that runs itself (a COPY stream): pg returns it rather than calling back. */
function isSubmittable(config: unknown): config is import('pg').Submittable {
  return typeof (config as { submit?: unknown } | null)?.submit === 'function';
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
