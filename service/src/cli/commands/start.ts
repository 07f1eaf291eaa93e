import { loadConfig } from '../../config';
import { migrate } from '../../db/migrate';
import { redactUrl } from '../../db/pool';
import { parseArgs } from '../args';
import { openDatabase } from '../database';
import type { Command } from './types';

export const startCommand: Command = {
  summary: 'what `npm start` runs: database (embedded when DATABASE_URL is unset), migrations, service',
  help: [
    'usage: agog-perf start',
    '',
    'Starts embedded PostgreSQL when DATABASE_URL is unset (data in .data/postgres, or',
    'AGOG_PG_DATA_DIR), applies the migrations and runs until interrupted (Ctrl-C).',
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
      await waitForSignal();
      say('shutting down');
      return 0;
    } finally {
      await embedded?.stop();
    }
  },
};

function waitForSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const onSignal = (signal: NodeJS.Signals) => {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      resolve(signal);
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  });
}
