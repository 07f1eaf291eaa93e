// Missing index: a slow fingerprint whose generic plan scans a large application table
// sequentially with a selective filter. Suggests a b-tree index on the filtered columns
// (equality columns first, then one range column).
//
// Proof, PoWA's method: with hypopg installed, the same query is planned again with a
// hypothetical index; the finding reports both costs and the estimated improvement, and
// is dropped when the planner would not use the index. Without hypopg, the finding says
// the gain could not be proven.
import { parseSync } from 'libpg-query';
import type { Pool } from 'pg';
import { explainGenericPlan, ExplainError, hypopgInstalled } from '../../db/explainPlan';
import { tableForAdvice } from '../../db/monitoredSchema';
import { slowFingerprints, type SlowFingerprint } from '../../db/optimizerWindow';
import { hashToHex, loadParser } from '../../ingest/fingerprint';
import type { Detector, DetectorContext } from '../detector';
import { windowEvidence } from '../detector';
import { filterColumns, indexesUsed, sequentialScans, suggestedIndexColumns } from '../planAnalysis';
import type { Finding } from '../recommendation';
import { round } from '../recommendation';
import { quoteIdent } from '../sqlText';

/** Fingerprints examined per tenant and run: the ones with the most time in slow calls. */
const CANDIDATES_PER_TENANT = 10;
/** Distinct query texts planned per run, to bound the work of one run. */
const MAX_PLANS_PER_RUN = 30;
/** A filter keeps at most this share of the table's rows to count as selective. */
export const MAX_SELECTIVITY = 0.05;
/** A proven improvement must be at least this share of the plan's cost. */
const MIN_PROVEN_IMPROVEMENT = 0.1;

export const PROOF_NOT_POSSIBLE =
  'The estimated gain could not be proven: the hypopg extension is not installed in this database (CREATE EXTENSION hypopg), so no plan with a hypothetical index was compared.';

/** Why a text cannot be explained, or null when it is one SELECT, UPDATE or DELETE. */
export function unexplainableReason(text: string): string | null {
  if (text.endsWith('…')) return 'the stored preview is cut off at 500 characters';
  let parsed: ReturnType<typeof parseSync>;
  try {
    parsed = parseSync(text);
  } catch {
    return 'the text does not parse as PostgreSQL';
  }
  if (parsed.stmts?.length !== 1) return 'the text holds more than one statement';
  const stmt = parsed.stmts[0]!.stmt as Record<string, { intoClause?: unknown } | undefined>;
  if (stmt.SelectStmt && !stmt.SelectStmt.intoClause) return null;
  if (stmt.UpdateStmt || stmt.DeleteStmt) return null;
  return 'only SELECT, UPDATE and DELETE are planned';
}


function indexName(table: string, columns: string[]): string {
  return `${table}_${columns.join('_')}_idx`.replace(/[^A-Za-z0-9_]/g, '_').slice(0, 63);
}

interface Advice {
  table: string;
  columns: string[];
  rowEstimate: number;
  planRows: number;
  filter: string;
  costBefore: number;
  proof: Record<string, unknown>;
}

async function adviseOn(ctx: DetectorContext, pool: Pool, text: string, hypopg: boolean): Promise<Advice[]> {
  const schema = ctx.settings.monitoredSchema;
  const before = await explainGenericPlan(pool, text, { schema });
  const advice: Advice[] = [];
  for (const scan of sequentialScans(before.plan)) {
    if (scan.schema && scan.schema !== schema) continue;
    const table = await tableForAdvice(pool, schema, scan.table);
    if (!table || table.rowEstimate < ctx.settings.missingIndexMinRows) continue;
    if (scan.planRows / table.rowEstimate > MAX_SELECTIVITY) continue;
    const columns = suggestedIndexColumns(filterColumns(scan.filter, new Set(table.columns)));
    if (columns.length === 0) continue;
    // An index already leading with the column, and still a sequential scan: another
    // index would not change the planner's mind.
    if (table.indexes.some((keys) => keys[0] === columns[0])) continue;
    const target = `${quoteIdent(schema)}.${quoteIdent(scan.table)} (${columns.map(quoteIdent).join(', ')})`;
    let proof: Record<string, unknown>;
    if (hypopg) {
      const after = await explainGenericPlan(pool, text, { schema, hypotheticalIndex: `CREATE INDEX ON ${target}` });
      const used = indexesUsed(after.plan).some((name) => name.includes('btree_'));
      const improvement = before.totalCost > 0 ? 1 - after.totalCost / before.totalCost : 0;
      if (!used || improvement < MIN_PROVEN_IMPROVEMENT) continue;
      proof = {
        method: 'hypopg',
        proven: true,
        costBefore: round(before.totalCost, 2),
        costWithIndex: round(after.totalCost, 2),
        estimatedImprovementPercent: round(100 * improvement, 1),
        text: `With a hypothetical index the planner uses it and the estimated cost falls from ${round(before.totalCost, 2)} to ${round(after.totalCost, 2)} (${round(100 * improvement, 1)} % less).`,
      };
    } else {
      proof = { method: 'hypopg', proven: false, costBefore: round(before.totalCost, 2), text: PROOF_NOT_POSSIBLE };
    }
    advice.push({ table: scan.table, columns, rowEstimate: table.rowEstimate, planRows: scan.planRows, filter: scan.filter, costBefore: before.totalCost, proof });
  }
  return advice;
}

