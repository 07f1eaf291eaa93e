// The Citus distribution plan: which table of the public schema becomes a distributed,
// reference or local table (migrations/citus/distribution-plan.json), the catalog checks
// that a schema must pass before it is distributed, and the script that does it
// (migrations/citus/distribute.sql, generated here: npm run citus:script -w service).
// service/test/citus.distributionPlan.test.ts runs the checks on the migrated schema and
// fails when the checked-in script differs from what this file generates. docs/scaling.md
// explains the plan.
import { readFileSync } from 'node:fs';
import path from 'node:path';

export const CITUS_DIR = path.resolve(__dirname, '../../../migrations/citus');
export const PLAN_FILE = path.join(CITUS_DIR, 'distribution-plan.json');
export const DISTRIBUTE_SCRIPT = path.join(CITUS_DIR, 'distribute.sql');

export type TablePlan = 'distributed' | 'reference' | 'local';
export const TABLE_PLANS: readonly TablePlan[] = ['distributed', 'reference', 'local'];

export interface DistributionPlan {
  distributionColumn: string;
  /** The first distributed table; every other one is co-located with it. */
  colocateWith: string;
  tables: Record<string, { plan: TablePlan; why: string }>;
}

export class DistributionPlanError extends Error {
  override name = 'DistributionPlanError';
}

export function parseDistributionPlan(text: string, file = PLAN_FILE): DistributionPlan {
  const raw = JSON.parse(text) as { distributionColumn?: unknown; colocateWith?: unknown; tables?: Record<string, unknown> };
  const where = path.relative(process.cwd(), file);
  if (typeof raw.distributionColumn !== 'string' || !/^[a-z_][a-z0-9_]*$/.test(raw.distributionColumn)) {
    throw new DistributionPlanError(`${where}: distributionColumn must be a column name`);
  }
  const tables: DistributionPlan['tables'] = {};
  for (const [name, entry] of Object.entries(raw.tables ?? {})) {
    if (!/^[a-z_][a-z0-9_]*$/.test(name)) throw new DistributionPlanError(`${where}: tables.${name}: not a plain table name`);
    if (!Array.isArray(entry) || entry.length !== 2 || !TABLE_PLANS.includes(entry[0]) || typeof entry[1] !== 'string' || entry[1].trim() === '') {
      throw new DistributionPlanError(`${where}: tables.${name} must be ["distributed" | "reference" | "local", "<reason>"]`);
    }
    tables[name] = { plan: entry[0] as TablePlan, why: entry[1] };
  }
  if (typeof raw.colocateWith !== 'string' || tables[raw.colocateWith]?.plan !== 'distributed') {
    throw new DistributionPlanError(`${where}: colocateWith must name a distributed table of the plan`);
  }
  return { distributionColumn: raw.distributionColumn, colocateWith: raw.colocateWith, tables };
}

export function readDistributionPlan(file = PLAN_FILE): DistributionPlan {
  return parseDistributionPlan(readFileSync(file, 'utf8'), file);
}

export function tablesWithPlan(plan: DistributionPlan, which: TablePlan): string[] {
  return Object.entries(plan.tables).filter(([, t]) => t.plan === which).map(([name]) => name).sort();
}

const literal = (text: string) => `'${text.replace(/'/g, "''")}'`;

/** The plan as a temporary table, which the catalog checks and the script read. */
export function planTableSql(plan: DistributionPlan): string {
  const rows = Object.entries(plan.tables).map(([name, t]) => `  (${literal(name)}, ${literal(t.plan)})`);
  return `CREATE TEMPORARY TABLE citus_distribution_plan (table_name, plan) AS VALUES\n${rows.join(',\n')}`;
}

/**
 * One row per problem (kind, table_name, detail) of the current database against the plan
 * in pg_temp.citus_distribution_plan; none means the schema can be distributed as planned.
 * Generic catalog queries: no table is named here.
 *   unclassified     a table of the public schema (not a partition) that the plan omits
 *   missing          a table the plan names that does not exist
 *   no_tenant_column a distributed table without a NOT NULL distribution column
 *   unique_without_tenant  a primary key or unique index of a distributed table whose key
 *                    columns leave out the distribution column (Citus cannot enforce it)
 *   foreign_key      a foreign key from a distributed table to a table that is neither a
 *                    reference table nor a distributed table joined on the distribution
 *                    column, or from a reference table to a distributed one
 *   nested_partitions a partition of a distributed table that is partitioned itself
 *   transition_trigger a trigger with transition tables on a distributed table (Citus does
 *                    not run them)
 */
