/**
 * Test doubles for Grafana's runtime services. Only tests import this file.
 */
import { dateTime, DataQueryRequest, ScopedVars, TimeRange } from '@grafana/data';
import { TemplateSrv } from '@grafana/runtime';

import { AgogQuery } from '../types';

type VariableValues = Record<string, string | string[]>;

/**
 * Replaces `$name` and `${name}` like Grafana does, including the custom format
 * function Grafana passes multi-value selections to.
 */
export function fakeTemplateSrv(variables: VariableValues = {}): TemplateSrv {
  const replace = (target?: string, scopedVars?: ScopedVars, format?: string | Function): string => {
    if (target === undefined) {
      return '';
    }
    return target.replace(/\$\{(\w+)\}|\$(\w+)/g, (match, braced?: string, bare?: string) => {
      const name = (braced ?? bare) as string;
      const scoped = scopedVars?.[name]?.value;
      const value = scoped !== undefined ? (scoped as string | string[]) : variables[name];
      if (value === undefined) {
        return match;
      }
      if (typeof format === 'function') {
        return format(value);
      }
      return Array.isArray(value) ? `{${value.join(',')}}` : value;
    });
  };
  return {
    replace,
    getVariables: () => [],
    containsTemplate: (target?: string) => Boolean(target?.includes('$')),
    updateTimeRange: () => {},
  } as unknown as TemplateSrv;
}

export const RANGE_FROM = Date.parse('2026-03-01T00:00:00Z');
export const RANGE_TO = Date.parse('2026-03-02T00:00:00Z');

export function timeRange(from = RANGE_FROM, to = RANGE_TO): TimeRange {
  return { from: dateTime(from), to: dateTime(to), raw: { from: dateTime(from), to: dateTime(to) } };
}

export function queryRequest(
  targets: AgogQuery[],
  overrides: Partial<DataQueryRequest<AgogQuery>> = {}
): DataQueryRequest<AgogQuery> {
  return {
    requestId: 'req-1',
    interval: '1m',
    intervalMs: 60_000,
    maxDataPoints: 1000,
    range: timeRange(),
    scopedVars: {},
    targets,
    timezone: 'utc',
    app: 'dashboard',
    startTime: 0,
    ...overrides,
  };
}
