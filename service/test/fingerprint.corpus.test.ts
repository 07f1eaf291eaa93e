// The redaction corpus (test/fixtures/redactionCorpus.ts): what each text must lose,
// checked on the preview and on what the service stores from it.
import { fingerprintQuery, loadParser } from '../src/ingest/fingerprint';
import type { RunningService } from '../src/service';
import { REDACTION_CORPUS } from './fixtures/redactionCorpus';
import { createTestDatabase, type TestDatabase } from './support/db';
import { post, startTestService, tokenFor } from './support/service';

const TENANT = '88888888-8888-4888-8888-888888888888';

describe('the redaction corpus', () => {
  beforeAll(() => loadParser());

  it('holds at least 100 texts, and cases of every class', () => {
    expect(REDACTION_CORPUS.length).toBeGreaterThanOrEqual(100);
    const classes = new Set(REDACTION_CORPUS.map((c) => c.class));
    expect(classes.size).toBe(5);
    for (const klass of classes) expect(REDACTION_CORPUS.filter((c) => c.class === klass).length).toBeGreaterThanOrEqual(10);
  });

  it.each(REDACTION_CORPUS.map((c) => [c.class, c.sql, c.mustNotSurvive] as const))('%s: %s loses %p', (_klass, sql, secrets) => {
    const { preview } = fingerprintQuery(sql);
    for (const secret of secrets) expect(preview.toLowerCase()).not.toContain(secret.toLowerCase());
  });
});

describe('what the service stores of the redaction corpus', () => {
  let db: TestDatabase;
  let service: RunningService;
  let url: string;
  beforeAll(async () => {
    db = await createTestDatabase('redaction_corpus');
    ({ service, url } = await startTestService(db));
  });
  afterAll(async () => {
    await service.stop();
    await db.drop();
  });

  it('holds none of the literals in any text column of the query log or the fingerprints', async () => {
    const token = await tokenFor(db, TENANT, ['ingest']);
    // Slow (kept on the row) and fast (kept once per fingerprint) records of every text.
    const records = REDACTION_CORPUS.flatMap((c) => [
      { timestamp: Date.now(), query: c.sql, executionTimeMs: 1500 },
      { timestamp: Date.now(), query: c.sql, executionTimeMs: 2 },
    ]);
    const res = await post(`${url}/v1/ingest/queries`, token, records);
    expect(res.status).toBe(200);
    const stored = await db.pool.query(`
      SELECT query_preview AS text FROM query_performance_log WHERE query_preview IS NOT NULL
      UNION ALL SELECT to_jsonb(f)::text FROM query_fingerprints f`);
    expect(stored.rows.length).toBeGreaterThanOrEqual(REDACTION_CORPUS.length);
    const all = stored.rows.map((r) => String(r.text).toLowerCase()).join('\n');
    const leaked = REDACTION_CORPUS.flatMap((c) => c.mustNotSurvive.filter((s) => all.includes(s.toLowerCase())).map((s) => `${s} (from ${c.sql})`));
    expect(leaked).toEqual([]);
  });
});
