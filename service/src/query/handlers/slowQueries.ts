// slowQueries: the top N fingerprints of a range by total time, average, p95 or count,
// each with its preview, endpoints, first and last seen. Ordering by total, average or
// count is done in SQL, so only the N winners' histograms are read; ordering by p95
// reads the histograms of the fingerprints whose stored p95 bounds let them be among the
// top N (src/db/p95Bounds.ts) and ranks those by their merged histograms.
import { DEFAULT_LIMIT } from '../../contract/query';
import { fingerprintInfo, fingerprintTotals } from '../../db/queryRollups';
import { hashToHex } from '../../ingest/fingerprint';
import type { QueryHandler } from '../context';
import { rangeRead, tenantOf } from '../context';
import { frame, ms, numberColumn, stringColumn, timeColumn } from '../frames';
import { rangeSegments } from '../timeRange';

export const slowQueries: QueryHandler<'slowQueries'> = async (query, ctx) => {
  const tenantId = tenantOf(ctx, 'slowQueries');
  const orderBy = query.orderBy ?? 'total';
  const limit = query.limit ?? DEFAULT_LIMIT;
  const rows = await fingerprintTotals(ctx.db, tenantId, rangeSegments(ctx.range), {
    orderBy,
    limit,
    endpoint: query.endpoint ?? null,
    read: rangeRead(ctx),
  });
  const ranked = rows.map((row) => ({ ...row, p95: row.histogram.percentile(0.95) }));
  const key: Record<typeof orderBy, (r: (typeof ranked)[number]) => number> = {
    total: (r) => r.totalMs,
    avg: (r) => r.totalMs / r.calls,
    count: (r) => r.calls,
    p95: (r) => r.p95 ?? -1,
  };
  ranked.sort((a, b) => key[orderBy](b) - key[orderBy](a) || a.queryHash.localeCompare(b.queryHash));
  const top = ranked.slice(0, limit);
  const info = await fingerprintInfo(ctx.db, tenantId, top.map((r) => r.queryHash));
  const of = <T>(f: (r: (typeof top)[number]) => T) => top.map(f);
  return {
    frames: [
      frame({ name: 'slow queries', refId: query.refId, preferredVisualisationType: 'table', custom: { orderBy } }, [
        stringColumn('queryHash', of((r) => hashToHex(r.queryHash)), { displayName: 'Fingerprint' }),
        stringColumn('query', of((r) => info.get(r.queryHash)?.preview ?? null), { displayName: 'Query' }),
        numberColumn('calls', of((r) => r.calls), { unit: 'none', displayName: 'Calls', decimals: 0 }),
        numberColumn('totalMs', of((r) => r.totalMs), ms('Total time', 0)),
        numberColumn('avgMs', of((r) => r.totalMs / r.calls), ms('Average')),
        numberColumn('p95Ms', of((r) => r.p95), ms('p95')),
        numberColumn('maxMs', of((r) => r.maxMs), ms('Max')),
        numberColumn('slowCalls', of((r) => r.slowCalls), { unit: 'none', displayName: `Slow calls (≥ ${ctx.settings.slowQueryThresholdMs} ms)`, decimals: 0 }),
        numberColumn('rowsPerCall', of((r) => r.rowsSum / r.calls), { unit: 'none', displayName: 'Rows per call', decimals: 1 }),
        stringColumn('endpoints', of((r) => (info.get(r.queryHash)?.endpoints ?? []).join(', ')), { displayName: 'Endpoints' }),
        timeColumn('firstSeen', of((r) => info.get(r.queryHash)?.firstSeen ?? null), { displayName: 'First seen' }),
        timeColumn('lastSeen', of((r) => info.get(r.queryHash)?.lastSeen ?? null), { displayName: 'Last seen' }),
      ]),
    ],
  };
};
