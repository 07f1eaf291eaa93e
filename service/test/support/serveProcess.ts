// `agog-perf serve` as a child process on a free port, for the tests that signal or kill
// the service (in-process services cannot be killed).
import { spawn, type ChildProcessByStdio } from 'node:child_process';
import type { Readable } from 'node:stream';
import path from 'node:path';
import { freePort } from '../../src/localResources';

const CLI = path.resolve(__dirname, '../../bin/agog-perf.js');

export interface ServeProcess {
  child: ChildProcessByStdio<null, Readable, Readable>;
  url: string;
  port: number;
  /** Everything it printed so far, stdout and stderr. */
  output(): string;
  /** Resolves with the exit code (null when ended by a signal) and the signal. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Starts `agog-perf serve` against databaseUrl with env over the test's; resolves once it listens. */
export async function startServeProcess(databaseUrl: string, env: Record<string, string> = {}, timeoutMs = 30_000): Promise<ServeProcess> {
  const port = await freePort();
  const child = spawn(process.execPath, [CLI, 'serve'], {
    env: { ...process.env, DATABASE_URL: databaseUrl, PORT: String(port), RESOURCE_SAMPLE_INTERVAL_MS: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (c: Buffer) => (output += c.toString()));
  child.stderr.on('data', (c: Buffer) => (output += c.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  const deadline = Date.now() + timeoutMs;
  while (!output.includes('listening on') && child.exitCode === null && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  if (!output.includes('listening on')) {
    child.kill('SIGKILL');
    throw new Error(`agog-perf serve did not start: ${output.slice(-2000)}`);
  }
  return { child, port, url: `http://127.0.0.1:${port}`, output: () => output, exited };
}

/**
 * Waits until the service at url has records waiting for or in a group commit (its
 * /metrics queue depth), so that a signal sent next lands mid-ingest. Right after a flush
 * every sender is between requests. Resolves to whether it saw a queue in time.
 */
export async function untilRecordsQueued(url: string, attempts = 400): Promise<boolean> {
  for (let i = 0; i < attempts; i++) {
    const metrics = await (await fetch(`${url}/metrics`)).text();
    if (Number(/^agog_ingest_queue_depth (\d+)$/m.exec(metrics)?.[1] ?? 0) > 0) return true;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  return false;
}
