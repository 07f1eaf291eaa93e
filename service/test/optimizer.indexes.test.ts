// The index detectors on a monitored application's tables built in the test database:
// missing index (with hypopg's proof where the extension is available, and the "proof
// not possible" wording where it is not), unused and duplicate indexes; and the product's
// own tables never advised on.
import { applicationTables } from '../src/db/monitoredSchema';
import { refreshRollups } from '../src/db/rollups';
import type { QueryResponse } from '../src/contract/query';
import { DATABASE_FINDINGS_TENANT } from '../src/optimizer/detector';
import { runQueries, validateQueryRequest } from '../src/query/runQueries';
import { duplicateIndexesDetector } from '../src/optimizer/detectors/duplicateIndexes';
import { missingIndexDetector, PROOF_NOT_POSSIBLE, unexplainableReason } from '../src/optimizer/detectors/missingIndex';
import { unusedIndexesDetector } from '../src/optimizer/detectors/unusedIndexes';
import { runOptimizer } from '../src/optimizer/engine';
import { filterColumns, sequentialScans, suggestedIndexColumns, type PlanNode } from '../src/optimizer/planAnalysis';
import { loadParser } from '../src/ingest/fingerprint';
import { createTestDatabase, type TestDatabase } from './support/db';
import { findingsOf, optimizerSettings } from './support/optimizer';
import { insertQueries, insertRequests, MINUTE, times } from './support/queryData';

const T = 'f1f1f1f1-0000-4000-8000-000000000001';
const ago = (minutes: number) => new Date(Math.floor(Date.now() / MINUTE) * MINUTE - minutes * MINUTE);

describe('reading plans', () => {
  const columns = new Set(['id', 'customer_email', 'status', 'created_at', 'total']);

  it.each([
    ['(customer_email = $1)', ['customer_email'], []],
    ['((status = $1) AND (customer_email = $2))', ['status', 'customer_email'], []],
    ['((orders.customer_email)::text = $1)', ['customer_email'], []],
    ['((created_at > $1) AND (status = ANY ($2)))', ['status'], ['created_at']],
    ["(($1)::timestamp with time zone < created_at)", [], ['created_at']],
    ['(lower(customer_email) = $1)', [], []],
    ['((status = $1) OR (total > $2))', [], []],
    ['(customer_id = o.id)', [], []],
    ['(unknown_column = $1)', [], []],
  ])('finds in %s the equality columns %j and the range columns %j', (filter, equality, range) => {
    expect(filterColumns(filter, columns)).toEqual({ equality, range });
  });

  it('keys an index on the equality columns, then one range column', () => {
    expect(suggestedIndexColumns({ equality: ['status', 'customer_email'], range: ['created_at', 'total'] }))
      .toEqual(['status', 'customer_email', 'created_at']);
  });

  it('finds the filtered sequential scans anywhere in the plan', () => {
    const plan: PlanNode = {
      'Node Type': 'Hash Join',
      Plans: [
        { 'Node Type': 'Seq Scan', 'Relation Name': 'orders', Schema: 'public', 'Plan Rows': 3, Filter: '(customer_email = $1)' },
        { 'Node Type': 'Hash', Plans: [{ 'Node Type': 'Seq Scan', 'Relation Name': 'customers', 'Plan Rows': 100 }] },
      ],
    };
    expect(sequentialScans(plan)).toEqual([{ schema: 'public', table: 'orders', alias: null, planRows: 3, filter: '(customer_email = $1)' }]);
  });

  it('plans only single SELECT, UPDATE and DELETE statements', async () => {
    await loadParser();
    expect(unexplainableReason('SELECT * FROM orders WHERE id = $1')).toBeNull();
    expect(unexplainableReason('DELETE FROM orders WHERE id = $1')).toBeNull();
    expect(unexplainableReason('SELECT 1; DROP TABLE orders')).toMatch(/more than one statement/);
    expect(unexplainableReason('INSERT INTO orders (id) VALUES ($1)')).toMatch(/only SELECT/);
    expect(unexplainableReason('SELECT * INTO copy FROM orders')).toMatch(/only SELECT/);
    expect(unexplainableReason('SELECT * FROM orders WHERE customer_email = …')).toMatch(/cut off/);
    expect(unexplainableReason('SELEKT nothing')).toMatch(/does not parse/);
  });
});

