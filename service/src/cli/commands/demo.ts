import { loadConfig } from '../../config';
import { ensureDemoAppTables } from '../../db/demoApp';
import { createPool } from '../../db/pool';
import { refreshRollups } from '../../db/rollups';
import { createToken } from '../../db/tokens';
import { backfill, live } from '../../demo/run';
import { isUuid } from '../../ingest/records';
import { parseArgs, UsageError } from '../args';
import { commandDatabaseUrl, DEFAULT_TENANT } from '../database';
import { waitForShutdownSignal } from '../signals';
import { integerOption } from './maintain';
import type { Command } from './types';

export const demoCommand: Command = {
  summary: 'send demo traffic (ERP-like, with planted problems) to a running service; backfill history',
  help: [
    'usage: agog-perf demo [--url <service>] [--token <ingest token>] [--tenant <uuid>]',
    '                      [--backfill-hours N] [--rate N] [--duration SECONDS] [--no-app-tables]',
    '',
    'Generates the traffic of an ERP backend (orders, print jobs, invoices, ...) with three',
    'planted problems: a missing index, an N+1 endpoint and an error burst. It sends the',
    'history through the JSON ingest API and the live traffic through OTLP (/v1/traces,',
    '/v1/metrics), like a real application.',
    '',
    '  --url             the service (default http://127.0.0.1:$PORT)',
    '  --token           an ingest token (or AGOG_DEMO_TOKEN); without one, a token for the',
    '                    tenant is created in DATABASE_URL',
    `  --tenant          the tenant for a created token (default ${DEFAULT_TENANT})`,
    '  --backfill-hours  first send N hours of history at once, with a progress bar (default 0)',
    '  --rate            live requests per second (default 10)',
    '  --duration        stop live traffic after this many seconds (default: until Ctrl-C; 0: no live traffic)',
    '  --no-app-tables   do not create the demo application tables (demo_*) in DATABASE_URL',
  ].join('\n'),
  async run(argv) {
    const { options } = parseArgs(argv, {
      url: 'string', token: 'string', tenant: 'string', 'backfill-hours': 'string', rate: 'string',
      duration: 'string', 'no-app-tables': 'boolean',
    });
    const config = loadConfig();
    const url = typeof options.url === 'string' ? options.url : `http://127.0.0.1:${config.port}`;
    const hours = integerOption(options['backfill-hours'], 0, '--backfill-hours', 0, 24 * 35);
    const rate = integerOption(options.rate, 10, '--rate', 1, 10_000);
    const duration = options.duration === undefined ? undefined : integerOption(options.duration, 0, '--duration', 0, 7 * 86_400);
    const tenant = typeof options.tenant === 'string' ? options.tenant : DEFAULT_TENANT;
    if (!isUuid(tenant)) throw new UsageError(`--tenant expects a UUID, got "${tenant}"`);

    let token = typeof options.token === 'string' ? options.token : process.env.AGOG_DEMO_TOKEN;
    const needsDatabase = !token || !options['no-app-tables'];
    const pool = needsDatabase ? createPool(commandDatabaseUrl(config), { max: 2 }) : undefined;
    try {
      if (pool && !options['no-app-tables'] && (await ensureDemoAppTables(pool))) {
        process.stderr.write('created the demo application tables (demo_*)\n');
      }
      if (!token) {
        token = (await createToken(pool!, { tenantId: tenant, scopes: ['ingest'], name: 'demo traffic' })).token;
        process.stderr.write(`created an ingest token for tenant ${tenant}\n`);
      }
      const sender = { url, token };
      if (hours > 0) {
        const sent = await backfill(sender, { hours, rate: Math.max(1, Math.round(rate / 2)) });
        process.stdout.write(`backfilled ${sent} records over ${hours} h\n`);
        if (pool) {
          const refreshed = await refreshRollups(pool);
          process.stdout.write(`refreshed the rollups in ${refreshed.durationMs.toFixed(0)} ms\n`);
        }
      }
      if (duration === 0) return 0;
      const controller = new AbortController();
      const stopAfter = duration ? setTimeout(() => controller.abort(), duration * 1000) : undefined;
      void waitForShutdownSignal().then(() => controller.abort());
      process.stdout.write(`sending live traffic to ${url} at ${rate} requests/s${duration ? ` for ${duration} s` : ' (Ctrl-C stops)'}\n`);
      const sent = await live(sender, { rate, signal: controller.signal, onError: (err) => process.stderr.write(`demo: ${err.message}\n`) });
      if (stopAfter) clearTimeout(stopAfter);
      process.stdout.write(`sent ${sent} live records\n`);
      return 0;
    } finally {
      await pool?.end();
    }
  },
};
