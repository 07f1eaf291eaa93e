import { loadConfig } from '../../config';
import { doctorFacts } from '../../db/checks';
import { createPool } from '../../db/pool';
import { evaluate } from '../../ops/doctor';
import { parseArgs } from '../args';
import { commandDatabaseUrl } from '../database';
import type { Command } from './types';

export const doctorCommand: Command = {
  summary: 'the runbook\'s daily and weekly checks, each answered pass, warn or fail',
  help: [
    'usage: agog-perf doctor [--json] [--strict]',
    '',
    'Checks cache freshness, partitions (count, retention, next month, DEFAULT rows), table',
    'sizes, index usage, the refresh backlog, scheduled jobs and health scores.',
    'Exit code: 0 when nothing failed (warnings allowed), 1 when a check failed; with',
    '--strict, warnings fail too.',
  ].join('\n'),
  async run(argv) {
    const { options } = parseArgs(argv, { json: 'boolean', strict: 'boolean' });
    const config = loadConfig();
    const pool = createPool(commandDatabaseUrl(config), { max: 1 });
    try {
      const checks = evaluate(await doctorFacts(pool), { retentionDays: config.retentionDays });
      if (options.json) {
        process.stdout.write(JSON.stringify({ checks }, null, 2) + '\n');
      } else {
        for (const check of checks) {
          process.stdout.write(`${check.verdict.toUpperCase().padEnd(4)}  ${check.name}: ${check.detail}${check.hint ? `\n      → ${check.hint}` : ''}\n`);
        }
      }
      const failed = checks.some((c) => c.verdict === 'fail' || (options.strict && c.verdict === 'warn'));
      return failed ? 1 : 0;
    } finally {
      await pool.end();
    }
  },
};
