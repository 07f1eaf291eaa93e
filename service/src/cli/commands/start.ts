import { loadConfig } from '../../config';
import { ensureDemoAppTables } from '../../db/demoApp';
import { migrate } from '../../db/migrate';
import { createPool, redactUrl } from '../../db/pool';
import { refreshRollups } from '../../db/rollups';
import { createToken, listTokens, revokeTokensNamed } from '../../db/tokens';
import { backfill, live } from '../../demo/run';
import { fetchReport, renderReport } from '../../report/terminal';
import { startService } from '../../service';
import { parseArgs } from '../args';
import { DEFAULT_TENANT, embeddedResetHint, openDatabase } from '../database';
import { listenForShutdown } from '../signals';
import type { Command } from './types';

const DEMO_BACKFILL_HOURS = 3;
const DEMO_RATE = 10;

export const startCommand: Command = {
  summary: 'what `npm start` runs: database (embedded when DATABASE_URL is unset), migrations, tokens, demo, service',
  help: [
    'usage: agog-perf start [--demo | --no-demo]',
    '',
    'Starts embedded PostgreSQL when DATABASE_URL is unset (data in .data/postgres, or',
    'AGOG_PG_DATA_DIR; port AGOG_PG_PORT, default 54329), applies the migrations, creates',
    'a read token and an admin token on the first run (printed once), and runs the service.',
    `With the embedded database it also sends demo traffic: ${DEMO_BACKFILL_HOURS} hours of history, then`,
    `${DEMO_RATE} requests/s live, and prints a summary. With DATABASE_URL set the demo is opt-in`,
    '(--demo or AGOG_DEMO=true). Ctrl-C shuts everything down cleanly.',
  ].join('\n'),
  async run(argv) {
    const { options } = parseArgs(argv, { demo: 'boolean', 'no-demo': 'boolean' });
    const config = loadConfig();
    const say = (line: string) => process.stdout.write(line + '\n');
    // Listening from the start: a Ctrl-C during start-up skips the remaining steps and
    // still stops what has started, in reverse order.
    const shutdown = listenForShutdown();
    const { url, embedded } = await openDatabase(config, say);
    const demo = options['no-demo'] ? false : options.demo ? true : config.demo ?? Boolean(embedded);
    try {
      if (shutdown.signal) return 0;
      const result = await migrate(url, { log: say, resetHint: embedded ? embeddedResetHint(embedded.dataDir) : undefined });
      say(`schema up to date (${result.applied.length} applied now, ${result.alreadyApplied} before)`);
      say(`database: ${redactUrl(url)}`);
      const pool = createPool(url, { max: 2 });
      let demoToken: string | undefined;
      let readToken: string | undefined;
      try {
        if ((await listTokens(pool)).length === 0) {
          const read = await createToken(pool, { tenantId: DEFAULT_TENANT, scopes: ['read'], name: 'first read token' });
          const admin = await createToken(pool, { tenantId: null, scopes: ['read', 'ingest', 'admin'], name: 'first admin token' });
          readToken = read.token;
          say(`tenant: ${DEFAULT_TENANT}`);
          say(`read token: ${read.token}`);
          say(`admin token: ${admin.token}`);
          say('(tokens are shown once; create more with `npx agog-perf token create`)');
        }
        if (demo) {
          if (await ensureDemoAppTables(pool)) say('created the demo application tables (demo_*)');
          await revokeTokensNamed(pool, 'npm start demo');
          demoToken = (await createToken(pool, { tenantId: DEFAULT_TENANT, scopes: ['ingest', 'read'], name: 'npm start demo' })).token;
        }
      } finally {
        await pool.end();
      }
      if (shutdown.signal) return 0;

      const service = await startService(config, url);
      say(`listening on ${service.url}`);
      let liveTraffic: Promise<number> | undefined;
      try {
        if (demo && demoToken && !shutdown.signal) {
          const sender = { url: service.url, token: demoToken };
          const sent = await backfill(sender, { hours: DEMO_BACKFILL_HOURS, rate: DEMO_RATE / 2, signal: shutdown.abortSignal });
          if (!shutdown.signal) {
            await refreshRollups(service.pool);
            await service.scheduler.runNow('optimize').catch(() => false);
            say(`demo: sent ${sent} records of history through the JSON ingest API; live traffic at ${DEMO_RATE} requests/s through OTLP`);
            liveTraffic = live(sender, { rate: DEMO_RATE, signal: shutdown.abortSignal, onError: (err) => say(`demo: ${err.message}`) });
            try {
              say('');
              process.stdout.write(renderReport(await fetchReport({ url: service.url, token: readToken ?? demoToken, hours: DEMO_BACKFILL_HOURS, limit: 5 })));
            } catch (err) {
              say(`(summary unavailable: ${(err as Error).message})`);
            }
            say(`listening on ${service.url}`);
          }
        }
        if (!shutdown.signal) say('Ctrl-C stops everything');
        const signal = await shutdown.requested;
        say(`${signal}: shutting down`);
      } finally {
        // In order: the demo's traffic, then the service (its batches in flight commit
        // first), then the database.
        if (liveTraffic) {
          await liveTraffic;
          say('demo traffic stopped');
        }
        await service.stop();
        say('service stopped');
      }
      return 0;
    } finally {
      if (embedded) {
        await embedded.stop();
        say('embedded PostgreSQL stopped');
      }
    }
  },
};
