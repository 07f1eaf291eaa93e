// A PostgreSQL server of its own, in a child process, that a test may stop and start
// again (the shared test server must stay up for the other test files).
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';

const SCRIPT = path.join(__dirname, 'postgresProcess.ts');
const RUNNER = path.resolve(__dirname, '../../bin/run-ts.js');

export class StandalonePostgres {
  private child: ChildProcess | undefined;
  constructor(
    readonly dataDir: string,
    readonly port: number,
    /** Extra server settings, e.g. { shared_preload_libraries: 'pg_stat_statements' }. */
    readonly settings: Record<string, string> = {},
  ) {}

  private startedUrl: string | undefined;

  /** The server's URL, with the superuser password its data directory keeps; known once started. */
  get url(): string {
    if (!this.startedUrl) throw new Error('start the server first: its password is made at the first start');
    return this.startedUrl;
  }

  async start(): Promise<void> {
    const child = spawn(process.execPath, [RUNNER, SCRIPT, this.dataDir, String(this.port), JSON.stringify(this.settings)], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    await new Promise<void>((resolve, reject) => {
      let output = '';
      const onData = (chunk: Buffer) => {
        output += chunk.toString();
        const ready = /READY (\S+)\n/.exec(output);
        if (ready) {
          this.startedUrl = ready[1];
          resolve();
        }
      };
      child.stdout!.on('data', onData);
      child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
      child.once('exit', (code) => reject(new Error(`postgres process exited with ${code}: ${output}`)));
    });
  }

  /** Stops the server (fast shutdown: connections are cut). */
  async stop(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null) return;
    await new Promise<void>((resolve) => {
      child.once('exit', () => resolve());
      child.kill('SIGTERM');
    });
    this.child = undefined;
  }
}
