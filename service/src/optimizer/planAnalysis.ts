// Reading EXPLAIN (FORMAT JSON, VERBOSE) plans for the missing-index detector: which
// relations are scanned sequentially with a filter, and which columns that filter
// compares with a parameter or a constant. Pure functions of the plan text.

export interface PlanNode {
  'Node Type': string;
  'Relation Name'?: string;
  Schema?: string;
  Alias?: string;
  'Plan Rows'?: number;
  'Total Cost'?: number;
  'Index Name'?: string;
  Filter?: string;
  Plans?: PlanNode[];
  [key: string]: unknown;
}

export interface SequentialScan {
  schema: string | null;
  table: string;
  alias: string | null;
  planRows: number;
  filter: string;
}

/** Every Seq Scan with a Filter in the plan tree. */
export function sequentialScans(plan: PlanNode): SequentialScan[] {
  const found: SequentialScan[] = [];
  const visit = (node: PlanNode) => {
    if (node['Node Type'] === 'Seq Scan' && node['Relation Name'] && node.Filter) {
      found.push({
        schema: node.Schema ?? null,
        table: node['Relation Name'],
        alias: node.Alias ?? null,
        planRows: Number(node['Plan Rows'] ?? 0),
        filter: node.Filter,
      });
    }
    for (const child of node.Plans ?? []) visit(child);
  };
  visit(plan);
  return found;
}

/** Names of every index the plan uses (hypopg's hypothetical ones look like "<13556>btree_orders_email"). */
export function indexesUsed(plan: PlanNode): string[] {
  const names: string[] = [];
  const visit = (node: PlanNode) => {
    if (typeof node['Index Name'] === 'string') names.push(node['Index Name']);
    for (const child of node.Plans ?? []) visit(child);
  };
  visit(plan);
  return names;
}

/** Splits "a AND b AND c" at the top level of parentheses. */
function topLevelConjuncts(expression: string): string[] {
  const text = stripOuterParens(expression.trim());
  const parts: string[] = [];
  let depth = 0;
  let inQuote = false;
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === "'") inQuote = !inQuote;
    if (inQuote) continue;
    if (c === '(') depth++;
    else if (c === ')') depth--;
    else if (depth === 0 && text.startsWith(' AND ', i)) {
      parts.push(text.slice(start, i));
      start = i + 5;
      i += 4;
    }
  }
  parts.push(text.slice(start));
  return parts.map((p) => stripOuterParens(p.trim()));
}

/** "((x))" → "x", only when the outer parentheses enclose the whole text. */
function stripOuterParens(text: string): string {
  let t = text;
  while (t.startsWith('(') && t.endsWith(')')) {
    let depth = 0;
    let enclosesAll = true;
    for (let i = 0; i < t.length; i++) {
      if (t[i] === '(') depth++;
      else if (t[i] === ')') depth--;
      if (depth === 0 && i < t.length - 1) {
        enclosesAll = false;
        break;
      }
    }
    if (!enclosesAll) break;
    t = t.slice(1, -1).trim();
  }
  return t;
}

const IDENTIFIER = String.raw`(?:"(?:[^"]|"")+"|[A-Za-z_][A-Za-z0-9_$]*)`;
/** A column, optionally qualified, optionally in parentheses with a cast: (orders.email)::text */
const COLUMN = new RegExp(String.raw`^\(?(?:${IDENTIFIER}\.)*(${IDENTIFIER})\)?(?:::[A-Za-z0-9_ ."\[\]()]+)?$`);
/** A parameter or a constant, possibly cast or inside ANY (...). */
const VALUE = /^(?:ANY\s*\()?\(?(?:\$\d+|'(?:[^']|'')*'|-?\d+(?:\.\d+)?|true|false)\)?(?:::[A-Za-z0-9_ ."[\]()]+)?\)?$/i;
const COMPARISON = /^(.+?)\s+(=|<=|>=|<|>)\s+(.+)$/;

function unquote(identifier: string): string {
  return identifier.startsWith('"') ? identifier.slice(1, -1).replace(/""/g, '"') : identifier;
}

export interface FilterColumns {
  /** Columns compared for equality (= or = ANY), in the order they appear. */
  equality: string[];
  /** Columns compared with <, <=, > or >=. */
  range: string[];
}

/**
 * The columns of `columns` (the scanned table's) that a Filter compares with a
 * parameter or constant. Conditions on expressions (lower(email) = $1), between two
 * columns, or with other operators (LIKE, IS NULL, OR) are left out: a plain b-tree
 * index on the column would not serve them.
 */
export function filterColumns(filter: string, columns: ReadonlySet<string>): FilterColumns {
  const result: FilterColumns = { equality: [], range: [] };
  for (const conjunct of topLevelConjuncts(filter)) {
    if (/\sOR\s/.test(conjunct)) continue;
    const match = COMPARISON.exec(conjunct);
    if (!match) continue;
    const [, left, comparison, right] = match as unknown as [string, string, string, string];
    let operator = comparison;
    let column = COLUMN.exec(left.trim());
    if (!column || !VALUE.test(right.trim())) {
      // The constant may stand on the left: ($1 < created_at).
      column = COLUMN.exec(right.trim());
      if (!column || !VALUE.test(left.trim())) continue;
      operator = ({ '<': '>', '>': '<', '<=': '>=', '>=': '<=' } as Record<string, string>)[operator] ?? operator;
    }
    const name = unquote(column[1]!);
    if (!columns.has(name)) continue;
    const bucket = operator === '=' ? result.equality : result.range;
    if (!bucket.includes(name)) bucket.push(name);
  }
  result.range = result.range.filter((c) => !result.equality.includes(c));
  return result;
}

/** The b-tree key for a filter: equality columns first, then one range column (at most 3 columns). */
export function suggestedIndexColumns(columns: FilterColumns): string[] {
  return [...columns.equality, ...columns.range.slice(0, 1)].slice(0, 3);
}
