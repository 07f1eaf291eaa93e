// `npm run bench`: every benchmark of the service, one after the other; each writes its
// figures to service/bench/reports/<name>.md. Benchmarks are not tests: they measure,
// they never fail on a number.
import { existsSync } from 'node:fs';
import path from 'node:path';

const BENCHMARKS = ['ingestBench', 'otlpBench', 'grafanaPanelsBench', 'soakBench', 'collectBench', 'faultBench'];

export async function main(argv: string[]): Promise<number> {
  const only = argv.filter((a) => BENCHMARKS.includes(a));
  for (const name of BENCHMARKS) {
    if (only.length && !only.includes(name)) continue;
    const file = path.join(__dirname, `${name}.ts`);
    if (!existsSync(file)) continue;
    process.stderr.write(`== ${name} ==\n`);
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const bench = require(file) as { main: (argv: string[]) => Promise<number> };
    const code = await bench.main(argv.filter((a) => !BENCHMARKS.includes(a)));
    if (code !== 0) return code;
  }
  return 0;
}
