// The Citus distribution plan against the catalogs of the migrated schema (Citus itself
// cannot be installed here: docs/scaling.md). Every table of the public schema must be
// classified in migrations/citus/distribution-plan.json and every name there must be a
// table; distributed tables must carry tenant_id in every primary key and unique index;
// no foreign key may cross shards. The checks are generic catalog queries
// (catalogChecksSql in src/db/citusPlan.ts), shown here to catch each kind of problem.
import { readFileSync } from 'node:fs';
import { loadModule, parseSync } from 'libpg-query';
import type { PoolClient } from 'pg';
import {
  catalogChecksSql, DISTRIBUTE_SCRIPT, parseDistributionPlan, planTableSql, readDistributionPlan, renderDistributeScript,
  type DistributionPlan,
} from '../src/db/citusPlan';
import { createTestDatabase, type TestDatabase } from './support/db';

interface Problem { kind: string; table_name: string; detail: string }

const plan = readDistributionPlan();
const scriptText = readFileSync(DISTRIBUTE_SCRIPT, 'utf8');

/** The script's statements before CREATE EXTENSION citus: the plan and the refusal, which plain PostgreSQL runs. */
async function preflightStatements(): Promise<string[]> {
  await loadModule();
  const statements: string[] = [];
  for (const { stmt = {}, stmt_location: at = 0, stmt_len: length } of parseSync(scriptText).stmts ?? []) {
    if ('CreateExtensionStmt' in stmt) break;
    statements.push(scriptText.slice(at, length ? at + length : undefined));
  }
  return statements;
}

async function problemsOf(client: PoolClient, withPlan: DistributionPlan): Promise<Problem[]> {
  await client.query('DROP TABLE IF EXISTS pg_temp.citus_distribution_plan');
  await client.query(planTableSql(withPlan));
  return (await client.query<Problem>(catalogChecksSql(withPlan))).rows;
}

