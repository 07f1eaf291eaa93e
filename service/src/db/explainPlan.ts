// EXPLAIN of a monitored application's normalized query, for the missing-index detector.
//
// The monitored tables live in the PostgreSQL database the service connects to (the
// schema MONITORED_SCHEMA, default public). The query text is the normalized preview the
// ingest stored: literals already replaced by $1, $2, ... So it is planned as a generic
// plan, the plan for unknown parameter values, which works alike on PostgreSQL 15 and
// later (EXPLAIN (GENERIC_PLAN) exists only from 16): PREPARE the text, then EXPLAIN
// EXECUTE it with NULL arguments under plan_cache_mode = force_generic_plan, so the
// NULLs never reach the planner.
//
// Safety: this is the one place where SQL text that did not come from this code is sent,
// because PREPARE cannot take its statement as a parameter. The caller has parsed the
// text as exactly one SELECT, UPDATE or DELETE; PREPARE goes through the extended
// protocol, which refuses more than one statement; everything runs in a READ ONLY
// transaction with a statement timeout that is rolled back; EXPLAIN never runs ANALYZE.
// Hypothetical indexes (hypopg) live only in this session and are reset before the
// connection returns to the pool.
import { randomBytes } from 'node:crypto';
import type { Pool } from 'pg';
import type { PlanNode } from '../optimizer/planAnalysis';

const EXPLAIN_TIMEOUT_MS = 5_000;

export interface ExplainedPlan {
  plan: PlanNode;
  totalCost: number;
}

export class ExplainError extends Error {
  override name = 'ExplainError';
}

/** Whether hypopg is installed in this database (CREATE EXTENSION hypopg). */
export async function hypopgInstalled(pool: Pool): Promise<boolean> {
  const result = await pool.query(`SELECT 1 FROM pg_extension WHERE extname = 'hypopg'`);
  return (result.rowCount ?? 0) > 0;
}

/**
 * The generic plan of `statement` with search_path set to the monitored schema, and,
 * when given, with one hypothetical index (a CREATE INDEX statement for hypopg).
 */
export async function explainGenericPlan(
  pool: Pool,
  statement: string,
  { schema, hypotheticalIndex }: { schema: string; hypotheticalIndex?: string },
): Promise<ExplainedPlan> {
  const client = await pool.connect();
  const name = `agog_explain_${randomBytes(6).toString('hex')}`;
  let prepared = false;
  try {
    await client.query(
      `BEGIN READ ONLY; SET LOCAL statement_timeout = ${EXPLAIN_TIMEOUT_MS}; SET LOCAL plan_cache_mode = force_generic_plan;
       SET LOCAL max_parallel_workers_per_gather = 0; SET LOCAL jit = off`,
    );
    await client.query(`SELECT set_config('search_path', quote_ident($1::text) || ', public', true)`, [schema]);
    if (hypotheticalIndex) await client.query('SELECT indexrelid FROM hypopg_create_index($1::text)', [hypotheticalIndex]);
    try {
      await client.query({ text: `PREPARE ${name} AS ${statement}`, queryMode: 'extended' } as never);
      prepared = true;
    } catch (err) {
      throw new ExplainError(`cannot plan the query: ${(err as Error).message}`);
    }
    const types = await client.query<{ n: number }>(
      'SELECT coalesce(cardinality(parameter_types), 0)::int AS n FROM pg_prepared_statements WHERE name = $1::text',
      [name],
    );
    const argumentCount = types.rows[0]?.n ?? 0;
    const args = argumentCount > 0 ? `(${Array.from({ length: argumentCount }, () => 'NULL').join(', ')})` : '';
    const explained = await client.query<{ 'QUERY PLAN': Array<{ Plan: PlanNode }> }>(`EXPLAIN (FORMAT JSON, VERBOSE) EXECUTE ${name}${args}`);
    const plan = explained.rows[0]!['QUERY PLAN'][0]!.Plan;
    return { plan, totalCost: Number(plan['Total Cost'] ?? 0) };
  } finally {
    await client.query('ROLLBACK').catch(() => undefined);
    // Neither survives a rollback on its own: prepared statements and hypopg's indexes are session state.
    if (prepared) await client.query(`DEALLOCATE ${name}`).catch(() => undefined);
    if (hypotheticalIndex) await client.query('SELECT hypopg_reset()').catch(() => undefined);
    client.release();
  }
}