describe('index detectors on the monitored schema', () => {
  let db: TestDatabase;
  let hypopgAvailable = false;

  beforeAll(async () => {
    db = await createTestDatabase('optimizer_indexes');
    hypopgAvailable = (await db.pool.query(`SELECT 1 FROM pg_available_extensions WHERE name = 'hypopg'`)).rowCount === 1;
    await insertRequests(db.pool, T, [{ at: ago(5), endpoint: '/orders', ms: 10 }]);
  });
  afterAll(async () => db?.drop());

  it('sees none of the product\'s own tables as the application\'s, so never advises on them', async () => {
    expect(await applicationTables(db.pool, 'public')).toEqual([]);
    await refreshRollups(db.pool);
    const run = await runOptimizer(db.pool, optimizerSettings(), { detectors: [missingIndexDetector, unusedIndexesDetector, duplicateIndexesDetector] });
    expect([run.findings, run.failures]).toEqual([0, []]);
  });

  describe('missing index', () => {
    beforeAll(async () => {
      await db.pool.query(`
        CREATE TABLE orders (id bigserial PRIMARY KEY, customer_email text NOT NULL, status text NOT NULL,
                             created_at timestamptz NOT NULL, total numeric NOT NULL);
        INSERT INTO orders (customer_email, status, created_at, total)
        SELECT 'customer' || (i % 20000) || '@example.com', (ARRAY['new', 'paid', 'shipped'])[1 + i % 3],
               now() - i * interval '1 minute', i
          FROM generate_series(1, 60000) i;
        CREATE TABLE customers (id bigserial PRIMARY KEY, email text NOT NULL);
        INSERT INTO customers (email) SELECT 'customer' || i || '@example.com' FROM generate_series(1, 60000) i;
        CREATE INDEX customers_email_idx ON customers (email);
        CREATE TABLE tiny (id int, code text);
        INSERT INTO tiny SELECT i, 'c' || i FROM generate_series(1, 100) i;
        ANALYZE orders, customers, tiny;`);
      const slow = (hash: string, preview: string, ms = 1500) =>
        times(ago(20), 3, MINUTE).map((at) => ({ at, hash, preview, ms, endpoint: '/orders' }));
      await insertQueries(db.pool, T, [
        ...slow('4001', 'SELECT id, total FROM orders WHERE customer_email = $1 AND status = $2'),
        ...slow('4002', 'UPDATE orders SET total = $1 WHERE customer_email = $2'),
        ...slow('4003', 'SELECT id FROM orders WHERE status = $1'), // a third of the table: not selective
        ...slow('4004', 'SELECT * FROM customers WHERE email = $1'), // already indexed
        ...slow('4005', 'SELECT * FROM tiny WHERE code = $1'), // too small to matter
        ...slow('4006', 'SELECT * FROM orders WHERE id = $1; DELETE FROM orders'), // never planned
        ...slow('4007', 'SELECT * FROM orders WHERE created_at > $1 AND total = $2', 2), // fast: not a candidate
      ]);
      await refreshRollups(db.pool);
    });

    it('suggests the index for a slow query that scans a large table with a selective filter, and says the gain is unproven without hypopg', async () => {
      const run = await runOptimizer(db.pool, optimizerSettings(), { detectors: [missingIndexDetector] });
      expect(run.failures).toEqual([]);
      const found = await findingsOf(db.pool, T, 'missingIndex');
      expect(found.map((f) => f.action).sort()).toEqual([
        'CREATE INDEX CONCURRENTLY orders_customer_email_idx ON public.orders (customer_email);',
        'CREATE INDEX CONCURRENTLY orders_customer_email_status_idx ON public.orders (customer_email, status);',
      ]);
      const select = found.find((f) => f.query_hash === '4001')!;
      expect(select.evidence).toMatchObject({
        queryHash: '0000000000000fa1', table: 'public.orders', columns: ['customer_email', 'status'], planNode: 'Seq Scan',
        calls: 3, slowCalls: 3, proof: { method: 'hypopg', proven: false, text: PROOF_NOT_POSSIBLE },
      });
      expect(select.evidence.tableRowsEstimate).toBeGreaterThan(50_000);
      expect(select.evidence.rowsKeptEstimate).toBeLessThan(10);
      expect(select.table_name).toBe('public.orders');
      expect(PROOF_NOT_POSSIBLE).toMatch(/could not be proven: the hypopg extension is not installed/);
    });

    it('stays silent on an unselective filter, an indexed column, a small table, a multi-statement text and a fast query', async () => {
      const hashes = (await findingsOf(db.pool, T, 'missingIndex')).map((f) => f.query_hash);
      for (const hash of ['4003', '4004', '4005', '4006', '4007']) expect(hashes).not.toContain(hash);
    });

    it('proves the gain with a hypothetical index when hypopg is installed (else the proof stays "not possible")', async () => {
      if (!hypopgAvailable) {
        const [finding] = await findingsOf(db.pool, T, 'missingIndex');
        expect(finding!.evidence.proof).toEqual({ method: 'hypopg', proven: false, costBefore: expect.any(Number), text: PROOF_NOT_POSSIBLE });
        return;
      }
      await db.pool.query('CREATE EXTENSION IF NOT EXISTS hypopg');
      await runOptimizer(db.pool, optimizerSettings(), { detectors: [missingIndexDetector] });
      const select = (await findingsOf(db.pool, T, 'missingIndex')).find((f) => f.query_hash === '4001')!;
      const proof = select.evidence.proof;
      expect(proof).toMatchObject({ method: 'hypopg', proven: true });
      expect(proof.costWithIndex).toBeLessThan(proof.costBefore);
      expect(proof.estimatedImprovementPercent).toBeGreaterThan(50);
      expect(proof.text).toContain('the planner uses it');
      // The session's hypothetical indexes are gone once the connection is back in the pool.
      const left = await db.pool.query('SELECT count(*)::int AS n FROM hypopg_list_indexes');
      expect(left.rows[0].n).toBe(0);
    });
  });

  describe('unused and duplicate indexes', () => {
    beforeAll(async () => {
      await db.pool.query(`
        CREATE TABLE events (id bigserial PRIMARY KEY, kind text NOT NULL, user_id int NOT NULL, code text NOT NULL);
        INSERT INTO events (kind, user_id, code) SELECT 'k' || (i % 50), i % 1000, 'code-' || i FROM generate_series(1, 20000) i;
        CREATE INDEX events_kind_idx ON events (kind);
        CREATE INDEX events_user_idx ON events (user_id);
        CREATE UNIQUE INDEX events_code_key ON events (code);
        CREATE TABLE docs (a int, b int, c int);
        INSERT INTO docs SELECT i, i % 100, i % 7 FROM generate_series(1, 20000) i;
        CREATE INDEX docs_a_idx ON docs (a);
        CREATE INDEX docs_a_copy_idx ON docs (a);
        CREATE INDEX docs_a_b_idx ON docs (a, b);
        CREATE UNIQUE INDEX docs_a_c_key ON docs (a, c);
        CREATE INDEX docs_c_positive_idx ON docs (c) WHERE c > 0;
        CREATE INDEX docs_c_idx ON docs (c);
        ANALYZE events, docs;`);
      // Read the table, and use one of its indexes; wait until the statistics show it.
      const client = await db.pool.connect();
      try {
        await client.query('SELECT count(*) FROM events');
        await client.query('SET enable_seqscan = off; SET enable_bitmapscan = off');
        await client.query('SELECT * FROM events WHERE user_id = 7');
        await client.query('RESET enable_seqscan; RESET enable_bitmapscan');
        await client.query('SELECT pg_stat_force_next_flush()').catch(() => undefined);
      } finally {
        client.release();
      }
      for (let i = 0; i < 100; i++) {
        const used = await db.pool.query(`SELECT idx_scan FROM pg_stat_user_indexes WHERE indexrelname = 'events_user_idx'`);
        if (Number(used.rows[0]?.idx_scan) > 0) break;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      await runOptimizer(db.pool, optimizerSettings(), { detectors: [unusedIndexesDetector, duplicateIndexesDetector] });
    });

    it('flags an index never scanned on a table that is read', async () => {
      const unused = (await findingsOf(db.pool, DATABASE_FINDINGS_TENANT, 'unusedIndex')).map((f) => f.evidence.index);
      expect(unused).toContain('public.events_kind_idx');
      const finding = (await findingsOf(db.pool, DATABASE_FINDINGS_TENANT, 'unusedIndex')).find((f) => f.evidence.index === 'public.events_kind_idx')!;
      expect(finding.action).toBe('DROP INDEX CONCURRENTLY public.events_kind_idx; -- first check that no replica, monthly job or rare report uses it (statistics are per server)');
      expect(finding.evidence.indexScans).toBe(0);
      expect(finding.evidence.tableReads).toBeGreaterThan(0);
    });

    it('does not flag a used index, a unique index or a primary key', async () => {
      const unused = (await findingsOf(db.pool, DATABASE_FINDINGS_TENANT, 'unusedIndex')).map((f) => f.evidence.index);
      expect(unused).not.toContain('public.events_user_idx');
      expect(unused).not.toContain('public.events_code_key');
      expect(unused).not.toContain('public.events_pkey');
      expect(unused).not.toContain('public.docs_a_c_key');
    });

    it('flags an exact duplicate and an index whose key leads another, and keeps the one that covers them', async () => {
      const found = await findingsOf(db.pool, DATABASE_FINDINGS_TENANT, 'duplicateIndex');
      const pairs = found.map((f) => [f.evidence.index, f.evidence.relation, f.evidence.coveredBy]).sort();
      expect(pairs).toEqual([
        ['public.docs_a_copy_idx', 'exact', 'public.docs_a_idx'],
        ['public.docs_a_idx', 'prefix', 'public.docs_a_b_idx'],
      ]);
      expect(found.find((f) => f.evidence.relation === 'exact')!.severity).toBe('warning');
    });

    it('shows them to an admin token that names no tenant, and not to a tenant token', async () => {
      const request = validateQueryRequest({ range: { from: Date.now() - 3_600_000, to: Date.now() + 60_000 }, queries: [{ refId: 'A', queryType: 'recommendations', kind: 'duplicateIndex' }] });
      const settings = { latencyTargetMs: 100, slowQueryThresholdMs: 1000 };
      const kinds = (answer: QueryResponse) => answer.results.A!.frames[0]!.data.values[1] as string[];
      expect(kinds(await runQueries(db.pool, request, { tenantId: null, admin: true }, settings))).toEqual(['duplicateIndex', 'duplicateIndex']);
      expect(kinds(await runQueries(db.pool, request, { tenantId: T, admin: false }, settings))).toEqual([]);
    });

    it("records them for the operators only, not in any tenant's findings, unless OPTIMIZER_SHARE_DATABASE_FINDINGS", async () => {
      expect(await findingsOf(db.pool, T, 'unusedIndex')).toEqual([]);
      expect(await findingsOf(db.pool, T, 'duplicateIndex')).toEqual([]);
      await runOptimizer(db.pool, optimizerSettings({ shareDatabaseFindings: true }), { detectors: [unusedIndexesDetector, duplicateIndexesDetector] });
      expect((await findingsOf(db.pool, T, 'duplicateIndex')).map((f) => f.evidence.index).sort()).toEqual(['public.docs_a_copy_idx', 'public.docs_a_idx']);
      await runOptimizer(db.pool, optimizerSettings(), { detectors: [unusedIndexesDetector, duplicateIndexesDetector] });
      expect((await findingsOf(db.pool, T, 'duplicateIndex')).filter((f) => !f.resolved_at)).toEqual([]);
    });

    it('does not flag a unique index, or indexes that differ in their predicate', async () => {
      const flagged = (await findingsOf(db.pool, DATABASE_FINDINGS_TENANT, 'duplicateIndex')).map((f) => f.evidence.index);
      expect(flagged).not.toContain('public.docs_a_c_key');
      expect(flagged).not.toContain('public.docs_c_idx');
      expect(flagged).not.toContain('public.docs_c_positive_idx');
      expect(flagged).not.toContain('public.docs_a_b_idx');
    });
  });
});
