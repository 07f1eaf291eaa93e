import { loadConfig } from '../../config';
import { createPool } from '../../db/pool';
import { createToken, revokeToken } from '../../db/tokens';
import { isUuid } from '../../ingest/records';
import { fetchReport, renderReport } from '../../report/terminal';
import { parseArgs, UsageError } from '../args';
import { commandDatabaseUrl, DEFAULT_TENANT } from '../database';
import { integerOption } from './maintain';
import type { Command } from './types';

export const reportCommand: Command = {
  summary: 'overview, top slow queries and recommendations in the terminal (or --json)',
  help: [
    'usage: agog-perf report [--url <service>] [--token <read token>] [--tenant <uuid>] [--hours N] [--limit N] [--json]',
    '',
    'Reads the overview, the top slow queries and the recommendations through the query',
    'API of a running service, as Grafana does.',
    '',
    '  --url     the service (default http://127.0.0.1:$PORT)',
    '  --token   a read token (or AGOG_READ_TOKEN); without one, a temporary read token for',
    `            --tenant (default ${DEFAULT_TENANT}) is created in DATABASE_URL and revoked after`,
    '  --hours   the time range, ending now (default 24)',
    '  --limit   rows of slow queries and recommendations (default 5)',
    '  --json    print JSON instead of text',
  ].join('\n'),
  async run(argv) {
    const { options } = parseArgs(argv, { url: 'string', token: 'string', tenant: 'string', hours: 'string', limit: 'string', json: 'boolean' });
    const config = loadConfig();
    const url = typeof options.url === 'string' ? options.url : `http://127.0.0.1:${config.port}`;
    const hours = integerOption(options.hours, 24, '--hours', 1, 24 * 400);
    const limit = integerOption(options.limit, 5, '--limit', 1, 100);
    const tenant = typeof options.tenant === 'string' ? options.tenant : undefined;
    if (tenant !== undefined && !isUuid(tenant)) throw new UsageError(`--tenant expects a UUID, got "${tenant}"`);
    let token = typeof options.token === 'string' ? options.token : process.env.AGOG_READ_TOKEN;
    let temporary: { id: string; pool: ReturnType<typeof createPool> } | undefined;
    if (!token) {
      const pool = createPool(commandDatabaseUrl(config), { max: 1 });
      const created = await createToken(pool, { tenantId: tenant ?? DEFAULT_TENANT, scopes: ['read'], name: 'report (temporary)' });
      token = created.token;
      temporary = { id: created.info.id, pool };
    }
    try {
      const report = await fetchReport({ url, token, hours, limit, tenantId: temporary ? undefined : tenant });
      process.stdout.write(options.json ? JSON.stringify(report, null, 2) + '\n' : renderReport(report));
      return report.errors.length ? 1 : 0;
    } finally {
      if (temporary) {
        await revokeToken(temporary.pool, temporary.id);
        await temporary.pool.end();
      }
    }
  },
};
