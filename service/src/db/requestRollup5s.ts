// Reads of the 5-second request totals per tenant (api_metrics_rollup_5s, V0.0.50) for
// series over windows of up to an hour: at most 720 rows per hour, however many requests
// the tenant had. The pending deltas (api_rollup_5s_pending) are added, so the series is
// complete up to the last committed insert rather than the last refresh.
import { storedColumns } from './requestRollups';
import type { Queryable } from './tenantSession';

export const FIVE_SECONDS_MS = 5_000;

/** One 5-second row: a bucket of the rollup, or of the deltas not yet refreshed. */
export interface Row5s {
  /** Bucket start, epoch ms. A bucket with deltas not yet refreshed can come more than once. */
  time: number;
  /** 0 unless the counts were asked for. */
  requests: number;
  errors: number;
  clientErrors: number;
  sumMs: number;
  /** The histogram in array_send's form; null when the stored percentiles answer. */
  hist: Buffer | null;
  /** The stored percentiles asked for, in that order; null when the histogram is sent. */
  stored: Array<number | null> | null;
}

/**
 * The tenant's 5-second rows (total over all endpoints) with buckets in [start, to): the
 * rollup's and the pending deltas', unsorted. null when the rollup does not hold every
 * request from `start` on (its complete_from is later: requests older than the migration
 * that made it).
 *
 * withHistograms: false when no percentile is asked for; then no row sends its histogram.
 * storedPercentiles (some of STORED_PERCENTILES, or none): a rollup row sends these
 * instead of its histogram, unless deltas of its bucket wait for the refresh, when both
 * must be merged; pending rows always send their histogram. Row by row, each histogram as
 * base64 of its binary form: quicker than one row of aggregated arrays (string_agg of
 * the histograms cost the most; bench/reports/query.md, case "latencyPercentiles, 1 h
 * (5 s steps)"), and the stored percentiles, as real, take less again.
 */
export async function requestRows5s(
  db: Queryable,
  tenantId: string,
  { start, to, withCounts, withHistograms, storedPercentiles }: {
    start: Date; to: Date; withCounts: boolean; withHistograms: boolean; storedPercentiles: readonly number[];
  },
): Promise<Row5s[] | null> {
  const stored = storedColumns(storedPercentiles);
  const window = 'tenant_id = $1::uuid AND bucket >= $2::timestamptz AND bucket < $3::timestamptz';
  const counts = withCounts ? ', r.requests::float8, r.errors::float8, r.client_errors::float8, r.sum_ms' : '';
  // Without percentiles (throughput) no histogram is sent.
  const hist = withHistograms ? `encode(array_send(hist), 'base64')` : 'NULL::text';
  const pendingBuckets = `SELECT bucket FROM api_rollup_5s_pending WHERE ${window}`;
  // Rows that send no histogram name none of the table's wide columns, so they are read
  // index-only from the primary key, which covers them (V0.0.52).
  const text = stored.length > 0
    ? `SELECT date_part('epoch', r.bucket) * 1000${counts}, r.hist${stored.map((c) => `, r.${c}`).join('')}
         FROM (SELECT bucket, requests, errors, client_errors, sum_ms, NULL::text AS hist, ${stored.join(', ')}
                 FROM api_metrics_rollup_5s WHERE ${window} AND bucket NOT IN (${pendingBuckets})
               UNION ALL
               SELECT bucket, requests, errors, client_errors, sum_ms, ${hist}, ${stored.map(() => 'NULL::real').join(', ')}
                 FROM api_metrics_rollup_5s WHERE ${window} AND bucket IN (${pendingBuckets})
               UNION ALL
               SELECT bucket, requests, errors, client_errors, sum_ms, ${hist}, ${stored.map(() => 'NULL::real').join(', ')}
                 FROM api_rollup_5s_pending WHERE ${window}) r
        WHERE (SELECT complete_from <= $2::timestamptz FROM api_rollup_5s_state)`
    : `SELECT date_part('epoch', r.bucket) * 1000${counts}, r.hist
         FROM (SELECT bucket, requests, errors, client_errors, sum_ms, ${hist} AS hist FROM api_metrics_rollup_5s WHERE ${window}
               UNION ALL
               SELECT bucket, requests, errors, client_errors, sum_ms, ${hist} FROM api_rollup_5s_pending WHERE ${window}) r
        WHERE (SELECT complete_from <= $2::timestamptz FROM api_rollup_5s_state)`;
  const result = await db.query<unknown[]>({ text, values: [tenantId, start, to], rowMode: 'array' });
  if (result.rows.length === 0 && !(await completeFrom(db, start))) return null;
  const rows = new Array<Row5s>(result.rows.length);
  const histAt = withCounts ? 5 : 1;
  for (let k = 0; k < rows.length; k++) {
    const row = result.rows[k]!;
    const packed = row[histAt] as string | null;
    let values: Array<number | null> | null = null;
    if (packed === null) {
      values = new Array<number | null>(stored.length);
      for (let i = 0; i < stored.length; i++) values[i] = row[histAt + 1 + i] as number | null;
    }
    rows[k] = {
      time: row[0] as number,
      requests: withCounts ? (row[1] as number) : 0,
      errors: withCounts ? (row[2] as number) : 0,
      clientErrors: withCounts ? (row[3] as number) : 0,
      sumMs: withCounts ? (row[4] as number) : 0,
      hist: packed === null ? null : Buffer.from(packed, 'base64'),
      stored: values,
    };
  }
  return rows;
}

/** Whether the 5-second rollup holds every request from `start` on. */
async function completeFrom(db: Queryable, start: Date): Promise<boolean> {
  const result = await db.query<{ covered: boolean }>(
    'SELECT complete_from <= $1::timestamptz AS covered FROM api_rollup_5s_state',
    [start],
  );
  return result.rows[0]?.covered === true;
}
