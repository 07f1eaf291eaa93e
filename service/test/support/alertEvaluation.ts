// Evaluates a Grafana-managed alert rule's expressions on the rows its SQL query returned,
// the way Grafana's server-side expressions do for tabular data: each row is one instance,
// its text columns are labels and its one numeric column the value; then the rule's
// reduce (B) and threshold (C) run. Only the expression types our rules use are known:
// anything else fails, so a rule cannot quietly use an expression these tests skip.
import type { AlertQuery, AlertRule } from './bundle';

export interface Instance {
  labels: Record<string, string>;
  value: number | null;
}

export interface Evaluation {
  /** One per instance that reached the condition. */
  instances: Array<Instance & { firing: boolean }>;
  /** Rule state when no instance reached the condition: Grafana applies noDataState. */
  noData: boolean;
  firing: boolean;
}

/** Grafana's conversion of a table frame: exactly one numeric column, text columns as labels. */
export function rowsToInstances(rows: Record<string, unknown>[]): Instance[] {
  const instances: Instance[] = [];
  const seen = new Set<string>();
  for (const row of rows) {
    const labels: Record<string, string> = {};
    const numbers: Array<number | null> = [];
    for (const [column, value] of Object.entries(row)) {
      if (typeof value === 'string') labels[column] = value;
      else if (typeof value === 'number' || value === null) numbers.push(value);
      else throw new Error(`column "${column}" has a ${typeof value} value; alert queries return text labels and one float8 column`);
    }
    if (numbers.length !== 1) throw new Error(`an alert query row needs exactly one numeric column, got ${numbers.length}: ${JSON.stringify(row)}`);
    const key = JSON.stringify(Object.entries(labels).sort());
    if (seen.has(key)) throw new Error(`two rows have the same labels ${key}; Grafana rejects duplicate instances`);
    seen.add(key);
    instances.push({ labels, value: numbers[0]! });
  }
  return instances;
}

function expression(rule: AlertRule, refId: string): AlertQuery {
  const query = rule.data.find((q) => q.refId === refId);
  if (!query) throw new Error(`rule ${rule.uid} has no query ${refId}`);
  return query;
}

function applyReduce(model: Record<string, any>, input: Instance[]): Instance[] {
  if (!['last', 'mean', 'max', 'min', 'sum'].includes(model.reducer)) throw new Error(`reducer ${model.reducer} is not modelled`);
  const mode = model.settings?.mode;
  // On tabular input every instance is one number already: the reducer is a no-op,
  // and the mode decides what happens to NULL.
  if (mode === 'dropNN') return input.filter((i) => i.value !== null && Number.isFinite(i.value));
  if (mode === 'replaceNN') return input.map((i) => (i.value === null || !Number.isFinite(i.value) ? { ...i, value: model.settings.replaceWithValue } : i));
  if (mode === undefined || mode === '') return input;
  throw new Error(`reduce mode ${mode} is not modelled`);
}

function compare(type: string, params: number[], value: number): boolean {
  const [a, b] = params as [number, number];
  switch (type) {
    case 'gt': return value > a;
    case 'lt': return value < a;
    case 'gte': return value >= a;
    case 'lte': return value <= a;
    case 'within_range': return value > a && value < b;
    case 'outside_range': return value < a || value > b;
    default: throw new Error(`threshold type ${type} is not modelled`);
  }
}

/** The threshold of the rule's condition: type and parameters. */
export function thresholdOf(rule: AlertRule): { type: string; params: number[] } {
  const condition = expression(rule, rule.condition).model;
  if (condition.type !== 'threshold') throw new Error(`rule ${rule.uid}: condition ${rule.condition} is ${condition.type}, not a threshold`);
  const evaluator = condition.conditions?.[0]?.evaluator;
  if (!evaluator) throw new Error(`rule ${rule.uid}: threshold has no evaluator`);
  return { type: evaluator.type, params: evaluator.params };
}

/** Runs the expressions after the SQL query (refId A) on its rows. */
export function evaluateRule(rule: AlertRule, rows: Record<string, unknown>[]): Evaluation {
  const results = new Map<string, Instance[]>();
  for (const query of rule.data) {
    if (query.datasourceUid !== '__expr__') {
      results.set(query.refId, rowsToInstances(rows));
      continue;
    }
    const input = results.get(String(query.model.expression).replace(/^\$/, ''));
    if (!input) throw new Error(`rule ${rule.uid}: ${query.refId} reads ${query.model.expression}, which comes later or does not exist`);
    if (query.model.type === 'reduce') {
      results.set(query.refId, applyReduce(query.model, input));
    } else if (query.model.type === 'threshold') {
      const { type, params } = query.model.conditions[0].evaluator;
      results.set(query.refId, input.map((i) => ({ ...i, value: i.value !== null && compare(type, params, i.value) ? 1 : 0 })));
    } else {
      throw new Error(`rule ${rule.uid}: expression type ${query.model.type} is not modelled`);
    }
  }
  const condition = results.get(rule.condition) ?? [];
  const reducedRef = expression(rule, rule.condition).model.expression;
  const values = results.get(reducedRef) ?? [];
  const instances = condition.map((c, index) => ({ labels: c.labels, value: values[index]?.value ?? null, firing: c.value === 1 }));
  const noData = instances.length === 0;
  const firing = noData ? rule.noDataState === 'Alerting' : instances.some((i) => i.firing);
  return { instances, noData, firing };
}
