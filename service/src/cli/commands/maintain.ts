import { loadConfig } from '../../config';
import { maintainPartitions } from '../../db/partitions';
import { createPool } from '../../db/pool';
import { parseArgs, UsageError } from '../args';
import { commandDatabaseUrl } from '../database';
import type { Command } from './types';

export const maintainCommand: Command = {
  summary: 'partition upkeep: create months ahead, drop months past retention',
  help: [
    'usage: agog-perf maintain [--months-ahead N] [--retention-days N]',
    '',
    'Creates the monthly partitions of the raw logs for the current month and N months',
    'ahead (moving any rows of those months out of the DEFAULT partitions), and drops',
    'monthly partitions whose whole month ended more than the retention ago. The DEFAULT',
    'partitions are never dropped. Idempotent.',
    '',
    '  --months-ahead N     default PARTITION_MONTHS_AHEAD (3)',
    '  --retention-days N   default RETENTION_DAYS (30)',
  ].join('\n'),
  async run(argv) {
    const { options } = parseArgs(argv, { 'months-ahead': 'string', 'retention-days': 'string' });
    const config = loadConfig();
    const monthsAhead = integerOption(options['months-ahead'], config.partitionMonthsAhead, '--months-ahead', 0, 24);
    const retentionDays = integerOption(options['retention-days'], config.retentionDays, '--retention-days', 1, 3650);
    const pool = createPool(commandDatabaseUrl(config), { max: 1 });
    try {
      const actions = await maintainPartitions(pool, { monthsAhead, retentionDays });
      for (const action of actions) process.stdout.write(`${action.action} ${action.tableName}: ${action.detail}\n`);
      process.stdout.write(actions.length ? `${actions.length} change(s)\n` : 'partitions already in shape\n');
      return 0;
    } finally {
      await pool.end();
    }
  },
};

export function integerOption(
  value: string | boolean | undefined,
  fallback: number,
  name: string,
  min: number,
  max: number,
): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new UsageError(`${name} expects an integer from ${min} to ${max}, got "${String(value)}"`);
  }
  return n;
}
