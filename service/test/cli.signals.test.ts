import { spawn } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import path from 'node:path';
import { freePort, makeScratchDir } from '../src/localResources';

const RUNNER = path.resolve(__dirname, '../bin/run-ts.js');
const SCRIPT = path.join(__dirname, 'fixtures/interruptedShutdown.ts');

async function until(predicate: () => boolean, guardMs: number): Promise<void> {
  const deadline = Date.now() + guardMs; // failure guard only
  while (!predicate() && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
}

describe('a second Ctrl-C', () => {
  it('ends a shutdown that does not finish, by the signal, and stops the embedded PostgreSQL', async () => {
    const dataDir = makeScratchDir('agog-second-sigint-');
    const child = spawn(process.execPath, [RUNNER, SCRIPT, dataDir, String(await freePort())], { detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
      child.once('exit', (code, signal) => resolve({ code, signal })),
    );
    try {
      await until(() => output.includes('READY') || child.exitCode !== null, 120_000);
      expect(output).toContain('READY');
      // Like a terminal: the whole process group, twice in a row for npm's forwarded copy.
      process.kill(-child.pid!, 'SIGINT');
      process.kill(-child.pid!, 'SIGINT');
      await until(() => output.includes('WAITING') || child.exitCode !== null, 60_000);
      expect(output).toContain('FIRST SIGINT');
      expect(output).toContain('WAITING');

      process.kill(-child.pid!, 'SIGINT');
      expect(await exited).toEqual({ code: null, signal: 'SIGINT' });
      expect(output).toContain('SIGINT again: exiting at once');
      // The server, in a process group of its own, was asked to stop: its lock file goes.
      await until(() => !existsSync(path.join(dataDir, 'postmaster.pid')), 60_000);
      expect(existsSync(path.join(dataDir, 'postmaster.pid'))).toBe(false);
    } finally {
      if (child.exitCode === null && child.signalCode === null) process.kill(-child.pid!, 'SIGKILL');
      if (!existsSync(path.join(dataDir, 'postmaster.pid'))) rmSync(path.dirname(dataDir), { recursive: true, force: true });
    }
  });
});
