// Runs once per test run: finds or starts PostgreSQL, migrates a template database, and
// tells the test files where it is (test/support/db.ts clones one database per file).
import { createDatabaseIfMissing, dropDatabase } from '../../src/db/admin';
import { freePort, makeScratchDir, startEmbeddedPostgres, type EmbeddedServer } from '../../src/db/embedded';
import { migrate } from '../../src/db/migrate';
import { withDatabase } from '../../src/db/pool';

declare global {
  var __agogEmbedded: EmbeddedServer | undefined;
}

export default async function globalSetup(): Promise<void> {
  let serverUrl = process.env.DATABASE_URL;
  if (!serverUrl) {
    const embedded = await startEmbeddedPostgres({
      dataDir: makeScratchDir('agog-test-pg-'),
      port: await freePort(),
      persistent: false,
      // Throwaway cluster: durability across an OS crash is not under test here.
      settings: { fsync: 'off', full_page_writes: 'off' },
    });
    globalThis.__agogEmbedded = embedded;
    serverUrl = embedded.url;
  }
  const template = `agog_test_template_${process.pid}`;
  await dropDatabase(serverUrl, template);
  await createDatabaseIfMissing(serverUrl, template);
  await migrate(withDatabase(serverUrl, template));
  process.env.AGOG_TEST_SERVER_URL = serverUrl;
  process.env.AGOG_TEST_TEMPLATE = template;
}