export function catalogChecksSql(plan: DistributionPlan): string {
  const column = literal(plan.distributionColumn);
  return `WITH plan AS (
  SELECT table_name::text AS table_name, plan::text AS plan FROM pg_temp.citus_distribution_plan
), tables AS (
  SELECT c.oid, c.relname::text AS relname
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
   WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND NOT c.relispartition
), planned AS (
  SELECT t.oid, t.relname, p.plan FROM tables t JOIN plan p ON p.table_name = t.relname
), distributed AS (
  SELECT oid, relname FROM planned WHERE plan = 'distributed'
), tenant_column AS (
  SELECT a.attrelid, a.attnum, a.attnotnull FROM pg_attribute a
   WHERE a.attname = ${column} AND a.attnum > 0 AND NOT a.attisdropped
)
SELECT 'unclassified' AS kind, t.relname AS table_name, 'no plan names this table' AS detail
  FROM tables t WHERE NOT EXISTS (SELECT 1 FROM plan p WHERE p.table_name = t.relname)
UNION ALL
SELECT 'missing', p.table_name, 'the plan names a table that does not exist'
  FROM plan p WHERE NOT EXISTS (SELECT 1 FROM tables t WHERE t.relname = p.table_name)
UNION ALL
SELECT 'no_tenant_column', d.relname, 'no NOT NULL column ' || ${column}
  FROM distributed d
 WHERE NOT EXISTS (SELECT 1 FROM tenant_column tc WHERE tc.attrelid = d.oid AND tc.attnotnull)
UNION ALL
SELECT 'unique_without_tenant', d.relname, i.indexrelid::regclass::text
  FROM distributed d JOIN pg_index i ON i.indrelid = d.oid
 WHERE i.indisunique
   AND NOT EXISTS (SELECT 1 FROM tenant_column tc
                    WHERE tc.attrelid = d.oid AND tc.attnum = ANY ((i.indkey::int2[])[0:i.indnkeyatts - 1]))
UNION ALL
SELECT 'foreign_key', src.relname, con.conname || ' references ' || con.confrelid::regclass::text
  FROM pg_constraint con
  JOIN planned src ON src.oid = con.conrelid
  LEFT JOIN planned dst ON dst.oid = con.confrelid
 WHERE con.contype = 'f'
   AND ((src.plan = 'distributed'
         AND coalesce(dst.plan, 'local') <> 'reference'
         AND NOT (dst.plan = 'distributed' AND EXISTS (
               SELECT 1 FROM unnest(con.conkey, con.confkey) AS k(src_col, dst_col)
                 JOIN tenant_column s ON s.attrelid = con.conrelid AND s.attnum = k.src_col
                 JOIN tenant_column r ON r.attrelid = con.confrelid AND r.attnum = k.dst_col)))
     OR (src.plan = 'reference' AND dst.plan = 'distributed'))
UNION ALL
SELECT 'nested_partitions', d.relname, inh.inhrelid::regclass::text
  FROM distributed d
  JOIN pg_inherits inh ON inh.inhparent = d.oid
  JOIN pg_class part ON part.oid = inh.inhrelid
 WHERE part.relkind = 'p'
UNION ALL
SELECT 'transition_trigger', d.relname, tg.tgname::text
  FROM distributed d JOIN pg_trigger tg ON tg.tgrelid = d.oid
 WHERE NOT tg.tgisinternal AND (tg.tgoldtable IS NOT NULL OR tg.tgnewtable IS NOT NULL)
ORDER BY 1, 2, 3`;
}

function indent(text: string, by: string): string {
  return text.split('\n').map((line) => (line ? by + line : line)).join('\n');
}

