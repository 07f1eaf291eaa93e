import { loadConfig } from '../../config';
import { createPool } from '../../db/pool';
import { refreshRollups } from '../../db/rollups';
import { parseArgs, UsageError } from '../args';
import { commandDatabaseUrl } from '../database';
import type { Command } from './types';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export const refreshCommand: Command = {
  summary: 'refresh the hourly cache and rollups now',
  help: [
    'usage: agog-perf refresh [--tenant <uuid>]',
    '',
    'Runs refresh_performance_metrics_incremental for one tenant or, by default, all.',
  ].join('\n'),
  async run(argv) {
    const { options } = parseArgs(argv, { tenant: 'string' });
    const tenant = options.tenant;
    if (tenant !== undefined && (typeof tenant !== 'string' || !UUID.test(tenant))) {
      throw new UsageError(`--tenant expects a UUID, got "${String(tenant)}"`);
    }
    const pool = createPool(commandDatabaseUrl(loadConfig()), { max: 1 });
    try {
      const result = await refreshRollups(pool, (tenant as string | undefined) ?? null);
      process.stdout.write(`refreshed ${result.rowsWritten} cache row(s) in ${result.durationMs.toFixed(1)} ms\n`);
      return 0;
    } finally {
      await pool.end();
    }
  },
};
