import { dropDatabase } from '../../src/db/admin';

export default async function globalTeardown(): Promise<void> {
  const serverUrl = process.env.AGOG_TEST_SERVER_URL;
  const template = process.env.AGOG_TEST_TEMPLATE;
  if (serverUrl && template) await dropDatabase(serverUrl, template).catch(() => undefined);
  await globalThis.__agogEmbedded?.stop();
}
