// endpoints: one row per endpoint over the range: requests per second, error rate,
// average / p95 / p99, and the share of its time spent in the database (time of the
// queries tagged with the endpoint over the requests' total time).
import { DEFAULT_LIMIT } from '../../contract/query';
import { endpointTotals, type EndpointOrderKey } from '../../rollups/requests';
import type { QueryHandler } from '../context';
import { tenantOf } from '../context';
import { frame, ms, numberColumn, ratio, stringColumn } from '../frames';
import { elapsedSeconds } from '../../rollups/time';

const SQL_ORDER: Record<'p95' | 'rps' | 'errorRate' | 'dbShare', EndpointOrderKey> = { p95: 'p95', rps: 'requests', errorRate: 'errorRate', dbShare: 'dbShare' };

export const endpoints: QueryHandler<'endpoints'> = async (query, ctx) => {
  const tenantId = tenantOf(ctx, 'endpoints');
  const orderBy = query.orderBy ?? 'p95';
  const limit = query.limit ?? DEFAULT_LIMIT;
  const rows = await endpointTotals(ctx.db, tenantId, ctx.range, ctx.settings, ctx.now, { orderBy: SQL_ORDER[orderBy], limit });
  const seconds = elapsedSeconds(ctx.range, ctx.now);
  const table = rows.map((row) => {
    const [p95, p99] = row.histogram.percentiles([95, 99]);
    return {
      ...row,
      p95: p95 ?? null,
      p99: p99 ?? null,
      errorRate: row.errors / row.requests,
      dbShare: row.sumMs > 0 ? Math.min(1, row.dbMs / row.sumMs) : null,
    };
  });
  const key: Record<typeof orderBy, (r: (typeof table)[number]) => number> = {
    p95: (r) => r.p95 ?? -1,
    rps: (r) => r.requests,
    errorRate: (r) => r.errorRate,
    dbShare: (r) => r.dbShare ?? -1,
  };
  table.sort((a, b) => key[orderBy](b) - key[orderBy](a) || a.endpoint.localeCompare(b.endpoint));
  const top = table.slice(0, limit);
  const of = <T>(f: (r: (typeof top)[number]) => T) => top.map(f);
  return {
    frames: [
      frame({ name: 'endpoints', refId: query.refId, preferredVisualisationType: 'table', custom: { orderBy } }, [
        stringColumn('endpoint', of((r) => r.endpoint), { displayName: 'Endpoint' }),
        numberColumn('requests', of((r) => r.requests), { unit: 'none', displayName: 'Requests', decimals: 0 }),
        numberColumn('requestsPerSecond', of((r) => (seconds > 0 ? r.requests / seconds : null)), { unit: 'reqps', displayName: 'Requests per second', decimals: 3 }),
        numberColumn('errorRate', of((r) => r.errorRate), ratio('Error rate (5xx)')),
        numberColumn('avgMs', of((r) => r.sumMs / r.requests), ms('Average')),
        numberColumn('p95Ms', of((r) => r.p95), ms('p95')),
        numberColumn('p99Ms', of((r) => r.p99), ms('p99')),
        numberColumn('dbShare', of((r) => r.dbShare), ratio('Time in database')),
        numberColumn('dbCallsPerRequest', of((r) => r.dbCalls / r.requests), { unit: 'none', displayName: 'Queries per request', decimals: 1 }),
      ]),
    ],
  };
};
