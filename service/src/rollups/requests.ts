// Requests over a range (api_metrics_rollup and the raw request log): the tenant's
// totals, one row per endpoint, and the busiest endpoints. Counts arrive as float8:
// exact below 2^53.
import type { Queryable } from '../db/tenantSession';
import type { QuerySettings } from '../query/context';
import { Histogram } from './histogram';
import { type KeyTotals, rankKeys } from './ranking';
import { REQUEST_COUNTS, REQUESTS } from './sql';
import type { TimeRange } from './time';

export interface RequestTotals {
  requests: number;
  errors: number;
  clientErrors: number;
  satisfied: number;
  tolerating: number;
  sumMs: number;
  maxMs: number | null;
  dbMs: number;
  dbCalls: number;
}

/** Totals with the merged histogram of the range. */
export interface RequestTotalsWithHistogram extends RequestTotals {
  histogram: Histogram;
}

export interface EndpointTotals extends RequestTotalsWithHistogram {
  endpoint: string;
}

function toTotals(row: KeyTotals | undefined): RequestTotals {
  const s = row?.sums ?? {};
  return {
    requests: s.requests ?? 0,
    errors: s.errors ?? 0,
    clientErrors: s.client_errors ?? 0,
    satisfied: s.satisfied ?? 0,
    tolerating: s.tolerating ?? 0,
    sumMs: s.sum_ms ?? 0,
    maxMs: row?.maxMs ?? null,
    dbMs: s.db_ms ?? 0,
    dbCalls: s.db_calls ?? 0,
  };
}

/** Totals and merged histogram over a range for one endpoint, or the tenant's total (''). */
export async function requestTotals(
  db: Queryable, tenantId: string, range: TimeRange, settings: QuerySettings, nowMs: number, endpoint = '',
): Promise<RequestTotalsWithHistogram> {
  const rows = await rankKeys(db, REQUESTS, tenantId, range, settings, {
    filter: endpoint ? { kind: 'one', key: endpoint } : { kind: 'total' }, nowMs, histograms: 'all',
  });
  const row = rows[0];
  return { ...toTotals(row), histogram: row?.histogram ?? new Histogram() };
}

export type EndpointOrderKey = 'requests' | 'errorRate' | 'dbShare' | 'p95';

const ORDER_SQL: Record<Exclude<EndpointOrderKey, 'p95'>, string> = {
  requests: 't.requests',
  errorRate: 't.errors / t.requests',
  dbShare: 't.db_ms / nullif(t.sum_ms, 0)',
};

/**
 * Totals per endpoint over a range, with histograms. By a sum, the top `limit` in SQL
 * order; by p95, every endpoint, for the caller to rank by its merged histogram.
 */
export async function endpointTotals(
  db: Queryable, tenantId: string, range: TimeRange, settings: QuerySettings, nowMs: number,
  { orderBy, limit }: { orderBy: EndpointOrderKey; limit: number },
): Promise<EndpointTotals[]> {
  const rows = await rankKeys(db, REQUESTS, tenantId, range, settings, orderBy === 'p95'
    ? { filter: { kind: 'each' }, nowMs, histograms: 'all' }
    : { filter: { kind: 'each' }, nowMs, orderBy: ORDER_SQL[orderBy], limit, histograms: 'returned' });
  return rows.map((row) => ({ endpoint: row.key, ...toTotals(row), histogram: row.histogram }));
}

/** Endpoints with requests in a range, busiest first (template variables, per-endpoint series). */
export async function busiestEndpoints(
  db: Queryable, tenantId: string, range: TimeRange, settings: QuerySettings, nowMs: number, limit: number,
): Promise<string[]> {
  const rows = await rankKeys(db, REQUEST_COUNTS, tenantId, range, settings, {
    filter: { kind: 'each' }, nowMs, orderBy: 't.requests', limit, histograms: 'none',
  });
  return rows.map((row) => row.key);
}