export const missingIndexDetector: Detector = {
  name: 'missing index',
  kinds: ['missingIndex'],
  async detect(ctx) {
    await loadParser();
    const candidates = await slowFingerprints(ctx.pool, ctx.window, CANDIDATES_PER_TENANT);
    // A statement collected from a monitored database is planned there (with hypopg when
    // that database has it); any other in the service's own database.
    const plans = new Map<string, { pool: Pool; text: string; fingerprints: SlowFingerprint[] }>();
    const poolIds = new Map<Pool, number>();
    for (const c of candidates) {
      if (unexplainableReason(c.preview) !== null) continue;
      const pool = (c.collected ? ctx.monitoredDatabase?.(c.tenantId) : undefined) ?? ctx.pool;
      if (!poolIds.has(pool)) poolIds.set(pool, poolIds.size);
      const key = `${poolIds.get(pool)} ${c.preview}`;
      const plan = plans.get(key) ?? { pool, text: c.preview, fingerprints: [] };
      plan.fingerprints.push(c);
      plans.set(key, plan);
    }
    const hypopgIn = new Map<Pool, boolean>();
    const findings: Finding[] = [];
    for (const { pool, text, fingerprints } of [...plans.values()].slice(0, MAX_PLANS_PER_RUN)) {
      let advice: Advice[];
      try {
        if (!hypopgIn.has(pool)) hypopgIn.set(pool, await hypopgInstalled(pool));
        advice = await adviseOn(ctx, pool, text, hypopgIn.get(pool)!);
      } catch (err) {
        // A query of another schema or database, or one that needs types the planner
        // cannot infer: nothing to advise on, and no reason to fail the run.
        if (err instanceof ExplainError) continue;
        // A monitored database whose collector login may not read the table (no
        // pg_read_all_data): no advice on its statements (docs/collector.md).
        if ((err as { code?: string }).code === '42501') continue;
        throw err;
      }
      for (const a of advice) {
        const schema = ctx.settings.monitoredSchema;
        const name = indexName(a.table, a.columns);
        const statement = `CREATE INDEX CONCURRENTLY ${quoteIdent(name)} ON ${quoteIdent(schema)}.${quoteIdent(a.table)} (${a.columns.map(quoteIdent).join(', ')});`;
        for (const f of fingerprints) {
          const avgMs = f.totalMs / f.calls;
          findings.push({
            tenantId: f.tenantId,
            kind: 'missingIndex',
            subject: `${schema}.${a.table}(${a.columns.join(',')})`,
            severity: f.slowCalls > 100 ? 'critical' : 'warning',
            title: `Missing index on ${a.table} (${a.columns.join(', ')}): a query scans ~${Math.round(a.rowEstimate)} rows to keep ~${Math.round(a.planRows)}`,
            evidence: {
              queryHash: hashToHex(f.queryHash),
              query: text,
              table: `${schema}.${a.table}`,
              columns: a.columns,
              planNode: 'Seq Scan',
              filter: a.filter,
              tableRowsEstimate: Math.round(a.rowEstimate),
              rowsKeptEstimate: Math.round(a.planRows),
              selectivity: round(a.planRows / a.rowEstimate, 6),
              calls: f.calls,
              slowCalls: f.slowCalls,
              avgMs: round(avgMs, 1),
              maxMs: round(f.maxMs, 1),
              totalMs: round(f.totalMs, 0),
              window: windowEvidence(ctx.window),
              proof: a.proof,
            },
            action: statement,
            queryHash: f.queryHash,
            tableName: `${schema}.${a.table}`,
          });
        }
      }
    }
    return findings;
  },
};
