// The sub-commands of agog-perf, in the order `--help` lists them.
import { maintainCommand } from './commands/maintain';
import { migrateCommand } from './commands/migrate';
import { refreshCommand } from './commands/refresh';
import { serveCommand } from './commands/serve';
import { startCommand } from './commands/start';
import { tokenCommand } from './commands/token';
import type { Command } from './commands/types';

export const commands: Record<string, Command> = {
  start: startCommand,
  migrate: migrateCommand,
  serve: serveCommand,
  token: tokenCommand,
  refresh: refreshCommand,
  maintain: maintainCommand,
};