describe('the Citus distribution plan', () => {
  let db: TestDatabase;
  let client: PoolClient;
  beforeAll(async () => {
    db = await createTestDatabase('citus_plan');
    client = await db.pool.connect();
  });
  afterAll(async () => {
    client.release();
    await db.drop();
  });

  it('is what migrations/citus/distribute.sql was generated from', () => {
    // On a difference: npm run citus:script -w service, then review the diff.
    expect(scriptText).toBe(renderDistributeScript(plan));
  });

  it('classifies every table of the migrated schema, names no other, and finds no key, foreign key or trigger that blocks distribution', async () => {
    const problems = await problemsOf(client, plan);
    // An "unclassified" table needs one line in migrations/citus/distribution-plan.json;
    // a "missing" one names a table that is gone: remove its line. A transition-table
    // trigger cannot run on a distributed table (docs/scaling.md, "Rollup maintenance").
    expect(problems).toEqual([]);
  });

  it('refuses, in the script itself, exactly when the checks find problems, and names each one', async () => {
    const problems = await problemsOf(client, plan);
    await client.query('DROP TABLE IF EXISTS pg_temp.citus_distribution_plan');
    let refusal: { message: string; detail?: string } | undefined;
    await client.query('BEGIN');
    try {
      for (const statement of await preflightStatements()) await client.query(statement);
    } catch (err) {
      refusal = err as { message: string; detail?: string };
    } finally {
      await client.query('ROLLBACK');
    }
    if (problems.length === 0) {
      expect(refusal).toBeUndefined();
    } else {
      expect(refusal?.message).toBe('this schema does not fit migrations/citus/distribution-plan.json');
      expect(refusal?.detail?.split('\n')).toEqual(problems.map((p) => `${p.kind} ${p.table_name}: ${p.detail}`));
    }
  });

  it('catches each kind of problem in a schema made to break the rules', async () => {
    await client.query('BEGIN');
    try {
      await client.query(`
        CREATE TABLE citus_probe_unplanned (x int);
        CREATE TABLE citus_probe_local (id int PRIMARY KEY);
        CREATE TABLE citus_probe_reference (id int PRIMARY KEY);
        CREATE TABLE citus_probe_sharded (tenant_id uuid NOT NULL, id int, other int, ref int REFERENCES citus_probe_reference (id),
                                          PRIMARY KEY (tenant_id, id), UNIQUE (id) INCLUDE (tenant_id));
        CREATE TABLE citus_probe_no_tenant (tenant_id uuid, id int REFERENCES citus_probe_local (id));
        CREATE TABLE citus_probe_cross (tenant_id uuid NOT NULL, other int,
                                        FOREIGN KEY (tenant_id, other) REFERENCES citus_probe_sharded (tenant_id, id));
        CREATE TABLE citus_probe_wrong_pair (tenant_id uuid NOT NULL, id int, other uuid,
                                             FOREIGN KEY (other, id) REFERENCES citus_probe_sharded (tenant_id, id));
        CREATE TABLE citus_probe_nested (tenant_id uuid NOT NULL, at date) PARTITION BY RANGE (at);
        CREATE TABLE citus_probe_nested_2026 PARTITION OF citus_probe_nested FOR VALUES FROM ('2026-01-01') TO ('2027-01-01') PARTITION BY LIST (tenant_id);
        CREATE TABLE citus_probe_back (id int REFERENCES citus_probe_local (id), t uuid, s int, FOREIGN KEY (t, s) REFERENCES citus_probe_sharded (tenant_id, id));
        CREATE FUNCTION citus_probe_noop() RETURNS trigger LANGUAGE plpgsql AS 'BEGIN RETURN NULL; END';
        CREATE TRIGGER citus_probe_deltas AFTER INSERT ON citus_probe_sharded REFERENCING NEW TABLE AS added
          FOR EACH STATEMENT EXECUTE FUNCTION citus_probe_noop();
      `);
      const probePlan = parseDistributionPlan(JSON.stringify({
        distributionColumn: plan.distributionColumn,
        colocateWith: plan.colocateWith,
        tables: {
          ...Object.fromEntries(Object.entries(plan.tables).map(([name, t]) => [name, [t.plan, t.why]])),
          citus_probe_gone: ['distributed', 'a table that does not exist'],
          citus_probe_local: ['local', 'probe'],
          citus_probe_reference: ['reference', 'probe'],
          citus_probe_sharded: ['distributed', 'probe'],
          citus_probe_no_tenant: ['distributed', 'probe'],
          citus_probe_cross: ['distributed', 'probe'],
          citus_probe_wrong_pair: ['distributed', 'probe'],
          citus_probe_nested: ['distributed', 'probe'],
          citus_probe_back: ['reference', 'probe'],
        },
      }));
      const found = (await problemsOf(client, probePlan))
        .filter((p) => p.table_name.startsWith('citus_probe'))
        .map((p) => [p.kind, p.table_name, p.detail.replace(/^[a-z_]+ references /, 'references ')]);
      expect(found).toEqual([
        ['foreign_key', 'citus_probe_back', 'references citus_probe_sharded'],
        ['foreign_key', 'citus_probe_no_tenant', 'references citus_probe_local'],
        ['foreign_key', 'citus_probe_wrong_pair', 'references citus_probe_sharded'],
        ['missing', 'citus_probe_gone', 'the plan names a table that does not exist'],
        ['nested_partitions', 'citus_probe_nested', 'citus_probe_nested_2026'],
        ['no_tenant_column', 'citus_probe_no_tenant', 'no NOT NULL column tenant_id'],
        ['transition_trigger', 'citus_probe_sharded', 'citus_probe_deltas'],
        ['unclassified', 'citus_probe_unplanned', 'no plan names this table'],
        ['unique_without_tenant', 'citus_probe_sharded', 'citus_probe_sharded_id_tenant_id_key'],
      ]);
    } finally {
      await client.query('ROLLBACK');
    }
  });

  it('refuses a plan entry that is not [plan, reason], naming the table', () => {
    const bad = (tables: Record<string, unknown>) => () => parseDistributionPlan(JSON.stringify({ distributionColumn: 'tenant_id', colocateWith: 'a', tables }), 'plan.json');
    expect(bad({ a: ['distributed', 'x'], b: ['sharded', 'x'] })).toThrow(/tables\.b must be/);
    expect(bad({ a: ['distributed', ''] })).toThrow(/tables\.a must be/);
    expect(bad({ a: ['local', 'x'] })).toThrow(/colocateWith must name a distributed table/);
  });
});
