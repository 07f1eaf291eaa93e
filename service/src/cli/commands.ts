// The sub-commands of agog-perf, in the order `--help` lists them.
import { collectCommand } from './commands/collect';
import { dashboardsCommand } from './commands/dashboards';
import { demoCommand } from './commands/demo';
import { doctorCommand } from './commands/doctor';
import { maintainCommand } from './commands/maintain';
import { migrateCommand } from './commands/migrate';
import { refreshCommand } from './commands/refresh';
import { reportCommand } from './commands/report';
import { serveCommand } from './commands/serve';
import { startCommand } from './commands/start';
import { tokenCommand } from './commands/token';
import { verifyCommand } from './commands/verify';
import type { Command } from './commands/types';

export const commands: Record<string, Command> = {
  start: startCommand,
  migrate: migrateCommand,
  serve: serveCommand,
  token: tokenCommand,
  refresh: refreshCommand,
  maintain: maintainCommand,
  verify: verifyCommand,
  doctor: doctorCommand,
  report: reportCommand,
  collect: collectCommand,
  demo: demoCommand,
  dashboards: dashboardsCommand,
};
