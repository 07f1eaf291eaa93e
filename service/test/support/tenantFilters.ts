// Whether a SQL statement could run on one Citus shard group: every reference to a
// distributed table must be pinned to one tenant by an equality on tenant_id, written in
// the statement itself. Row-level security does not count: Citus prunes shards from the
// statement's own filters, not from a policy's current_setting() (docs/scaling.md,
// "Router-executable statements"). Statements are parsed with PostgreSQL's own parser
// (libpg-query) and their parse trees walked, one query level at a time:
//   - SELECT, UPDATE, DELETE: each distributed table in FROM / USING / the target must be
//     pinned by a conjunct of WHERE or of a JOIN's ON (not under OR or NOT) of the form
//     `<table or alias>.tenant_id = <parameter or constant>` (a cast allowed), or by
//     `a.tenant_id = b.tenant_id` with b pinned, at this level or an enclosing one;
//     an unqualified tenant_id belongs to the level's only distributed table;
//   - subqueries, CTEs and set operations are levels of their own;
//   - INSERT and COPY FROM into a distributed table must supply tenant_id (Citus routes
//     each row by it);
//   - a call of a function whose body names a distributed table runs that body on the
//     coordinator across shards, and is reported as such.

import { parseSync } from 'libpg-query';

type Node = Record<string, any>;

export interface TenantFilterContext {
  /** Distributed tables, and each partition of one mapped to it. */
  distributed: Map<string, string>;
  /** Functions (lower-case names) whose bodies name a distributed table. */
  functionsOverTenantTables: Set<string>;
  /** The distribution column. */
  column: string;
}

interface Relation { table: string; alias: string }
interface Level { relations: Relation[]; pinned: Set<string> }

const unwrap = (node: Node | undefined): [string, any] | undefined => (node ? (Object.entries(node)[0] as [string, any]) : undefined);

function columnRef(node: Node | undefined): string[] | undefined {
  const [type, value] = unwrap(node) ?? [];
  if (type !== 'ColumnRef') return undefined;
  return (value.fields as Node[]).map((f) => f.String?.sval ?? '*');
}

function isPinnedValue(node: Node | undefined): boolean {
  const [type, value] = unwrap(node) ?? [];
  if (type === 'ParamRef' || type === 'A_Const') return true;
  if (type === 'TypeCast') return isPinnedValue(value.arg);
  return false;
}

/** Top-level conjuncts of a qualification (AND only). */
function conjuncts(node: Node | undefined): Node[] {
  const [type, value] = unwrap(node) ?? [];
  if (!type) return [];
  if (type === 'BoolExpr' && value.boolop === 'AND_EXPR') return (value.args as Node[]).flatMap(conjuncts);
  return [node!];
}

export class TenantFilterCheck {
  readonly problems: string[] = [];
  constructor(private readonly ctx: TenantFilterContext) {}

  private distributedName(rangeVar: Node): string | undefined {
    if (rangeVar.schemaname && rangeVar.schemaname !== 'public') return undefined;
    return this.ctx.distributed.get(rangeVar.relname);
  }

  /** Walks any node; query-level nodes open a level of their own. */
  walk(node: unknown, outer: Level[]): void {
    if (Array.isArray(node)) {
      for (const item of node) this.walk(item, outer);
      return;
    }
    if (!node || typeof node !== 'object') return;
    for (const [type, value] of Object.entries(node as Node)) {
      switch (type) {
        case 'SelectStmt':
          this.select(value, outer);
          break;
        case 'UpdateStmt':
        case 'DeleteStmt':
          this.modify(type, value, outer);
          break;
        case 'InsertStmt':
          this.insert(value, outer);
          break;
        case 'CopyStmt':
          this.copy(value, outer);
          break;
        case 'FuncCall': {
          const name = (value.funcname as Node[]).map((n) => n.String?.sval).at(-1)?.toLowerCase();
          if (name && this.ctx.functionsOverTenantTables.has(name)) this.problems.push(`calls ${name}(), whose body reads or writes distributed tables`);
          this.walk(value.args, outer);
          break;
        }
        default:
          if (value && typeof value === 'object') this.walk(value, outer);
      }
    }
  }

  private relationsOf(from: Node[] | undefined, level: Level, quals: Node[], outer: Level[]): void {
    for (const item of from ?? []) {
      const [type, value] = unwrap(item)!;
      if (type === 'RangeVar') {
        const table = this.distributedName(value);
        if (table) level.relations.push({ table, alias: value.alias?.aliasname ?? value.relname });
      } else if (type === 'JoinExpr') {
        this.relationsOf([value.larg, value.rarg], level, quals, outer);
        if (value.quals) quals.push(value.quals);
      } else if (type === 'RangeSubselect' || type === 'RangeFunction') {
        this.walk(value, outer);
      }
    }
  }

