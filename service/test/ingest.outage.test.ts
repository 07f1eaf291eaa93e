import { createDatabaseIfMissing } from '../src/db/admin';
import { freePort, makeScratchDir } from '../src/localResources';
import { migrate } from '../src/db/migrate';
import { createPool, withDatabase } from '../src/db/pool';
import { createToken } from '../src/db/tokens';
import { loadConfig } from '../src/config';
import { startService, type RunningService } from '../src/service';
import { StandalonePostgres } from './support/standalonePostgres';
import { apiRecord, post } from './support/service';

const TENANT = '77777777-7777-4777-8777-777777777777';

describe('ingest while PostgreSQL is stopped and started again', () => {
  let pg: StandalonePostgres;
  let service: RunningService;
  let dbUrl: string;
  let token: string;

  beforeAll(async () => {
    pg = new StandalonePostgres(makeScratchDir('agog-outage-'), await freePort());
    await pg.start();
    await createDatabaseIfMissing(pg.url, 'agog');
    dbUrl = withDatabase(pg.url, 'agog');
    await migrate(dbUrl);
    const pool = createPool(dbUrl, { max: 1 });
    token = (await createToken(pool, { tenantId: TENANT, scopes: ['ingest'] })).token;
    await pool.end();
    service = await startService(loadConfig({ PORT: '0', RESOURCE_SAMPLE_INTERVAL_MS: '0', METRICS_FLUSH_INTERVAL_MS: '5' }), dbUrl, {
      startScheduler: false, log: () => undefined,
    });
  });
  afterAll(async () => {
    await service?.stop().catch(() => undefined);
    await pg.stop();
  });

  it('answers 503 with Retry-After during the gap, recovers by itself, and loses no acknowledged row', async () => {
    const acknowledged: string[] = [];
    const statuses: number[] = [];
    let n = 0;
    let running = true;
    const send = async () => {
      while (running) {
        const id = `outage-${n++}`;
        const res = await post(`${service.url}/v1/ingest/api-requests`, token, [apiRecord({ requestId: id })]).catch(() => ({ status: 0, headers: new Headers(), body: null }));
        statuses.push(res.status);
        if (res.status === 200) acknowledged.push(id);
        if (res.status === 503) expect(res.headers.get('retry-after')).toMatch(/^\d+$/);
        await new Promise((r) => setTimeout(r, 5));
      }
    };
    const senders = [send(), send(), send()];
    await new Promise((r) => setTimeout(r, 300));
    await pg.stop();
    await new Promise((r) => setTimeout(r, 1500));
    const during = statuses.length;
    await pg.start();
    // Wait until ingest succeeds again (the probe runs every second).
    const deadline = Date.now() + 20_000;
    while (Date.now() < deadline && statuses.slice(during).filter((s) => s === 200).length < 10) {
      await new Promise((r) => setTimeout(r, 100));
    }
    running = false;
    await Promise.all(senders);

    expect(statuses).toContain(503);
    expect(statuses.slice(during).filter((s) => s === 200).length).toBeGreaterThanOrEqual(10);
    const pool = createPool(dbUrl, { max: 1 });
    try {
      const rows = await pool.query(`SELECT request_id FROM api_performance_log WHERE request_id = ANY($1::text[])`, [acknowledged]);
      expect(rows.rowCount).toBe(acknowledged.length);
    } finally {
      await pool.end();
    }
  });
});
