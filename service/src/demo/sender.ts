// Sends demo traffic to a running service through its ingest API, as an application
// would: batches of each kind, with the tenant's ingest token.
import type { DemoRecords } from './traffic';

const PATHS: Record<keyof DemoRecords, string> = {
  api: '/v1/ingest/api-requests',
  query: '/v1/ingest/queries',
  resource: '/v1/ingest/resources',
};
const BATCH = 5_000;

export interface SenderOptions {
  url: string;
  token: string;
  /** Admin tokens name the tenant they ingest for. */
  tenantId?: string;
}

export async function sendRecords(options: SenderOptions, records: DemoRecords): Promise<number> {
  let sent = 0;
  for (const kind of ['api', 'query', 'resource'] as const) {
    const list = records[kind];
    for (let i = 0; i < list.length; i += BATCH) {
      const batch = list.slice(i, i + BATCH);
      for (let attempt = 1; ; attempt++) {
        const response = await fetch(options.url.replace(/\/$/, '') + PATHS[kind], {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            authorization: `Bearer ${options.token}`,
            ...(options.tenantId ? { 'x-tenant-id': options.tenantId } : {}),
          },
          body: JSON.stringify(batch),
        });
        const text = await response.text();
        if (response.ok) break;
        const retryAfter = Number(response.headers.get('retry-after'));
        if ((response.status === 429 || response.status === 503) && attempt < 10) {
          await new Promise((r) => setTimeout(r, (Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter : 1) * 1000));
          continue;
        }
        throw new Error(`${PATHS[kind]} answered ${response.status}: ${text.slice(0, 300)}`);
      }
      sent += batch.length;
    }
  }
  return sent;
}

/** A one-line progress bar on stderr (only when it is a terminal, else one line per step). */
export function progress(label: string, done: number, total: number): void {
  const width = 30;
  const share = total ? Math.min(1, done / total) : 1;
  const bar = '#'.repeat(Math.round(share * width)).padEnd(width, '.');
  const line = `${label} [${bar}] ${Math.round(share * 100)}%`;
  if (process.stderr.isTTY) process.stderr.write(`\r${line}${done >= total ? '\n' : ''}`);
  else process.stderr.write(line + '\n');
}
