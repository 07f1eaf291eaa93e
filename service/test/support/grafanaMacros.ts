// Expands the macros of Grafana's PostgreSQL datasource in a query, the way Grafana's
// server does before it sends the query (pkg/tsdb/grafana-postgresql-datasource,
// macros.go, and the shared SQL engine's plain substitutions). Alert rules and SQL panels
// are tested with the expanded text, so a macro Grafana does not know fails here too.

export interface MacroContext {
  from: Date;
  to: Date;
  /** The query's interval ($__interval, $__interval_ms); Grafana alerting uses the rule's. */
  intervalMs?: number;
}

/** Go's time.RFC3339Nano in UTC: fractional seconds only when non-zero, trailing zeros cut. */
export function rfc3339Nano(date: Date): string {
  const iso = date.toISOString();
  const [seconds, fraction] = iso.slice(0, -1).split('.') as [string, string | undefined];
  const trimmed = (fraction ?? '').replace(/0+$/, '');
  return `${seconds}${trimmed ? '.' + trimmed : ''}Z`;
}

/** Grafana's gtime.FormatInterval: the largest whole unit ("1m", "30s", "2h", "1d", "500ms"). */
export function formatInterval(ms: number): string {
  const units: Array<[number, string]> = [
    [365 * 24 * 3_600_000, 'y'],
    [7 * 24 * 3_600_000, 'w'],
    [24 * 3_600_000, 'd'],
    [3_600_000, 'h'],
    [60_000, 'm'],
    [1000, 's'],
  ];
  for (const [size, unit] of units) {
    if (ms >= size) return `${Math.floor(ms / size)}${unit}`;
  }
  return `${ms}ms`;
}

function parseIntervalSeconds(text: string): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h|d|w|y)$/.exec(text.replace(/'/g, '').trim());
  if (!match) throw new Error(`error parsing interval ${text}`);
  const factor: Record<string, number> = { ms: 0.001, s: 1, m: 60, h: 3600, d: 86400, w: 604800, y: 31536000 };
  return Number(match[1]) * factor[match[2]!]!;
}

const MACRO = /\$([_a-zA-Z0-9]+)\(([^)]*)\)/g;

export function expandPostgresMacros(sql: string, context: MacroContext): string {
  const { from, to } = context;
  const intervalMs = context.intervalMs ?? 60_000;
  const fromSeconds = Math.floor(from.getTime() / 1000);
  const toSeconds = Math.floor(to.getTime() / 1000);
  // The shared SQL engine's plain substitutions come first.
  const text = sql
    .split('$__interval_ms').join(String(intervalMs))
    .split('$__interval').join(formatInterval(intervalMs))
    .split('$__unixEpochFrom()').join(String(fromSeconds))
    .split('$__unixEpochTo()').join(String(toSeconds));

  const evaluate = (name: string, args: string[], whole: string, offset: number): string => {
    const column = args[0] ?? '';
    const needColumn = () => {
      if (!column) throw new Error(`missing time column argument for macro ${name}`);
    };
    switch (name) {
      case '__time':
        needColumn();
        return `${column} AS "time"`;
      case '__timeEpoch':
        needColumn();
        return `extract(epoch from ${column}) as "time"`;
      case '__timeFilter':
        needColumn();
        return `${column} BETWEEN '${rfc3339Nano(from)}' AND '${rfc3339Nano(to)}'`;
      case '__timeFrom':
        return `'${rfc3339Nano(from)}'`;
      case '__timeTo':
        return `'${rfc3339Nano(to)}'`;
      case '__timeGroup':
      case '__timeGroupAlias': {
        if (args.length < 2) throw new Error(`macro ${name} needs time column and interval and optional fill value`);
        const seconds = parseIntervalSeconds(args[1]!);
        const group = `floor(extract(epoch from ${column})/${seconds})*${seconds}`;
        // Like Grafana: a $__timeGroup directly followed by "," gets the alias (pre-5.3 form).
        const aliased = name === '__timeGroupAlias' || text[offset + whole.length] === ',';
        return aliased ? `${group} AS "time"` : group;
      }
      case '__unixEpochFilter':
        needColumn();
        return `${column} >= ${fromSeconds} AND ${column} <= ${toSeconds}`;
      case '__unixEpochNanoFilter':
        needColumn();
        return `${column} >= ${BigInt(from.getTime()) * 1_000_000n} AND ${column} <= ${BigInt(to.getTime()) * 1_000_000n}`;
      case '__unixEpochNanoFrom':
        return String(BigInt(from.getTime()) * 1_000_000n);
      case '__unixEpochNanoTo':
        return String(BigInt(to.getTime()) * 1_000_000n);
      default:
        throw new Error(`unknown macro "${name}"`);
    }
  };

  return text.replace(MACRO, (whole: string, name: string, rawArgs: string, offset: number) =>
    evaluate(name, rawArgs.split(',').map((arg) => arg.trim()), whole, offset),
  );
}
