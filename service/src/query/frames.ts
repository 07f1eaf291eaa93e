// Grafana data frames in JSON (the shape /api/ds/query returns), built column by column.
// Field names are the contract with the dashboards: they pick fields by these names
// (dashboards/README.md), so rename a field only together with every dashboard using it.
import type { DataFrameJSON, FieldConfig, FieldSchema, FieldType } from '../contract/query';

export interface Column {
  name: string;
  type: FieldType;
  values: unknown[];
  config?: FieldConfig;
  labels?: Record<string, string>;
}

export interface FrameOptions {
  name?: string;
  refId: string;
  preferredVisualisationType?: 'graph' | 'table' | 'logs' | 'trace' | 'nodeGraph';
  notices?: Array<{ severity: 'info' | 'warning' | 'error'; text: string }>;
  custom?: Record<string, unknown>;
}

export function frame(options: FrameOptions, columns: Column[]): DataFrameJSON {
  const length = columns[0]?.values.length ?? 0;
  for (const column of columns) {
    if (column.values.length !== length) throw new Error(`frame ${options.name ?? ''}: field ${column.name} has ${column.values.length} values, expected ${length}`);
  }
  const meta: NonNullable<DataFrameJSON['schema']['meta']> = {};
  if (options.preferredVisualisationType) meta.preferredVisualisationType = options.preferredVisualisationType;
  if (options.notices?.length) meta.notices = options.notices;
  if (options.custom) meta.custom = options.custom;
  return {
    schema: {
      ...(options.name ? { name: options.name } : {}),
      refId: options.refId,
      ...(Object.keys(meta).length ? { meta } : {}),
      fields: columns.map((c): FieldSchema => ({
        name: c.name,
        type: c.type,
        config: c.config ?? {},
        ...(c.labels ? { labels: c.labels } : {}),
      })),
    },
    data: { values: columns.map((c) => c.values) },
  };
}

// Column helpers: name, values, and the config every panel would otherwise repeat.
export const timeColumn = (name: string, values: Array<Date | number | null>, config: FieldConfig = {}): Column => ({
  name,
  type: 'time',
  values: values.map((v) => (v instanceof Date ? v.getTime() : v)),
  config,
});

/**
 * The time field of a series with a fixed step: Grafana learns the step from
 * config.interval. The frames of one series share `times` itself (not a copy), so that
 * the answer writes it once (src/http/responseBytes.ts).
 */
export const stepTimeColumn = (times: number[], stepMs: number): Column => ({ name: 'time', type: 'time', values: times, config: { interval: stepMs } });

export const numberColumn = (name: string, values: Array<number | null>, config: FieldConfig = {}, labels?: Record<string, string>): Column => ({
  name,
  type: 'number',
  values: values.map((v) => (v === null || v === undefined || !Number.isFinite(v) ? null : v)),
  config,
  ...(labels ? { labels } : {}),
});

export const stringColumn = (name: string, values: Array<string | null>, config: FieldConfig = {}): Column => ({ name, type: 'string', values, config });

export const booleanColumn = (name: string, values: Array<boolean | null>, config: FieldConfig = {}): Column => ({ name, type: 'boolean', values, config });

export const otherColumn = (name: string, values: unknown[], config: FieldConfig = {}): Column => ({ name, type: 'other', values, config });

/** Milliseconds, with the given display name. */
export const ms = (displayName: string, decimals = 1): FieldConfig => ({ unit: 'ms', displayName, decimals });

/** The seed's health thresholds: below 60 critical, below 80 degraded. */
export const HEALTH_GOOD = 80;
export const HEALTH_CRITICAL = 60;
export const healthConfig: FieldConfig = {
  unit: 'none',
  displayName: 'Health score',
  decimals: 1,
  min: 0,
  max: 100,
  thresholds: {
    mode: 'absolute',
    steps: [
      { value: null, color: 'red' },
      { value: HEALTH_CRITICAL, color: 'orange' },
      { value: HEALTH_GOOD, color: 'green' },
    ],
  },
};

/** A ratio 0..1 shown as a percentage. */
export const ratio = (displayName: string): FieldConfig => ({ unit: 'percentunit', displayName, decimals: 2, min: 0 });
