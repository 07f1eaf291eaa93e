import { CollectRoundError, Collector } from '../../collector/collector';
import type { RoundSummary } from '../../collector/collect';
import { loadConfig } from '../../config';
import { createPool } from '../../db/pool';
import { parseArgs, UsageError } from '../args';
import { commandDatabaseUrl } from '../database';
import type { Command } from './types';

function describe(summary: RoundSummary): string {
  const head = `${summary.source} → tenant ${summary.tenantId}: ${summary.entries} pg_stat_statements entr${summary.entries === 1 ? 'y' : 'ies'} read`;
  const lines = [head];
  if (summary.baseline) {
    lines.push('  first round: counters recorded as the baseline; the next round stores what they grew by');
  } else {
    lines.push(`  since ${summary.periodStart!.toISOString()}: ${summary.calls} call(s), ${summary.totalMs.toFixed(1)} ms ` +
      `in ${summary.fingerprints} fingerprint(s) from ${summary.changedEntries} changed entr${summary.changedEntries === 1 ? 'y' : 'ies'}` +
      (summary.restartedEntries > 0 ? ` (${summary.restartedEntries} new, re-created or reset, counted whole)` : ''));
  }
  if (summary.reset) lines.push('  pg_stat_statements was reset since the last round: calls between that round and the reset are not known');
  if (summary.withoutText > 0) lines.push(`  ${summary.withoutText} changed entr${summary.withoutText === 1 ? 'y has' : 'ies have'} no text in pg_stat_statements any more: skipped`);
  if (summary.hiddenEntries > 0) {
    lines.push(`  ${summary.hiddenEntries} entr${summary.hiddenEntries === 1 ? 'y' : 'ies'} of other users hidden from this login: GRANT pg_read_all_stats TO <login>`);
  }
  if (summary.statMonitor) lines.push('  pg_stat_monitor is installed too; its histograms are not read (percentiles stay unavailable for collected calls)');
  lines.push(`  ${summary.monitoredMs.toFixed(1)} ms in statements on the monitored database`);
  return lines.join('\n');
}

export const collectCommand: Command = {
  summary: 'read monitored databases\' pg_stat_statements once',
  help: [
    'usage: agog-perf collect --once',
    '',
    'Runs one collection round for every monitored database (MONITORED_DATABASE_URL with',
    'MONITORED_TENANT_ID, and MONITORED_DATABASES) and prints what it read. The first round',
    'of a database records its counters; later rounds store what they grew by as the',
    'tenant\'s query statistics. The service runs the same round every COLLECT_INTERVAL_MS.',
  ].join('\n'),
  async run(argv) {
    const { options, positional } = parseArgs(argv, { once: 'boolean' });
    if (positional.length > 0) throw new UsageError(`unexpected argument "${positional[0]}"`);
    if (!options.once) throw new UsageError('collect runs one round and needs --once (the service collects on its own schedule)');
    const config = loadConfig();
    if (config.monitoredDatabases.length === 0) {
      throw new UsageError('no monitored database: set MONITORED_DATABASE_URL and MONITORED_TENANT_ID, or MONITORED_DATABASES');
    }
    const pool = createPool(commandDatabaseUrl(config), { max: 1 });
    const collector = new Collector(pool, config.monitoredDatabases, {
      slowQueryThresholdMs: config.slowQueryThresholdMs, retentionDays: config.retentionDays, intervalMs: config.collectIntervalMs,
    });
    try {
      const summaries = await collector.collectAll();
      for (const summary of summaries) process.stdout.write(describe(summary) + '\n');
      return 0;
    } catch (err) {
      if (!(err instanceof CollectRoundError)) throw err;
      for (const summary of err.summaries) process.stdout.write(describe(summary) + '\n');
      for (const { database, error } of err.failures) process.stderr.write(`${database.name}: ${error.message}\n`);
      return 1;
    } finally {
      await collector.close();
      await pool.end();
    }
  },
};
