/**
 * What the scenes talk to: the real service on a throwaway embedded PostgreSQL (or on
 * DATABASE_URL's server, in a database of its own), with demo traffic sent through the
 * ingest API, the rollups refreshed and the optimizer run once, and three tokens.
 */
import fs from 'node:fs';
import path from 'node:path';

import { loadConfig } from '../../service/src/config';
import { createDatabaseIfMissing, dropDatabase } from '../../service/src/db/admin';
import { ensureDemoAppTables } from '../../service/src/db/demoApp';
import { freePort, makeScratchDir, startEmbeddedPostgres, type EmbeddedServer } from '../../service/src/db/embedded';
import { migrate } from '../../service/src/db/migrate';
import { withDatabase } from '../../service/src/db/pool';
import { refreshRollups } from '../../service/src/db/rollups';
import { createToken } from '../../service/src/db/tokens';
import { backfill } from '../../service/src/demo/run';
import { startService, type RunningService } from '../../service/src/service';

export const TENANT = '11111111-1111-4111-8111-111111111111';
/** Hours of demo history; the scenes query the last three. */
const HISTORY_HOURS = 3;

export interface Environment {
  serviceUrl: string;
  tokens: { read: string; ingestOnly: string; admin: string };
  /** A URL where nothing listens: the "unreachable" scene. */
  deadUrl: string;
  stop(): Promise<void>;
}

export async function startEnvironment(log: (line: string) => void): Promise<Environment> {
  const cleanups: Array<() => Promise<void>> = [];
  const stop = async () => {
    for (const cleanup of cleanups.reverse()) {
      await cleanup().catch((err: Error) => log(`cleanup: ${err.message}`));
    }
  };
  try {
    let serverUrl = process.env.DATABASE_URL;
    if (!serverUrl) {
      const dataDir = makeScratchDir('agog-e2e-pg-');
      // The scratch folder goes too, not only the cluster inside it.
      cleanups.push(async () => fs.rmSync(path.dirname(dataDir), { recursive: true, force: true }));
      const embedded: EmbeddedServer = await startEmbeddedPostgres({
        dataDir,
        port: await freePort(),
        persistent: false,
        settings: { fsync: 'off', full_page_writes: 'off' },
      });
      cleanups.push(() => embedded.stop());
      serverUrl = embedded.url;
      log(`embedded PostgreSQL on port ${embedded.port}`);
    }
    const database = `agog_e2e_${process.pid}`;
    await dropDatabase(serverUrl, database);
    await createDatabaseIfMissing(serverUrl, database);
    cleanups.push(() => dropDatabase(serverUrl!, database));
    const url = withDatabase(serverUrl, database);
    await migrate(url);

    const config = loadConfig({ PORT: '0', RESOURCE_SAMPLE_INTERVAL_MS: '0', METRICS_FLUSH_INTERVAL_MS: '5' });
    const service: RunningService = await startService(config, url, { startScheduler: false, log: () => undefined });
    cleanups.push(() => service.stop());
    log(`service on ${service.url}`);

    await ensureDemoAppTables(service.pool);
    const read = (await createToken(service.pool, { tenantId: TENANT, scopes: ['read'], name: 'e2e read' })).token;
    const ingestOnly = (await createToken(service.pool, { tenantId: TENANT, scopes: ['ingest'], name: 'e2e ingest' }))
      .token;
    const admin = (
      await createToken(service.pool, { tenantId: null, scopes: ['read', 'ingest', 'admin'], name: 'e2e admin' })
    ).token;
    const sent = await backfill(
      { url: service.url, token: ingestOnly },
      { hours: HISTORY_HOURS, rate: 2, quiet: true }
    );
    await refreshRollups(service.pool);
    await service.scheduler.runNow('optimize');
    log(`demo traffic: ${sent} records over ${HISTORY_HOURS} h, rollups refreshed, optimizer run`);

    const deadUrl = `http://127.0.0.1:${await freePort()}`;
    return { serviceUrl: service.url, tokens: { read, ingestOnly, admin }, deadUrl, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
