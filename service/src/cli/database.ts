// Where the CLI's database is: DATABASE_URL when set; otherwise the embedded server that
// `npm start` runs (started here only by commands that own its lifetime).
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Config } from '../config';
import { createDatabaseIfMissing } from '../db/admin';
import { directoryClosedToPostgres, embeddedPassword, startEmbeddedPostgres, type EmbeddedServer } from '../db/embedded';
import { redactUrl, withDatabase } from '../db/pool';

export const PROJECT_ROOT = path.resolve(__dirname, '../../..');
export const EMBEDDED_DATABASE = 'agog';
/** The tenant `npm start` creates its first tokens for, and the demo's tenant. */
export const DEFAULT_TENANT = '11111111-1111-4111-8111-111111111111';

/**
 * AGOG_PG_DATA_DIR, else .data/postgres in the checkout. As root, PostgreSQL runs as the
 * user "postgres"; when that user cannot enter the checkout (a directory only root may
 * enter), the data goes to a directory of this checkout's own under /var/tmp instead,
 * and `notice` says so.
 */
export function embeddedDataDir(config: Pick<Config, 'embeddedDataDir'>, projectRoot = PROJECT_ROOT, notice?: (line: string) => void): string {
  if (config.embeddedDataDir) return config.embeddedDataDir;
  const inCheckout = path.join(projectRoot, '.data', 'postgres');
  const closed = directoryClosedToPostgres(path.dirname(inCheckout));
  if (!closed) return inCheckout;
  const base = existsSync('/var/tmp') ? '/var/tmp' : os.tmpdir();
  const outside = path.join(base, `agog-perf-${createHash('sha256').update(projectRoot).digest('hex').slice(0, 12)}`, 'postgres');
  notice?.(`PostgreSQL runs as the user "postgres", which cannot enter ${closed}; its data goes to ${outside} (AGOG_PG_DATA_DIR chooses another place)`);
  return outside;
}

export function embeddedUrl(config: Config): string {
  const password = encodeURIComponent(embeddedPassword(embeddedDataDir(config)));
  return `postgresql://postgres:${password}@127.0.0.1:${config.embeddedPort}/${EMBEDDED_DATABASE}`;
}

/**
 * What migrate says about resetting a database an earlier development build migrated
 * (SupersededSchemaError): for the embedded database, which directory to delete; for
 * DATABASE_URL, undefined (migrate's own advice: nothing is reset automatically).
 */
export function embeddedResetHint(dataDir: string): string {
  return (
    `Nothing was changed. The embedded database in ${dataDir} holds only what earlier \`npm start\` runs stored ` +
    `(the demo's traffic and anything sent to it). To start afresh: once agog-perf has stopped, delete that directory ` +
    `(rm -rf ${dataDir}) and run \`npm start\` again, which creates a new one with new tokens.`
  );
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
  const dataDir = embeddedDataDir(config, PROJECT_ROOT, log);
  log(`starting embedded PostgreSQL (data in ${dataDir}, port ${config.embeddedPort})`);
  const embedded = await startEmbeddedPostgres({ dataDir, port: config.embeddedPort, persistent: true });
  await createDatabaseIfMissing(embedded.url, EMBEDDED_DATABASE);
  return { url: withDatabase(embedded.url, EMBEDDED_DATABASE), embedded };
}
