import { readFileSync } from 'node:fs';
import path from 'node:path';
import { createTestDatabase, type TestDatabase } from './support/db';

interface RunbookStatement {
  name: string;
  sql: string;
}

const RUNBOOK = readFileSync(path.join(__dirname, 'fixtures', 'runbook.sql'), 'utf8');

function runbookStatements(marker: 'name' | 'broken' | 'corrected'): RunbookStatement[] {
  return RUNBOOK.split(/^-- (?=name: |broken: |corrected: )/m)
    .filter((chunk) => chunk.startsWith(marker + ': '))
    .map((chunk) => chunk.slice(marker.length + 2))
    .map((chunk) => {
      const newline = chunk.indexOf('\n');
      return { name: chunk.slice(0, newline).trim(), sql: chunk.slice(newline + 1).trim() };
    });
}

const statements = runbookStatements('name');
const broken = runbookStatements('broken');
const corrected = runbookStatements('corrected');

describe("the operators' runbook SQL", () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase('runbook');
    // Some data, so aggregates and HAVING clauses have rows to work on.
    await db.pool.query(`
      INSERT INTO query_performance_log ("timestamp", tenant_id, query_hash, query_preview, execution_time_ms, endpoint)
      SELECT now() - (i || ' minutes')::interval, '33333333-3333-3333-3333-333333333333', i % 3,
             'SELECT * FROM orders WHERE id = $1', 900 + i * 10, 'performanceOverview'
        FROM generate_series(1, 40) i`);
    await db.pool.query(`
      INSERT INTO system_resource_metrics ("timestamp", tenant_id, cpu_usage_percent, memory_used_mb, active_connections)
      SELECT now() - (i || ' minutes')::interval, '33333333-3333-3333-3333-333333333333', 40, 512, 5
        FROM generate_series(1, 10) i`);
  });
  afterAll(async () => db.drop());

  it('covers the daily check, weekly maintenance, four alerts, top-10, resource summary and both DO blocks', () => {
    const names = statements.map((s) => s.name);
    for (const expected of [
      'daily health check (cache freshness)', 'weekly maintenance (partition count)', 'weekly maintenance (table sizes)',
      'alert 1: OLAP cache stale', 'alert 2: health score critical', 'alert 3: high slow query count',
      'alert 4: disk space warning', 'top 10 slow queries', 'resource utilization summary',
      'DO block: create future partitions', 'DO block: drop old partitions',
    ]) expect(names).toContain(expected);
  });

  it('finds the planted slow queries with the top-10 query', async () => {
    const top = statements.find((s) => s.name === 'top 10 slow queries')!;
    const result = await db.pool.query(top.sql);
    // execution times 910..1300 ms: 30 of the 40 rows are over 1000 ms, in 3 fingerprints.
    expect(result.rows).toHaveLength(3);
    expect(result.rows.reduce((sum: number, r: { occurrence_count: string }) => sum + Number(r.occurrence_count), 0)).toBe(30);
  });

  it('counts partitions with the partition-count alert query', async () => {
    const alert = statements.find((s) => s.name === 'alert 4: disk space warning')!;
    const withoutHaving = alert.sql.replace(/HAVING COUNT\(\*\) > 35;/, ';');
    const result = await db.pool.query(withoutHaving);
    // current month + 3 ahead + DEFAULT, possibly one more from the DO block run above
    expect(Number(result.rows[0].partition_count)).toBeGreaterThanOrEqual(5);
  });
  it.each(statements.map((s) => [s.name, s.sql]))('runs unmodified: %s', async (_name, sql) => {
    await expect(db.pool.query(sql)).resolves.toBeDefined();
  });

  it.each(broken.map((s) => [s.name, s]))('names the defect of the original statement: %s', async (_name, statement) => {
    const reason = /^-- reason: (.*)$/m.exec((statement as RunbookStatement).sql)![1]!;
    await expect(db.pool.query((statement as RunbookStatement).sql)).rejects.toThrow(reason);
  });

  it.each(corrected.map((s) => [s.name, s.sql]))('runs the corrected statement: %s', async (_name, sql) => {
    await expect(db.pool.query(sql)).resolves.toBeDefined();
  });
});
