// Totals over a range per key, and rankings of keys: one routine for endpoints, the
// tenant's total and fingerprints (src/rollups/sql.ts REQUESTS, QUERIES).
//
// Every total is a plain sum of the rows that cover the range (rangeRowsSql): nothing is
// subtracted or estimated, so each answer is the one the raw rows give, histograms within
// their buckets' 1 %. Ordered by a sum, the database sorts and cuts to `limit` and only
// the winners' histograms are read; ordered by a percentile, every key's histogram is
// read and the caller ranks them.
import type { QuerySettings } from '../query/context';
import { readBinaryColumns } from '../db/binaryRows';
import type { Queryable } from '../db/tenantSession';
import { Histogram, packedHistograms } from './histogram';
import { fineRollupStart, rangePieces } from './plan';
import { type KeyFilter, rangeRowsParams, rangeRowsSql, type RollupKind, sql } from './sql';
import type { TimeRange } from './time';

/** Where 5-minute rows begin for what a filter reads: always for the tenant's total, the fine window for keys. */
function fineFrom(filter: KeyFilter, nowMs: number): number {
  return filter.kind === 'total' ? Number.NEGATIVE_INFINITY : fineRollupStart(nowMs);
}

export interface KeyTotals {
  key: string;
  /** The kind's sums by column name (requests, errors, ... or calls, slow_calls, ...). */
  sums: Record<string, number>;
  maxMs: number | null;
  /** Merged over the range; empty when histograms were not asked for. */
  histogram: Histogram;
}

export interface RankOptions {
  filter: KeyFilter;
  /** The request's clock: which 5-minute rows exist (src/rollups/plan.ts fineRollupStart). */
  nowMs: number;
  /** SQL over the sums (aliased t) to order by, descending; none: every key, by key. */
  orderBy?: string;
  limit?: number;
  /** 'none', 'all' keys' (to rank by a percentile), or those of the keys returned. */
  histograms: 'none' | 'all' | 'returned';
}

/**
 * Totals per key over a range (keys with a zero first sum are left out), ordered by
 * `orderBy` and cut to `limit` in SQL when given.
 */
export async function rankKeys(
  db: Queryable, kind: RollupKind, tenantId: string, range: TimeRange, settings: QuerySettings, options: RankOptions,
): Promise<KeyTotals[]> {
  const pieces = rangePieces(range, fineFrom(options.filter, options.nowMs), { weeks: kind.weekly });
  const sums = kind.sums.map((c) => `coalesce(sum(p.${c}), 0)::float8 AS ${c}`).join(', ');
  const withHistograms = options.histograms === 'all';
  const order = options.orderBy
    ? `ORDER BY ${options.orderBy} DESC NULLS LAST, t.key${options.limit === undefined ? '' : ' LIMIT :limit::integer'}`
    : 'ORDER BY t.key';
  const params = rangeRowsParams(kind, tenantId, pieces, options.filter, settings);
  if (options.orderBy && options.limit !== undefined) params.limit = options.limit;
  const [keys, ...columns] = await readBinaryColumns(db, sql(
    `SELECT t.* FROM (
       SELECT p.key, ${sums}, max(p.max_ms)::float8 AS max_ms${withHistograms ? `, ${packedHistograms('p.hist')} AS packed` : ''}
         FROM ${rangeRowsSql(kind, options.filter, pieces)} p
        GROUP BY p.key HAVING sum(p.${kind.sums[0]}) > 0) t
     ${order}`,
    params,
  ), ['text', ...kind.sums.map(() => 'float8' as const), 'float8', ...(withHistograms ? ['bytea' as const] : [])]);
  const rows: KeyTotals[] = keys!.map((key, at) => {
    const histogram = new Histogram();
    if (withHistograms) histogram.addPacked(columns[kind.sums.length + 1]![at] as Buffer | null);
    return {
      key: key as string,
      sums: Object.fromEntries(kind.sums.map((c, i) => [c, columns[i]![at] as number])),
      maxMs: columns[kind.sums.length]![at] as number | null,
      histogram,
    };
  });
  if (options.histograms === 'returned' && rows.length > 0) {
    const histograms = await rangeHistograms(db, kind, tenantId, range, settings, { kind: 'some', keys: rows.map((r) => r.key) }, options.nowMs);
    for (const row of rows) {
      const histogram = histograms.get(row.key);
      if (histogram) row.histogram = histogram;
    }
  }
  return rows;
}

/** The merged histogram over a range of each key the filter selects. */
export async function rangeHistograms(
  db: Queryable, kind: RollupKind, tenantId: string, range: TimeRange, settings: QuerySettings, filter: KeyFilter, nowMs: number,
): Promise<Map<string, Histogram>> {
  const pieces = rangePieces(range, fineFrom(filter, nowMs), { weeks: kind.weekly });
  const [keys, packed] = await readBinaryColumns(db, sql(
    `SELECT p.key, ${packedHistograms('p.hist')} AS packed FROM ${rangeRowsSql(kind, filter, pieces)} p GROUP BY p.key`,
    rangeRowsParams(kind, tenantId, pieces, filter, settings),
  ), ['text', 'bytea']);
  return new Map(keys!.map((key, at) => {
    const histogram = new Histogram();
    histogram.addPacked(packed![at] as Buffer | null);
    return [key as string, histogram];
  }));
}