  /** Pins the level's relations from its conjuncts; reports each distributed one left unpinned. */
  private settle(level: Level, quals: Node[], outer: Level[], what: string): void {
    const all = [level, ...outer];
    const resolve = (ref: string[]): { level: Level; alias: string } | undefined => {
      if (ref.length === 2) {
        const found = all.find((l) => l.relations.some((r) => r.alias === ref[0]));
        return found ? { level: found, alias: ref[0]! } : undefined;
      }
      if (ref.length === 1 && level.relations.length === 1) return { level, alias: level.relations[0]!.alias };
      return undefined;
    };
    const equalities = quals.flatMap(conjuncts).flatMap((q) => {
      const [type, value] = unwrap(q)!;
      if (type !== 'A_Expr' || value.kind !== 'AEXPR_OP' || value.name?.[0]?.String?.sval !== '=') return [];
      return [[value.lexpr, value.rexpr] as [Node, Node]];
    });
    const isTenantColumn = (ref: string[] | undefined) => ref !== undefined && ref.at(-1) === this.ctx.column;
    // Constant pins first, then joins on the column until nothing changes.
    for (const [left, right] of equalities) {
      for (const [col, val] of [[left, right], [right, left]] as const) {
        const ref = columnRef(col);
        if (isTenantColumn(ref) && isPinnedValue(val)) {
          const target = resolve(ref!);
          if (target) target.level.pinned.add(target.alias);
        }
      }
    }
    let changed = true;
    while (changed) {
      changed = false;
      for (const [left, right] of equalities) {
        const a = columnRef(left);
        const b = columnRef(right);
        if (!isTenantColumn(a) || !isTenantColumn(b)) continue;
        const ra = resolve(a!);
        const rb = resolve(b!);
        if (!ra || !rb) continue;
        const pa = ra.level.pinned.has(ra.alias);
        const pb = rb.level.pinned.has(rb.alias);
        if (pa !== pb) {
          (pa ? rb : ra).level.pinned.add((pa ? rb : ra).alias);
          changed = true;
        }
      }
    }
    for (const relation of level.relations) {
      if (!level.pinned.has(relation.alias)) {
        this.problems.push(`${what} reads ${relation.table}${relation.alias !== relation.table ? ` (as ${relation.alias})` : ''} without ${this.ctx.column} = <value>`);
      }
    }
  }

  private select(stmt: Node, outer: Level[]): void {
    this.walk(stmt.withClause, outer);
    if (stmt.op && stmt.op !== 'SETOP_NONE') {
      this.walk({ SelectStmt: stmt.larg }, outer);
      this.walk({ SelectStmt: stmt.rarg }, outer);
      return;
    }
    const level: Level = { relations: [], pinned: new Set() };
    const quals: Node[] = stmt.whereClause ? [stmt.whereClause] : [];
    this.relationsOf(stmt.fromClause, level, quals, outer);
    this.settle(level, quals, outer, 'SELECT');
    const inner = [level, ...outer];
    for (const part of [stmt.targetList, stmt.whereClause, stmt.havingClause, stmt.groupClause, stmt.sortClause, stmt.valuesLists]) this.walk(part, inner);
    for (const item of stmt.fromClause ?? []) {
      const [type, value] = unwrap(item)!;
      if (type === 'JoinExpr') this.walk(value.quals, inner);
    }
  }

  private modify(type: string, stmt: Node, outer: Level[]): void {
    this.walk(stmt.withClause, outer);
    const level: Level = { relations: [], pinned: new Set() };
    const quals: Node[] = stmt.whereClause ? [stmt.whereClause] : [];
    this.relationsOf([{ RangeVar: stmt.relation }, ...(stmt.fromClause ?? []), ...(stmt.usingClause ?? [])], level, quals, outer);
    this.settle(level, quals, outer, type === 'UpdateStmt' ? 'UPDATE' : 'DELETE');
    const inner = [level, ...outer];
    for (const part of [stmt.targetList, stmt.whereClause, stmt.returningList]) this.walk(part, inner);
  }

  private supplies(relation: Node, columns: string[] | undefined, what: string): void {
    const table = this.distributedName(relation);
    if (table && columns && columns.length > 0 && !columns.includes(this.ctx.column)) {
      this.problems.push(`${what} ${table} without a ${this.ctx.column} column`);
    }
  }

  private insert(stmt: Node, outer: Level[]): void {
    this.walk(stmt.withClause, outer);
    this.supplies(stmt.relation, (stmt.cols as Node[] | undefined)?.map((c) => c.ResTarget.name), 'INSERT into');
    this.walk(stmt.selectStmt, outer);
    if (stmt.onConflictClause) this.walk([stmt.onConflictClause.targetList, stmt.onConflictClause.whereClause], outer);
    this.walk(stmt.returningList, outer);
  }

  private copy(stmt: Node, outer: Level[]): void {
    if (stmt.query) this.walk(stmt.query, outer);
    else if (stmt.is_from) this.supplies(stmt.relation, (stmt.attlist as Node[] | undefined)?.map((c) => c.String.sval), 'COPY into');
    else if (this.distributedName(stmt.relation)) this.problems.push(`COPY ${stmt.relation.relname} TO reads every shard`);
  }
}

/**
 * Problems of one statement text (several statements allowed); a text the parser rejects
 * is one problem. Call libpg-query's loadModule() once first.
 */
export function tenantFilterProblems(sql: string, ctx: TenantFilterContext): string[] {
  let tree: { stmts?: Array<{ stmt?: Node }> };
  try {
    tree = parseSync(sql);
  } catch (err) {
    return [`does not parse: ${(err as Error).message}`];
  }
  const check = new TenantFilterCheck(ctx);
  for (const { stmt } of tree.stmts ?? []) check.walk(stmt, []);
  return check.problems;
}
