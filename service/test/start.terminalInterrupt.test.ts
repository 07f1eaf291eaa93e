// Ctrl-C in a terminal: the terminal sends SIGINT to its whole foreground process group
// (npm, the shells it starts, node), and npm passes the signal on to its child as well.
// `npm start` runs here in a process group of its own, and the test signals that group.
import { spawn } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import path from 'node:path';
import { freePort, makeScratchDir } from '../src/localResources';

const ROOT = path.resolve(__dirname, '../..');

function laterThan(output: string, before: string, after: string): boolean {
  return output.indexOf(before) >= 0 && output.indexOf(after) > output.indexOf(before);
}

describe('npm start and Ctrl-C in a terminal', () => {
  it('stops the demo, then the service, then embedded PostgreSQL, and prints nothing failing', async () => {
    const dataDir = makeScratchDir('agog-ctrlc-');
    const env: NodeJS.ProcessEnv = { ...process.env, PORT: String(await freePort()), AGOG_PG_PORT: String(await freePort()), AGOG_PG_DATA_DIR: dataDir };
    delete env.DATABASE_URL;
    const child = spawn('npm', ['start'], { cwd: ROOT, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
      child.once('exit', (code, signal) => resolve({ code, signal })),
    );
    try {
      // Up once the address is printed again after the demo's summary. Failure guard only:
      // the demo sends three hours of history first.
      const up = () => output.split('listening on').length > 2;
      const deadline = Date.now() + 150_000;
      while (!up() && child.exitCode === null && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100));
      expect(up()).toBe(true);
      expect(existsSync(path.join(dataDir, 'postmaster.pid'))).toBe(true);

      process.kill(-child.pid!, 'SIGINT');
      const { code, signal } = await exited;

      // The shells npm runs scripts in end by the SIGINT they received once their child
      // has exited, and npm then ends by it too, as after any Ctrl-C; the service's own
      // exit code shows in npm's output when it is not 0.
      expect(code === 0 || signal === 'SIGINT').toBe(true);
      expect(laterThan(output, 'SIGINT: shutting down', 'demo traffic stopped')).toBe(true);
      expect(laterThan(output, 'demo traffic stopped', 'service stopped')).toBe(true);
      expect(laterThan(output, 'service stopped', 'embedded PostgreSQL stopped')).toBe(true);
      // npm's forwarded copies of the one Ctrl-C are not a second one.
      expect(output).not.toContain('exiting at once');
      const afterSignal = output.slice(output.indexOf('SIGINT: shutting down'));
      expect(afterSignal).not.toMatch(/fail|ECONNREFUSED|error|Unhandled|^\s+at /im);
      // PostgreSQL removes its lock file when it has shut down.
      expect(existsSync(path.join(dataDir, 'postmaster.pid'))).toBe(false);
    } finally {
      if (child.exitCode === null && child.signalCode === null) process.kill(-child.pid!, 'SIGKILL');
      if (!existsSync(path.join(dataDir, 'postmaster.pid'))) rmSync(path.dirname(dataDir), { recursive: true, force: true });
    }
  }, 240_000);
});
