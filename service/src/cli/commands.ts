// The sub-commands of agog-perf, in the order `--help` lists them.
import { maintainCommand } from './commands/maintain';
import { migrateCommand } from './commands/migrate';
import { refreshCommand } from './commands/refresh';
import { startCommand } from './commands/start';
import type { Command } from './commands/types';

export const commands: Record<string, Command> = {
  start: startCommand,
  migrate: migrateCommand,
  refresh: refreshCommand,
  maintain: maintainCommand,
};
