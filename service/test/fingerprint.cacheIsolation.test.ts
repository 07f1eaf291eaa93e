// The normalization cache (src/ingest/fingerprint.ts) is shared by all tenants: what it
// hands a text must be a function of the cache key, never of the first text that filled it.
import { fingerprintQuery, loadParser } from '../src/ingest/fingerprint';
import type { RunningService } from '../src/service';
import { createTestDatabase, type TestDatabase } from './support/db';
import { post, startTestService, tokenFor } from './support/service';

const TENANT_A = '99999999-9999-4999-8999-99999999999a';
const TENANT_B = '99999999-9999-4999-8999-99999999999b';

describe('the normalization cache across tenants', () => {
  let db: TestDatabase;
  let service: RunningService;
  let url: string;
  beforeAll(async () => {
    await loadParser();
    db = await createTestDatabase('fingerprint_cache');
    ({ service, url } = await startTestService(db));
  });
  afterAll(async () => {
    await service.stop();
    await db.drop();
  });

  async function previewsOf(tenantId: string): Promise<string[]> {
    const rows = await db.pool.query(`SELECT DISTINCT query_preview FROM query_performance_log WHERE tenant_id = $1::uuid AND query_preview IS NOT NULL ORDER BY 1`, [tenantId]);
    return rows.rows.map((r) => r.query_preview);
  }

  it("stores tenant B's own preview, not tenant A's, for a text with the same literal-free key", async () => {
    const a = await tokenFor(db, TENANT_A, ['ingest']);
    const b = await tokenFor(db, TENANT_B, ['ingest']);
    const slow = (query: string) => ({ timestamp: Date.now(), query, executionTimeMs: 1500 });
    expect((await post(`${url}/v1/ingest/queries`, a, [slow('SELECT name::varchar(4417) FROM customers WHERE id = 1 ORDER BY 1')])).status).toBe(200);
    expect((await post(`${url}/v1/ingest/queries`, b, [slow('SELECT name::varchar(20) FROM customers WHERE id = 2 ORDER BY 1')])).status).toBe(200);
    expect(await previewsOf(TENANT_A)).toEqual(['SELECT name::varchar(4417) FROM customers WHERE id = $1 ORDER BY 1']);
    expect(await previewsOf(TENANT_B)).toEqual(['SELECT name::varchar(20) FROM customers WHERE id = $1 ORDER BY 1']);
  });

  it('gives a text the preview of its own numbers whichever text of its key came first', () => {
    const first = fingerprintQuery('SELECT a FROM t WHERE b = 7 GROUP BY 1 ORDER BY 3');
    const second = fingerprintQuery('SELECT a FROM t WHERE b = 8 GROUP BY 1 ORDER BY 2');
    const third = fingerprintQuery('SELECT a FROM t WHERE b = 9 GROUP BY 1 ORDER BY 3');
    expect(first.preview).toBe('SELECT a FROM t WHERE b = $1 GROUP BY 1 ORDER BY 3');
    expect(second.preview).toBe('SELECT a FROM t WHERE b = $1 GROUP BY 1 ORDER BY 2');
    expect(third.preview).toBe(first.preview);
  });

  it('makes the preview of unparsable text from that text, not from the cached one', () => {
    // Both read as `a = ? AND b = ?` with standard strings; read with backslash escapes,
    // the first is one string from its first quote to its third.
    const first = fingerprintQuery("SELEC x FROM t WHERE a = 'q\\' AND b = 'r'");
    const second = fingerprintQuery("SELEC x FROM t WHERE a = 'q' AND b = 'r'");
    expect(first.hash).toBe(second.hash);
    expect(first.preview).toBe('SELEC x FROM t WHERE a = ?');
    expect(second.preview).toBe('SELEC x FROM t WHERE a = ? AND b = ?');
  });
});
