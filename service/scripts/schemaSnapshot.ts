// Writes migrations/snapshot/schema.sql: migrates a scratch database (on DATABASE_URL's
// server, else a throwaway embedded server) and dumps its schema. Run after adding a
// migration:  npm run schema:snapshot -w service
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { createDatabaseIfMissing, dropDatabase } from '../src/db/admin';
import { freePort, makeScratchDir, startEmbeddedPostgres } from '../src/db/embedded';
import { migrate } from '../src/db/migrate';
import { createPool, withDatabase } from '../src/db/pool';
import { dumpSchema } from '../src/db/schemaDump';

export const SNAPSHOT_FILE = path.resolve(__dirname, '../../migrations/snapshot/schema.sql');

export async function main(): Promise<number> {
  const embedded = process.env.DATABASE_URL
    ? undefined
    : await startEmbeddedPostgres({
        dataDir: makeScratchDir('agog-snapshot-'),
        port: await freePort(),
        persistent: false,
      });
  const serverUrl = process.env.DATABASE_URL ?? embedded!.url;
  const name = `agog_snapshot_${process.pid}`;
  try {
    await createDatabaseIfMissing(serverUrl, name);
    await migrate(withDatabase(serverUrl, name));
    const pool = createPool(withDatabase(serverUrl, name), { max: 1 });
    try {
      writeFileSync(SNAPSHOT_FILE, await dumpSchema(pool));
    } finally {
      await pool.end();
    }
    process.stdout.write(`wrote ${path.relative(process.cwd(), SNAPSHOT_FILE)}\n`);
    return 0;
  } finally {
    await dropDatabase(serverUrl, name).catch(() => undefined);
    await embedded?.stop();
  }
}
