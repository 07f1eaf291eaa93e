/**
 * Checks a query before it is run, by the rules of the service's contract
 * (service/src/contract/query.ts). The editor shows the messages next to the
 * fields; the data source skips queries that have any (filterQuery).
 * Values holding template variables are checked by the service after interpolation.
 */
import { tr } from './i18n';
import { AgogQuery, LIMIT, MAX_PERCENTILES, QUERY_HASH_PATTERN } from './types';

export type ValidatedField = 'limit' | 'queryHash' | 'percentiles' | 'tenantId';
export type ValidationErrors = Partial<Record<ValidatedField, string>>;

const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function hasVariable(text: string): boolean {
  return text.includes('$');
}

export function isValidLimit(limit: unknown): boolean {
  return typeof limit === 'number' && Number.isInteger(limit) && limit >= LIMIT.min && limit <= LIMIT.max;
}

export function isValidPercentile(value: unknown): boolean {
  return typeof value === 'number' && Number.isFinite(value) && value > 0 && value < 100;
}

function isValidPercentileList(values: number[]): boolean {
  return values.length > 0 && values.length <= MAX_PERCENTILES && values.every(isValidPercentile);
}

/** Parses "50, 95, 99.9" into numbers; undefined when the list breaks the rules. */
export function parsePercentiles(text: string): number[] | undefined {
  const parts = text
    .split(',')
    .map((part) => part.trim())
    .filter((part) => part !== '');
  const values = parts.map(Number);
  return isValidPercentileList(values) ? values : undefined;
}

export function validateQuery(query: AgogQuery): ValidationErrors {
  const errors: ValidationErrors = {};
  const { queryType } = query;
  if (
    (queryType === 'slowQueries' || queryType === 'endpoints') &&
    query.limit !== undefined &&
    !isValidLimit(query.limit)
  ) {
    errors.limit = tr('validation.limitRange', { min: LIMIT.min, max: LIMIT.max });
  }
  const hash = query.queryHash?.trim() ?? '';
  if (queryType === 'queryDetail' && hash === '') {
    errors.queryHash = tr('validation.queryHashRequired');
  } else if (
    (queryType === 'queryDetail' || queryType === 'recommendations') &&
    hash !== '' &&
    !hasVariable(hash) &&
    !QUERY_HASH_PATTERN.test(hash)
  ) {
    errors.queryHash = tr('validation.queryHashFormat');
  }
  if (
    queryType === 'latencyPercentiles' &&
    query.percentiles !== undefined &&
    !isValidPercentileList(query.percentiles)
  ) {
    errors.percentiles = tr('validation.percentilesInvalid');
  }
  const tenant = query.tenantId?.trim() ?? '';
  if (tenant !== '' && !hasVariable(tenant) && !UUID_PATTERN.test(tenant)) {
    errors.tenantId = tr('validation.tenantFormat');
  }
  return errors;
}

export function isRunnable(query: AgogQuery): boolean {
  return Object.keys(validateQuery(query)).length === 0;
}
