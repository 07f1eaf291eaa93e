// Where the CLI's database is: DATABASE_URL when set; otherwise the embedded server that
// `npm start` runs (started here only by commands that own its lifetime).
import path from 'node:path';
import type { Config } from '../config';
import { createDatabaseIfMissing } from '../db/admin';
import { embeddedPassword, startEmbeddedPostgres, type EmbeddedServer } from '../db/embedded';
import { redactUrl, withDatabase } from '../db/pool';

export const PROJECT_ROOT = path.resolve(__dirname, '../../..');
export const EMBEDDED_DATABASE = 'agog';
/** The tenant `npm start` creates its first tokens for, and the demo's tenant. */
export const DEFAULT_TENANT = '11111111-1111-4111-8111-111111111111';

export function embeddedDataDir(config: Config): string {
  return config.embeddedDataDir ?? path.join(PROJECT_ROOT, '.data', 'postgres');
}

export function embeddedUrl(config: Config): string {
  const password = encodeURIComponent(embeddedPassword(embeddedDataDir(config)));
  return `postgresql://postgres:${password}@127.0.0.1:${config.embeddedPort}/${EMBEDDED_DATABASE}`;
}

/** The database a one-shot command talks to. */
export function commandDatabaseUrl(config: Config): string {
  if (config.databaseUrl) return config.databaseUrl;
  process.stderr.write(
    `DATABASE_URL is not set; using the embedded database of \`npm start\` (${redactUrl(embeddedUrl(config))})\n`,
  );
  return embeddedUrl(config);
}

/** For commands that own the database's lifetime (start, demo): DATABASE_URL or a started embedded server. */
export async function openDatabase(
  config: Config,
  log: (line: string) => void,
): Promise<{ url: string; embedded: EmbeddedServer | undefined }> {
  if (config.databaseUrl) return { url: config.databaseUrl, embedded: undefined };
  const dataDir = embeddedDataDir(config);
  log(`starting embedded PostgreSQL (data in ${dataDir}, port ${config.embeddedPort})`);
  const embedded = await startEmbeddedPostgres({ dataDir, port: config.embeddedPort, persistent: true });
  await createDatabaseIfMissing(embedded.url, EMBEDDED_DATABASE);
  return { url: withDatabase(embedded.url, EMBEDDED_DATABASE), embedded };
}
