// A small, strict option parser: --name value, --name=value and boolean --flag.
// Unknown options are usage errors, so a typo never silently changes behaviour.

export interface OptionSpec {
  [name: string]: 'string' | 'boolean';
}

export function parseArgs(
  argv: string[],
  spec: OptionSpec,
): { options: Record<string, string | boolean | undefined>; positional: string[] } {
  const options: Record<string, string | boolean | undefined> = {};
  const positional: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (!arg.startsWith('--')) {
      positional.push(arg);
      continue;
    }
    const [rawName, inline] = arg.slice(2).split(/=(.*)/s, 2) as [string, string | undefined];
    const kind = spec[rawName];
    if (!kind) throw new UsageError(`unknown option --${rawName}`);
    if (kind === 'boolean') {
      if (inline !== undefined) throw new UsageError(`--${rawName} takes no value`);
      options[rawName] = true;
      continue;
    }
    const value = inline ?? argv[++i];
    if (value === undefined || (inline === undefined && value.startsWith('--'))) {
      throw new UsageError(`--${rawName} needs a value`);
    }
    options[rawName] = value;
  }
  return { options, positional };
}

export class UsageError extends Error {
  override name = 'UsageError';
}
