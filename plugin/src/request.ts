/**
 * Turns Grafana's query request into bodies for `POST /v1/query`: template
 * variables are interpolated, the step is chosen, and only the options of each
 * query's type are sent. The body shape is service/src/contract/query.ts.
 */
import { DataQueryRequest, ScopedVars } from '@grafana/data';
import { TemplateSrv } from '@grafana/runtime';

import { migrateQuery } from './migrate';
import { AgogQuery, MAX_QUERIES_PER_REQUEST, QueryRequestBody, SavedOption, WIRE_OPTIONS, WireQuery } from './types';
import { isRunnable } from './validate';

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

/** Steps a person reads easily on an axis; the chosen step is rounded up to one of them. */
const NICE_STEPS_MS = [
  SECOND,
  2 * SECOND,
  5 * SECOND,
  10 * SECOND,
  15 * SECOND,
  30 * SECOND,
  MINUTE,
  2 * MINUTE,
  5 * MINUTE,
  10 * MINUTE,
  15 * MINUTE,
  30 * MINUTE,
  HOUR,
  2 * HOUR,
  3 * HOUR,
  6 * HOUR,
  12 * HOUR,
  DAY,
  2 * DAY,
  7 * DAY,
  30 * DAY,
];

/** The service's largest step (service/src/contract/query.ts). */
export const MAX_STEP_MS = 31 * DAY;

/**
 * The step is at least Grafana's interval (which carries the panel's min
 * interval) and wide enough that the range yields no more than maxDataPoints,
 * up to the service's largest step.
 */
export function chooseStepMs(
  rangeMs: number,
  intervalMs: number | undefined,
  maxDataPoints: number | undefined
): number {
  const fitsPoints = maxDataPoints && maxDataPoints > 0 ? Math.ceil(rangeMs / maxDataPoints) : 0;
  const wanted = Math.max(intervalMs ?? 0, fitsPoints, SECOND);
  return NICE_STEPS_MS.find((step) => step >= wanted) ?? MAX_STEP_MS;
}

/** Options that hold free text and may hold template variables. */
const TEXT_OPTIONS: readonly SavedOption[] = ['endpoint', 'queryHash', 'resourceSource'];

/**
 * A variable with several values selected (or "All") means "no filter": the
 * service filters by one value, so the option is left out.
 */
const SEVERAL_VALUES = '\u0000several';

function interpolate(value: string | undefined, templateSrv: TemplateSrv, scopedVars: ScopedVars): string | undefined {
  if (value === undefined) {
    return undefined;
  }
  const text = templateSrv.replace(value, scopedVars, (selected: string | string[]) => {
    if (Array.isArray(selected)) {
      return selected.length === 1 ? selected[0] : SEVERAL_VALUES;
    }
    return selected;
  });
  const trimmed = text.trim();
  return trimmed === '' || trimmed.includes(SEVERAL_VALUES) ? undefined : trimmed;
}

export function toWireQuery(query: AgogQuery, templateSrv: TemplateSrv, scopedVars: ScopedVars): WireQuery {
  const wire: Record<string, unknown> = { refId: query.refId, queryType: query.queryType };
  for (const [savedName, wireName] of WIRE_OPTIONS[query.queryType] as ReadonlyArray<[SavedOption, string]>) {
    const value = query[savedName];
    const sent = TEXT_OPTIONS.includes(savedName)
      ? interpolate(value as string | undefined, templateSrv, scopedVars)
      : value;
    if (sent !== undefined && sent !== '') {
      wire[wireName] = sent;
    }
  }
  return wire as WireQuery;
}

/** The queries Grafana should run: visible, migrated to the current model, and valid. */
export function runnableQueries(targets: AgogQuery[]): AgogQuery[] {
  return targets
    .filter((target) => !target.hide)
    .map((target) => migrateQuery(target))
    .filter(isRunnable);
}

/**
 * One body per tenant: the service reads one tenant per request, and an admin
 * may point queries of one panel at different tenants. A tenant with more
 * queries than the service takes at once gets several bodies.
 */
export function buildQueryBodies(request: DataQueryRequest<AgogQuery>, templateSrv: TemplateSrv): QueryRequestBody[] {
  const from = request.range.from.valueOf();
  const to = request.range.to.valueOf();
  const intervalMs = chooseStepMs(to - from, request.intervalMs, request.maxDataPoints);
  const byTenant = new Map<string, WireQuery[]>();

  for (const query of runnableQueries(request.targets)) {
    const tenantId = interpolate(query.tenantId, templateSrv, request.scopedVars) ?? '';
    const queries = byTenant.get(tenantId) ?? [];
    queries.push(toWireQuery(query, templateSrv, request.scopedVars));
    byTenant.set(tenantId, queries);
  }

  const bodies: QueryRequestBody[] = [];
  for (const [tenantId, queries] of byTenant) {
    for (let start = 0; start < queries.length; start += MAX_QUERIES_PER_REQUEST) {
      bodies.push({
        range: { from, to },
        ...(request.maxDataPoints ? { maxDataPoints: Math.round(request.maxDataPoints) } : {}),
        intervalMs,
        ...(tenantId ? { tenantId } : {}),
        queries: queries.slice(start, start + MAX_QUERIES_PER_REQUEST),
      });
    }
  }
  return bodies;
}