/** migrations/citus/distribute.sql for this plan. */
export function renderDistributeScript(plan: DistributionPlan): string {
  const lines: string[] = [];
  const comment = (text = '') => lines.push(text ? `-- ${text}` : '--');
  comment('Generated from migrations/citus/distribution-plan.json by `npm run citus:script -w service`;');
  comment('edit the plan, not this file (service/test/citus.distributionPlan.test.ts compares them).');
  comment();
  comment('Turns a migrated single-node schema into a distributed one on Citus. Run it on the');
  comment('coordinator, as a superuser, after `agog-perf migrate` and after the workers were added');
  comment('(citus_add_node), with psql -v ON_ERROR_STOP=1. It can run again: tables that are');
  comment('already Citus tables are skipped. docs/scaling.md explains the plan.');
  comment();
  comment(`Distributed by ${plan.distributionColumn}, co-located with ${plan.colocateWith}:`);
  for (const name of tablesWithPlan(plan, 'distributed')) comment(`  ${name}: ${plan.tables[name]!.why}`);
  comment('Reference tables (a copy on every node):');
  for (const name of tablesWithPlan(plan, 'reference')) comment(`  ${name}: ${plan.tables[name]!.why}`);
  comment('Local tables (on the coordinator only):');
  for (const name of tablesWithPlan(plan, 'local')) comment(`  ${name}: ${plan.tables[name]!.why}`);
  lines.push('');
  comment('1. The plan.');
  lines.push(`${planTableSql(plan)};`, '');
  comment('2. Refuse, naming every problem, a schema the plan does not fit (the same checks as the');
  comment('   test, on plain PostgreSQL: see catalogChecksSql in service/src/db/citusPlan.ts).');
  lines.push('DO $check$');
  lines.push('DECLARE');
  lines.push('  problems text;');
  lines.push('BEGIN');
  lines.push("  SELECT string_agg(format('%s %s: %s', kind, table_name, detail), E'\\n') INTO problems FROM (");
  lines.push(indent(catalogChecksSql(plan), '    '));
  lines.push('  ) AS checks;');
  lines.push('  IF problems IS NOT NULL THEN');
  lines.push("    RAISE EXCEPTION 'this schema does not fit migrations/citus/distribution-plan.json'");
  lines.push("      USING DETAIL = problems, HINT = 'see docs/scaling.md';");
  lines.push('  END IF;');
  lines.push('END');
  lines.push('$check$;', '');
  comment('3. Distribute: reference tables first, then every distributed table co-located.');
  lines.push('CREATE EXTENSION IF NOT EXISTS citus;', '');
  lines.push('DO $distribute$');
  lines.push('DECLARE');
  lines.push('  t record;');
  lines.push('BEGIN');
  lines.push("  FOR t IN SELECT table_name FROM pg_temp.citus_distribution_plan WHERE plan = 'reference' ORDER BY table_name LOOP");
  lines.push("    IF NOT EXISTS (SELECT 1 FROM pg_dist_partition WHERE logicalrelid = format('public.%I', t.table_name)::regclass) THEN");
  lines.push("      PERFORM create_reference_table(format('public.%I', t.table_name));");
  lines.push('    END IF;');
  lines.push('  END LOOP;');
  lines.push("  FOR t IN SELECT table_name FROM pg_temp.citus_distribution_plan WHERE plan = 'distributed'");
  lines.push(`            ORDER BY table_name <> ${literal(plan.colocateWith)}, table_name LOOP`);
  lines.push("    IF NOT EXISTS (SELECT 1 FROM pg_dist_partition WHERE logicalrelid = format('public.%I', t.table_name)::regclass) THEN");
  lines.push(`      PERFORM create_distributed_table(format('public.%I', t.table_name), ${literal(plan.distributionColumn)},`);
  lines.push(`        colocate_with => CASE WHEN t.table_name = ${literal(plan.colocateWith)} THEN 'default' ELSE ${literal(`public.${plan.colocateWith}`)} END);`);
  lines.push('    END IF;');
  lines.push('  END LOOP;');
  lines.push('END');
  lines.push('$distribute$;', '');
  comment('Rows that were in the tables before are copied to the shards and stay in the');
  comment("coordinator's local tables too; after checking the copy, free that space with");
  comment("  SELECT truncate_local_data_after_distributing_table('public.<table>');");
  return `${lines.join('\n')}\n`;
}
