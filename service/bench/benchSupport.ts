// What the benchmarks share: a migrated database of their own (on DATABASE_URL's server,
// else on a throwaway embedded PostgreSQL), and the service run as a child process, as
// it runs in production (`agog-perf serve`), so its memory and CPU are its own.
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { createDatabaseIfMissing, dropDatabase } from '../src/db/admin';
import { startEmbeddedPostgres, type EmbeddedServer } from '../src/db/embedded';
import { migrate } from '../src/db/migrate';
import { createPool, withDatabase } from '../src/db/pool';
import { freePort, makeScratchDir } from '../src/localResources';

const CLI = path.resolve(__dirname, '../bin/agog-perf.js');

export interface BenchDatabase {
  url: string;
  /** PostgreSQL's server_version. */
  version: string;
  embedded: boolean;
  close(): Promise<void>;
}

export async function openBenchDatabase(label: string, log: (line: string) => void): Promise<BenchDatabase> {
  let embedded: EmbeddedServer | undefined;
  let serverUrl = process.env.DATABASE_URL;
  if (!serverUrl) {
    log('starting a throwaway embedded PostgreSQL');
    embedded = await startEmbeddedPostgres({ dataDir: makeScratchDir(`agog-bench-${label}-`), port: await freePort(), persistent: false });
    serverUrl = embedded.url;
  }
  const name = `agog_bench_${label}_${process.pid}`;
  await createDatabaseIfMissing(serverUrl, name);
  const url = withDatabase(serverUrl, name);
  await migrate(url);
  const pool = createPool(url, { max: 1 });
  const version = (await pool.query<{ v: string }>(`SELECT current_setting('server_version') AS v`)).rows[0]!.v;
  await pool.end();
  return {
    url,
    version,
    embedded: Boolean(embedded),
    async close() {
      if (embedded) await embedded.stop();
      else await dropDatabase(serverUrl!, name).catch(() => undefined);
    },
  };
}

export interface ServiceProcess {
  pid: number;
  url: string;
  /** Set once the process has exited, whoever ended it. */
  exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  /** What the process wrote to stdout. */
  output(): string;
  /** SIGTERM, then the exit code. */
  stop(): Promise<number | null>;
}

/** `agog-perf serve` on a free port; resolves once it is listening. */
export async function startServiceProcess(databaseUrl: string, env: Record<string, string> = {}): Promise<ServiceProcess> {
  const port = await freePort();
  const child = spawn(process.execPath, [CLI, 'serve'], {
    env: { ...process.env, DATABASE_URL: databaseUrl, PORT: String(port), ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  const service: ServiceProcess = {
    pid: child.pid!,
    url: `http://127.0.0.1:${port}`,
    exit: undefined,
    output: () => out,
    stop() {
      if (child.exitCode === null) child.kill('SIGTERM');
      return exited;
    },
  };
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code, signal) => {
    service.exit = { code, signal };
    resolve(code);
  }));
  await new Promise<void>((resolve, reject) => {
    child.stdout.on('data', () => {
      if (out.includes('listening on')) resolve();
    });
    void exited.then((code) => reject(new Error(`the service exited with ${code} before listening: ${out}`)));
  });
  return service;
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

/** Writes a benchmark's report (Markdown lines) and prints it. */
export function writeReport(file: string, lines: string[], log: (line: string) => void): void {
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, lines.join('\n'));
  log(`wrote ${file}`);
  process.stdout.write(lines.join('\n') + '\n');
}
