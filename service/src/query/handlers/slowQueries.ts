// slowQueries: the top N fingerprints of a range by total time, average, p95 or count,
// each with its preview, endpoints, first and last seen, and where its figures came
// from. Ordering by total, average or count is done in SQL, so only the N winners'
// histograms are read; ordering by p95 merges every fingerprint's histogram over the
// range and ranks by those (src/rollups/ranking.ts).
//
// Collected statistics (pg_stat_statements, src/collector/) merge per fingerprint: one
// collected in the range shows its collected calls, time and rows (every execution on
// the monitored database, never added to the reported ones, which count the same
// executions), and its p95 from the reported calls when it has any; source says which.
// merged_query_counts (the baseline migration) applies the same rule for the alert rules.
import { DEFAULT_LIMIT } from '../../contract/query';
import { collectedTotals, type CollectedTotals } from '../../db/collectedStats';
import { fingerprintInfo, fingerprintTotals, type FingerprintTotals } from '../../rollups/fingerprints';
import { hashToHex } from '../../ingest/fingerprint';
import type { QueryHandler } from '../context';
import { tenantOf } from '../context';
import { frame, ms, numberColumn, stringColumn, timeColumn } from '../frames';

export type FigureSource = 'reported' | 'collected' | 'both';

/** The notice of a frame with collected fingerprints: what their percentiles are. */
export const COLLECTED_PERCENTILES_NOTICE =
  'p95 is unavailable for calls collected from pg_stat_statements, which keeps no distribution; ' +
  'a fingerprint both reported and collected shows the p95 of its reported calls.';

interface Ranked {
  queryHash: string;
  calls: number;
  slowCalls: number;
  totalMs: number;
  maxMs: number | null;
  rowsSum: number;
  p95: number | null;
  source: FigureSource;
  sharedBlksHit: number | null;
  sharedBlksRead: number | null;
}

function merged(reported: FingerprintTotals | undefined, collected: CollectedTotals | undefined): Ranked {
  const p95 = reported ? reported.histogram.percentile(0.95) : null;
  if (!collected) {
    const r = reported!;
    return {
      queryHash: r.queryHash, calls: r.calls, slowCalls: r.slowCalls, totalMs: r.totalMs, maxMs: r.maxMs, rowsSum: r.rowsSum, p95,
      source: 'reported', sharedBlksHit: null, sharedBlksRead: null,
    };
  }
  const maxima = [collected.maxMs, reported?.maxMs ?? null].filter((v): v is number => v !== null);
  return {
    queryHash: collected.queryHash, calls: collected.calls, slowCalls: collected.slowCalls, totalMs: collected.totalMs,
    maxMs: maxima.length > 0 ? Math.max(...maxima) : null, rowsSum: collected.rowsSum, p95,
    source: reported ? 'both' : 'collected', sharedBlksHit: collected.sharedBlksHit, sharedBlksRead: collected.sharedBlksRead,
  };
}

export const slowQueries: QueryHandler<'slowQueries'> = async (query, ctx) => {
  const tenantId = tenantOf(ctx, 'slowQueries');
  const orderBy = query.orderBy ?? 'total';
  const limit = query.limit ?? DEFAULT_LIMIT;
  // Collected statistics know no endpoints: a ranking of one endpoint's fingerprints is
  // of reported calls only.
  const collected = query.endpoint
    ? new Map<string, CollectedTotals>()
    : await collectedTotals(ctx.db, tenantId, ctx.range);
  const reportedTop = (n: number) => fingerprintTotals(ctx.db, tenantId, ctx.range, ctx.settings, ctx.now, {
    orderBy, limit: n, endpoint: query.endpoint ?? null,
  });
  // The top N of the merge is among every collected fingerprint and the top N of the
  // reported-only ones. A reported fingerprint that was also collected ranks by its
  // collected figures, so ask for more reported ones until N are reported only (or none
  // are left). By p95 the reported answer already holds every reported candidate.
  let reported = await reportedTop(limit);
  for (let asked = limit; orderBy !== 'p95' && collected.size > 0 && reported.length === asked;) {
    if (reported.filter((r) => !collected.has(r.queryHash)).length >= limit) break;
    asked *= 2;
    reported = await reportedTop(asked);
  }
  const reportedByHash = new Map(reported.map((r) => [r.queryHash, r]));
  const candidates = new Set([...reportedByHash.keys(), ...collected.keys()]);
  const ranked: Ranked[] = [...candidates].map((hash) => merged(reportedByHash.get(hash), collected.get(hash)));
  const key: Record<typeof orderBy, (r: Ranked) => number> = {
    total: (r) => r.totalMs,
    avg: (r) => r.totalMs / r.calls,
    count: (r) => r.calls,
    p95: (r) => r.p95 ?? -1,
  };
  ranked.sort((a, b) => key[orderBy](b) - key[orderBy](a) || a.queryHash.localeCompare(b.queryHash));
  const top = ranked.slice(0, limit);
  const info = await fingerprintInfo(ctx.db, tenantId, top.map((r) => r.queryHash));
  const of = <T>(f: (r: (typeof top)[number]) => T) => top.map(f);
  const notices = top.some((r) => r.source !== 'reported') ? [{ severity: 'info' as const, text: COLLECTED_PERCENTILES_NOTICE }] : [];
  return {
    frames: [
      frame({ name: 'slow queries', refId: query.refId, preferredVisualisationType: 'table', notices, custom: { orderBy } }, [
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
        stringColumn('source', of((r) => r.source), { displayName: 'Source' }),
        numberColumn('sharedBlksHit', of((r) => r.sharedBlksHit), { unit: 'none', displayName: 'Shared blocks hit', decimals: 0 }),
        numberColumn('sharedBlksRead', of((r) => r.sharedBlksRead), { unit: 'none', displayName: 'Shared blocks read', decimals: 0 }),
      ]),
    ],
  };
};
