import { loadConfig } from '../../config';
import { missingObjects, roundTripTestRow } from '../../db/checks';
import { createPool } from '../../db/pool';
import { refreshRollups } from '../../db/rollups';
import { parseArgs } from '../args';
import { commandDatabaseUrl } from '../database';
import type { Command } from './types';

export const verifyCommand: Command = {
  summary: 'post-deployment verification: objects present, a test row round-tripped, a refresh timed',
  help: [
    'usage: agog-perf verify',
    '',
    'Checks that the tables, functions and indexes exist, inserts a test row and reads it',
    'back (in a transaction that is rolled back), and runs a refresh and reports its',
    'duration. Exit code 0 when everything passed, 1 otherwise.',
  ].join('\n'),
  async run(argv) {
    parseArgs(argv, {});
    const pool = createPool(commandDatabaseUrl(loadConfig()), { max: 1 });
    let ok = true;
    const line = (passed: boolean, text: string) => {
      ok &&= passed;
      process.stdout.write(`${passed ? 'PASS' : 'FAIL'}  ${text}\n`);
    };
    try {
      const missing = await missingObjects(pool);
      line(missing.tables.length === 0, missing.tables.length ? `tables missing: ${missing.tables.join(', ')}` : 'all tables verified');
      line(missing.functions.length === 0, missing.functions.length ? `functions missing: ${missing.functions.join(', ')}` : 'all functions verified');
      line(missing.indexes.length === 0, missing.indexes.length ? `indexes missing: ${missing.indexes.join(', ')}` : 'all indexes verified');
      if (missing.tables.length === 0) {
        line(await roundTripTestRow(pool), 'test row inserted, read back and rolled back');
        const refresh = await refreshRollups(pool);
        line(true, `refresh completed in ${refresh.durationMs.toFixed(1)} ms (${refresh.rowsWritten} cache rows)`);
      }
      process.stdout.write(ok ? 'all verifications passed\n' : 'verification failed (run `agog-perf migrate`?)\n');
      return ok ? 0 : 1;
    } catch (err) {
      process.stdout.write(`FAIL  ${(err as Error).message}\n`);
      return 1;
    } finally {
      await pool.end();
    }
  },
};
