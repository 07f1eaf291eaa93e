// agog-perf: the project's command line. One sub-command per operator task; each reads
// DATABASE_URL. Exit codes: 0 success, 1 failure, 2 usage error.
import { ConfigError } from '../config';
import { UsageError } from './args';
import { commands } from './commands';

export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

export function usage(): string {
  const lines = ['usage: agog-perf <command> [options]', '', 'commands:'];
  for (const [name, command] of Object.entries(commands)) lines.push(`  ${name.padEnd(18)} ${command.summary}`);
  lines.push('', 'Run `agog-perf <command> --help` for the options of one command.');
  return lines.join('\n');
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(usage() + '\n');
    return name ? EXIT_OK : EXIT_USAGE;
  }
  const command = commands[name];
  if (!command) {
    process.stderr.write(`agog-perf: unknown command "${name}"\n\n${usage()}\n`);
    return EXIT_USAGE;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    process.stdout.write(command.help + '\n');
    return EXIT_OK;
  }
  try {
    return await command.run(rest);
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`agog-perf ${name}: ${err.message}\n\n${command.help}\n`);
      return EXIT_USAGE;
    }
    if (err instanceof ConfigError) {
      process.stderr.write(`agog-perf ${name}: invalid configuration: ${err.message}\n`);
      return EXIT_FAILURE;
    }
    process.stderr.write(`agog-perf ${name}: ${(err as Error).message}\n`);
    return EXIT_FAILURE;
  }
}
