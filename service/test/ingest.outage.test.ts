import { createDatabaseIfMissing } from '../src/db/admin';
import { freePort, makeScratchDir } from '../src/localResources';
import { migrate } from '../src/db/migrate';
import { createPool, withDatabase } from '../src/db/pool';
import { createToken } from '../src/db/tokens';
import { loadConfig } from '../src/config';
import { startService, type RunningService } from '../src/service';
import { StandalonePostgres } from './support/standalonePostgres';
import { countsOf, storedOf, SustainedIngest } from './support/load';
import { post } from './support/service';

const TENANT = '77777777-7777-4777-8777-777777777777';
/** Longer than the authenticator's token cache (5 s), so tokens are looked up during the gap. */
const GAP_MS = 6_500;

async function getJson(url: string, token?: string): Promise<{ status: number; body: any }> {
  const response = await fetch(url, token ? { headers: { authorization: `Bearer ${token}` } } : {});
  return { status: response.status, body: await response.json() };
}

describe('ingest while PostgreSQL is restarted under sustained load', () => {
  let pg: StandalonePostgres;
  let service: RunningService;
  let dbUrl: string;
  let token: string;
  let readToken: string;
  let adminToken: string;

  beforeAll(async () => {
    pg = new StandalonePostgres(makeScratchDir('agog-outage-'), await freePort());
    await pg.start();
    await createDatabaseIfMissing(pg.url, 'agog');
    dbUrl = withDatabase(pg.url, 'agog');
    await migrate(dbUrl);
    const pool = createPool(dbUrl, { max: 1 });
    token = (await createToken(pool, { tenantId: TENANT, scopes: ['ingest'] })).token;
    readToken = (await createToken(pool, { tenantId: TENANT, scopes: ['read'] })).token;
    adminToken = (await createToken(pool, { tenantId: null, scopes: ['admin'] })).token;
    await pool.end();
    service = await startService(loadConfig({ PORT: '0', RESOURCE_SAMPLE_INTERVAL_MS: '0', METRICS_FLUSH_INTERVAL_MS: '5' }), dbUrl, {
      startScheduler: false, log: () => undefined,
    });
  });
  afterAll(async () => {
    await service?.stop().catch(() => undefined);
    await pg.stop();
  });

  it('answers 503 with Retry-After during the gap, recovers without a restart, and loses no acknowledged record', async () => {
    // Two senders per record kind, 25 records a batch, posting back to back.
    const load = new SustainedIngest(service.url, token, { label: 'outage', sendersPerKind: 2, recordsPerBatch: 25 }).start();
    expect(await load.until(() => load.count(200) >= 30, 15_000)).toBe(true);

    await pg.stop();
    const gapStarted = load.answers.length;
    expect(await load.until(() => load.count(503, gapStarted) >= 10, 10_000)).toBe(true);
    const readyDuringGap = await fetch(`${service.url}/health/ready`);
    const healthDuringGap = await getJson(`${service.url}/health`);
    await new Promise((resolve) => setTimeout(resolve, GAP_MS));
    // The read token was never used, so it must be looked up: the query API says 503 too.
    const queryDuringGap = await post(`${service.url}/v1/query`, readToken, {
      range: { from: Date.now() - 3_600_000, to: Date.now() }, queries: [{ refId: 'A', queryType: 'overview' }],
    });
    await pg.start();
    const restarted = load.answers.length;
    // The probe notices PostgreSQL within a second; every kind must get through again.
    const recovered = await load.until(
      () => (['api', 'query', 'resource'] as const).every((kind) => load.answers.slice(restarted).filter((a) => a.kind === kind && a.status === 200).length >= 5),
      30_000,
    );
    await load.stop();

    expect(recovered).toBe(true);
    expect(readyDuringGap.status).toBe(503);
    expect([queryDuringGap.status, queryDuringGap.body.error?.code]).toEqual([503, 'database_unavailable']);
    expect(queryDuringGap.headers.get('retry-after')).toMatch(/^[1-9]\d*$/);
    const queryAfter = await post(`${service.url}/v1/query`, readToken, {
      range: { from: Date.now() - 3_600_000, to: Date.now() }, queries: [{ refId: 'A', queryType: 'overview' }],
    });
    expect(queryAfter.status).toBe(200);
    // Without a token (none can be looked up during the gap), the status alone.
    expect(healthDuringGap).toMatchObject({ status: 200, body: { status: 'unavailable' } });
    // Nothing but 200 and 503: no 500 when a token has to be looked up during the gap,
    // no dropped connection; every 503 says when to come back.
    expect(new Set(load.answers.map((a) => a.status))).toEqual(new Set([200, 503]));
    const refusals = load.answers.filter((a) => a.status === 503);
    // A batch whose COMMIT was under way when the server went is told it may have been
    // stored (commit_outcome_unknown); every other one that nothing was stored.
    expect(refusals.filter((a) => !['database_unavailable', 'commit_outcome_unknown'].includes(a.code ?? '') || !/^[1-9]\d*$/.test(a.retryAfter ?? ''))).toEqual([]);

    const health = await getJson(`${service.url}/health`, adminToken);
    expect(health.body).toMatchObject({ status: 'ok', database: { reachable: true }, ingest: { accepting: true } });
    expect(await (await fetch(`${service.url}/metrics`)).text()).toMatch(/^agog_database_up 1$/m);

    const pool = createPool(dbUrl, { max: 1 });
    try {
      expect(await storedOf(pool, load.acknowledged)).toEqual(countsOf(load.acknowledged));
    } finally {
      await pool.end();
    }
  });
});
