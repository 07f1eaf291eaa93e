/**
 * Turns the service's answer into Grafana data frames that look right in a
 * panel without overrides: every field gets a unit and a readable name.
 * What the service sets in a field's config wins; this file fills the gaps.
 */
import { DataFrame, DataFrameJSON, DataQueryError, Field, FieldType, dataFrameFromJSON } from '@grafana/data';

import { describeResultError } from './errors';
import { isMessageKey, tr } from './i18n';
import { QueryResponseBody, QueryType } from './types';

interface UnitRule {
  pattern: RegExp;
  unit: string;
}

/** Unit by field name, checked in order; names are camelCase or snake_case. */
const UNIT_RULES: UnitRule[] = [
  { pattern: /(Ms|_ms)$/, unit: 'ms' },
  { pattern: /^p\d+(\.\d+)?$/, unit: 'ms' },
  { pattern: /(Percent|_percent)$/, unit: 'percent' },
  { pattern: /(Mb|_mb)$/, unit: 'decmbytes' },
  { pattern: /(Bytes|_bytes)$/, unit: 'bytes' },
  { pattern: /(PerSecond|_per_second)$/, unit: 'reqps' },
  { pattern: /^(health_?[sS]core)$/, unit: 'none' },
];

const UNIT_SUFFIX = /(Ms|_ms|Percent|_percent|Mb|_mb|Bytes|_bytes)$/;

function camelCase(name: string): string {
  return name.replace(/_([a-z0-9])/g, (_, letter: string) => letter.toUpperCase());
}

/** "p95ResponseTimeMs" → "p95 response time"; "active_connections" → "Active connections". */
export function humanize(name: string): string {
  const words = camelCase(name.replace(UNIT_SUFFIX, ''))
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .toLowerCase()
    .trim();
  return /^p\d/.test(words) ? words : words.charAt(0).toUpperCase() + words.slice(1);
}

export function unitFor(name: string): string | undefined {
  return UNIT_RULES.find((rule) => rule.pattern.test(name))?.unit;
}

export function displayNameFor(name: string): string {
  const key = `fields.${camelCase(name)}`;
  return isMessageKey(key) ? tr(key) : humanize(name);
}

function dressField(field: Field): Field {
  const config = { ...field.config };
  // Data sources name fields through displayNameFromDS, leaving displayName to the user.
  if (config.displayName && !config.displayNameFromDS) {
    config.displayNameFromDS = config.displayName;
    delete config.displayName;
  }
  const hasLabels = field.labels && Object.keys(field.labels).length > 0;
  if (!config.displayNameFromDS && !hasLabels && field.type !== FieldType.time) {
    config.displayNameFromDS = displayNameFor(field.name);
  }
  if (config.unit === undefined && field.type === FieldType.number) {
    const unit = unitFor(field.name);
    if (unit) {
      config.unit = unit;
    }
  }
  if (/^health_?[sS]core$/.test(field.name)) {
    config.min = config.min ?? 0;
    config.max = config.max ?? 100;
  }
  return { ...field, config };
}

/**
 * Frames of annotation and variable queries feed Grafana's own mapping, which
 * finds fields such as `text`, `time` and `value` by name: those keep their names.
 */
const UNDRESSED_TYPES: readonly QueryType[] = ['annotations', 'variable'];

export function toDataFrame(json: DataFrameJSON, refId: string, queryType?: QueryType): DataFrame {
  const frame = dataFrameFromJSON(json);
  const dressed = queryType === undefined || !UNDRESSED_TYPES.includes(queryType);
  return { ...frame, refId, fields: dressed ? frame.fields.map(dressField) : frame.fields };
}

export interface ConvertedResponse {
  data: DataFrame[];
  errors: DataQueryError[];
}

/** Frames and per-query errors of one answer, for the queries that were asked. */
export function convertResponse(
  body: QueryResponseBody,
  asked: ReadonlyArray<{ refId: string; queryType: QueryType }>
): ConvertedResponse {
  const data: DataFrame[] = [];
  const errors: DataQueryError[] = [];
  for (const { refId, queryType } of asked) {
    const result = body.results?.[refId];
    if (!result) {
      errors.push({ refId, message: tr('errors.noResult', { refId }) });
      continue;
    }
    if (result.error) {
      errors.push({ refId, message: describeResultError(result.error) });
    }
    for (const frame of result.frames ?? []) {
      data.push(toDataFrame(frame as DataFrameJSON, refId, queryType));
    }
  }
  return { data, errors };
}
