import { loadConfig } from '../../config';
import { migrate } from '../../db/migrate';
import { createPool, redactUrl } from '../../db/pool';
import { createToken, listTokens } from '../../db/tokens';
import { startService } from '../../service';
import { parseArgs } from '../args';
import { openDatabase } from '../database';
import { waitForShutdownSignal } from '../signals';
import type { Command } from './types';

/** The tenant `npm start` creates its first tokens for. */
export const DEFAULT_TENANT = '11111111-1111-4111-8111-111111111111';

export const startCommand: Command = {
  summary: 'what `npm start` runs: database (embedded when DATABASE_URL is unset), migrations, tokens, service',
  help: [
    'usage: agog-perf start',
    '',
    'Starts embedded PostgreSQL when DATABASE_URL is unset (data in .data/postgres, or',
    'AGOG_PG_DATA_DIR; port AGOG_PG_PORT, default 54329), applies the migrations, creates',
    'a read token and an admin token on first run (printed once), and runs the service.',
    'Ctrl-C shuts everything down cleanly.',
  ].join('\n'),
  async run(argv) {
    parseArgs(argv, {});
    const config = loadConfig();
    const say = (line: string) => process.stdout.write(line + '\n');
    const { url, embedded } = await openDatabase(config, say);
    try {
      const result = await migrate(url, { log: say });
      say(`schema up to date (${result.applied.length} applied now, ${result.alreadyApplied} before)`);
      say(`database: ${redactUrl(url)}`);
      const pool = createPool(url, { max: 1 });
      try {
        if ((await listTokens(pool)).length === 0) {
          const read = await createToken(pool, { tenantId: DEFAULT_TENANT, scopes: ['read', 'ingest'], name: 'first read token' });
          const admin = await createToken(pool, { tenantId: null, scopes: ['read', 'ingest', 'admin'], name: 'first admin token' });
          say(`tenant: ${DEFAULT_TENANT}`);
          say(`read token: ${read.token}`);
          say(`admin token: ${admin.token}`);
          say('(tokens are shown once; create more with `npx agog-perf token create`)');
        }
      } finally {
        await pool.end();
      }
      const service = await startService(config, url);
      say(`listening on ${service.url}`);
      const signal = await waitForShutdownSignal();
      say(`${signal}: shutting down`);
      await service.stop();
      return 0;
    } finally {
      await embedded?.stop();
    }
  },
};
