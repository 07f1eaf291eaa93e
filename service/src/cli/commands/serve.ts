import { loadConfig } from '../../config';
import { startService } from '../../service';
import { parseArgs } from '../args';
import { commandDatabaseUrl } from '../database';
import { waitForShutdownSignal } from '../signals';
import type { Command } from './types';

export const serveCommand: Command = {
  summary: 'run the HTTP service (ingest, query API, scheduler) on DATABASE_URL',
  help: [
    'usage: agog-perf serve',
    '',
    'Runs the service on HOST:PORT (default 127.0.0.1:8080) against DATABASE_URL, which must',
    'be migrated (agog-perf migrate). SIGTERM or Ctrl-C: stops accepting, commits the',
    'batches in flight, closes the pool.',
  ].join('\n'),
  async run(argv) {
    parseArgs(argv, {});
    const config = loadConfig();
    const service = await startService(config, commandDatabaseUrl(config));
    process.stdout.write(`listening on ${service.url}\n`);
    const signal = await waitForShutdownSignal();
    process.stdout.write(`${signal}: shutting down\n`);
    await service.stop();
    return 0;
  },
};
