import { loadConfig } from '../../config';
import { migrate } from '../../db/migrate';
import { redactUrl } from '../../db/pool';
import { parseArgs } from '../args';
import { commandDatabaseUrl, embeddedDataDir, embeddedResetHint } from '../database';
import type { Command } from './types';

export const migrateCommand: Command = {
  summary: 'apply pending schema migrations (Flyway-named files in migrations/)',
  help: [
    'usage: agog-perf migrate [--dry-run]',
    '',
    'Applies the pending V*.sql files of migrations/ in version order, each in its own',
    'transaction, and records them in agog_schema_history. Refuses to run when an applied',
    'file has changed, and a database an earlier development build migrated (a version',
    'from 0.0.42 to 0.0.60 recorded, or a V0.0.41 from an earlier file or text), saying',
    'how to reset it. Safe to run from several places at once (advisory lock).',
    '',
    '  --dry-run   list the files that would be applied, change nothing',
  ].join('\n'),
  async run(argv) {
    const { options } = parseArgs(argv, { 'dry-run': 'boolean' });
    const config = loadConfig();
    const url = commandDatabaseUrl(config);
    const result = await migrate(url, {
      dryRun: Boolean(options['dry-run']),
      resetHint: config.databaseUrl ? undefined : embeddedResetHint(embeddedDataDir(config)),
      log: (line) => process.stdout.write(line + '\n'),
    });
    if (options['dry-run']) {
      process.stdout.write(
        result.pending.length
          ? `${result.pending.length} migration(s) pending on ${redactUrl(url)}\n`
          : `schema is up to date on ${redactUrl(url)} (${result.alreadyApplied} applied)\n`,
      );
    } else {
      process.stdout.write(
        `schema is up to date on ${redactUrl(url)}: ${result.applied.length} applied now, ${result.alreadyApplied} before\n`,
      );
    }
    return 0;
  },
};
