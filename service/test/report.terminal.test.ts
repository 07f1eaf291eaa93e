import { backfill } from '../src/demo/run';
import { ensureDemoAppTables } from '../src/db/demoApp';
import { refreshRollups } from '../src/db/rollups';
import { fetchReport, renderReport } from '../src/report/terminal';
import { createTestDatabase, type TestDatabase } from './support/db';
import { startTestService, tokenFor } from './support/service';
import type { RunningService } from '../src/service';

const TENANT = '15151515-1515-4515-8515-151515151515';

describe('the terminal report', () => {
  let db: TestDatabase;
  let service: RunningService;
  let url: string;
  beforeAll(async () => {
    db = await createTestDatabase('report');
    ({ service, url } = await startTestService(db));
    await ensureDemoAppTables(db.pool);
    await backfill({ url, token: await tokenFor(db, TENANT, ['ingest']) }, { hours: 1, rate: 4, quiet: true });
    await refreshRollups(db.pool);
    expect(await service.scheduler.runNow('optimize')).toBe(true);
  });
  afterAll(async () => {
    await service.stop();
    await db.drop();
  });

  it('shows the overview, the planted slow query first and the missing-index advice', async () => {
    const report = await fetchReport({ url, token: await tokenFor(db, TENANT, ['read']), hours: 2, limit: 5 });
    expect(report.errors).toEqual([]);
    expect(report.overview).toHaveLength(1);
    expect(Object.keys(report.overview[0]!)).toEqual(expect.arrayContaining(['Health score', 'Status']));
    expect(JSON.stringify(report.slowQueries[0])).toContain('demo_print_jobs WHERE customer_ref = $1');
    const text = renderReport(report);
    expect(text).toMatch(/Health score\s+\d+/);
    expect(text).toMatch(/Missing index on demo_print_jobs \(customer_ref\)/);
    expect(text).toMatch(/Requests per second\s+[\d.]+ requests\/s/);
  });

  it('answers for the token\'s tenant only', async () => {
    const other = await fetchReport({ url, token: await tokenFor(db, '16161616-1616-4616-8616-161616161616', ['read']), hours: 2 });
    expect(other.slowQueries).toEqual([]);
    expect(other.recommendations.filter((r) => JSON.stringify(r).includes('demo_print_jobs'))).toEqual([]);
  });
});
