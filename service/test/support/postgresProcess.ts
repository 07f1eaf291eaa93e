// Child process of standalonePostgres.ts: runs one embedded server until SIGTERM, with
// the server settings given as JSON in the third argument.
import { startEmbeddedPostgres } from '../../src/db/embedded';

export async function main(argv: string[]): Promise<number> {
  const [dataDir, port, settings] = argv;
  const server = await startEmbeddedPostgres({
    dataDir: dataDir!, port: Number(port), persistent: true, settings: { fsync: 'off', ...(settings ? JSON.parse(settings) : {}) },
  });
  process.stdout.write(`READY ${server.url}\n`);
  await new Promise<void>((resolve) => process.once('SIGTERM', () => resolve()));
  await server.stop();
  return 0;
}
