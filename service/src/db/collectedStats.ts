// collected_query_stats and collector_snapshots (migrations/V0.0.41__baseline.sql): the collector's writes, and
// the query API's reads of collected statistics. A round's deltas, its fingerprints'
// texts and its snapshot are written in one transaction under an advisory lock per
// tenant and monitored database, so a round counts once or not at all, and two rounds
// of one database (the scheduler and `agog-perf collect --once`) never interleave.
import type { PoolClient } from 'pg';
import type { FingerprintDelta, Snapshot, SnapshotEntry } from '../collector/deltas';
import { FIVE_MINUTES_MS, type TimeRange } from '../rollups/time';
import { rangePieces, STEP_ORIGIN } from '../rollups/plan';
import type { Queryable } from './tenantSession';

/** Takes the round's lock for one tenant and monitored database (released at commit). */
export async function lockCollectorSource(client: PoolClient, tenantId: string, source: string): Promise<void> {
  await client.query(`SELECT pg_advisory_xact_lock(hashtextextended('agog collector ' || $1::text || ' ' || $2::text, 0))`, [tenantId, source]);
}

type PackedEntry = [number, number, number, number, number | null, number | null, number, number, string | null, string | null];

export async function loadSnapshot(db: Queryable, tenantId: string, source: string): Promise<Snapshot | null> {
  const result = await db.query<{ taken_at: Date; stats_reset: string | null; entries: string }>(
    `SELECT taken_at, stats_reset::text AS stats_reset, entries FROM collector_snapshots WHERE tenant_id = $1::uuid AND source = $2::text`,
    [tenantId, source],
  );
  const row = result.rows[0];
  if (!row) return null;
  const entries = new Map<string, SnapshotEntry>();
  for (const [key, e] of Object.entries(JSON.parse(row.entries) as Record<string, PackedEntry>)) {
    entries.set(key, {
      calls: e[0], totalMs: e[1], rows: e[2], sumSquares: e[3], minMs: e[4], maxMs: e[5], sharedBlksHit: e[6], sharedBlksRead: e[7],
      statsSince: e[8], queryHash: e[9],
    });
  }
  return { takenAt: row.taken_at, statsReset: row.stats_reset, entries };
}

export async function saveSnapshot(
  db: Queryable, tenantId: string, source: string, serverVersionNum: number, snapshot: Snapshot,
): Promise<void> {
  const packed: Record<string, PackedEntry> = {};
  for (const [key, e] of snapshot.entries) {
    packed[key] = [e.calls, e.totalMs, e.rows, e.sumSquares, e.minMs, e.maxMs, e.sharedBlksHit, e.sharedBlksRead, e.statsSince, e.queryHash];
  }
  await db.query(
    `INSERT INTO collector_snapshots (tenant_id, source, taken_at, stats_reset, server_version_num, entries)
     VALUES ($1::uuid, $2::text, $3::timestamptz, $4::timestamptz, $5::integer, $6::text)
     ON CONFLICT (tenant_id, source) DO UPDATE SET
       taken_at = EXCLUDED.taken_at, stats_reset = EXCLUDED.stats_reset,
       server_version_num = EXCLUDED.server_version_num, entries = EXCLUDED.entries`,
    [tenantId, source, snapshot.takenAt, snapshot.statsReset, serverVersionNum, JSON.stringify(packed)],
  );
}

/**
 * One round's deltas per fingerprint, added to the 5-minute and hourly buckets that hold
 * the round's time, and the fingerprints' texts in query_fingerprints (kept when already
 * there; first and last seen widened, last seen to within five minutes).
 * query_fingerprints.calls stays the count of reported calls.
 */
export async function insertCollectedStats(
  db: Queryable,
  tenantId: string,
  source: string,
  { periodStart, at }: { periodStart: Date; at: Date },
  rows: FingerprintDelta[],
): Promise<void> {
  if (rows.length === 0) return;
  const col = <T>(f: (r: FingerprintDelta) => T) => rows.map(f);
  await db.query(
    `INSERT INTO query_fingerprints AS f (tenant_id, query_hash, query_preview, calls, first_seen, last_seen)
     SELECT $1::uuid, h, p, 0, $2::timestamptz, $3::timestamptz FROM unnest($4::bigint[], $5::text[]) AS u(h, p)
     ON CONFLICT (tenant_id, query_hash) DO UPDATE SET
       first_seen = least(f.first_seen, EXCLUDED.first_seen), last_seen = greatest(f.last_seen, EXCLUDED.last_seen)
     -- last_seen to within five minutes: a busy statement's row is not rewritten every round.
     WHERE f.last_seen < EXCLUDED.last_seen - interval '5 minutes' OR f.first_seen > EXCLUDED.first_seen`,
    [tenantId, periodStart, at, col((r) => r.queryHash), col((r) => r.preview)],
  );
  await db.query(
    `INSERT INTO collected_query_stats AS c (tenant_id, resolution, bucket, query_hash, source, rounds, calls, total_ms, sum_squares_ms,
                                             rows_sum, slow_calls, min_ms, max_ms, shared_blks_hit, shared_blks_read, last_round_at)
     SELECT $1::uuid, r.resolution, date_bin(r.width, $2::timestamptz, timestamptz '${STEP_ORIGIN}'), u.h, $3::text, 1,
            u.calls, u.total_ms, u.sum_squares, u.rows_sum, u.slow_calls, u.min_ms, u.max_ms, u.hit, u.read, $2::timestamptz
       FROM unnest($4::bigint[], $5::bigint[], $6::float8[], $7::float8[], $8::bigint[], $9::bigint[], $10::float8[], $11::float8[],
                   $12::bigint[], $13::bigint[]) AS u(h, calls, total_ms, sum_squares, rows_sum, slow_calls, min_ms, max_ms, hit, read)
      CROSS JOIN (VALUES ('5m', interval '5 minutes'), ('1h', interval '1 hour')) AS r(resolution, width)
     ON CONFLICT (tenant_id, resolution, bucket, query_hash, source) DO UPDATE SET
       rounds = c.rounds + 1, calls = c.calls + EXCLUDED.calls, total_ms = c.total_ms + EXCLUDED.total_ms,
       sum_squares_ms = c.sum_squares_ms + EXCLUDED.sum_squares_ms, rows_sum = c.rows_sum + EXCLUDED.rows_sum,
       slow_calls = c.slow_calls + EXCLUDED.slow_calls, min_ms = least(c.min_ms, EXCLUDED.min_ms), max_ms = greatest(c.max_ms, EXCLUDED.max_ms),
       shared_blks_hit = c.shared_blks_hit + EXCLUDED.shared_blks_hit, shared_blks_read = c.shared_blks_read + EXCLUDED.shared_blks_read,
       last_round_at = greatest(c.last_round_at, EXCLUDED.last_round_at)`,
    [
      tenantId, at, source, col((r) => r.queryHash), col((r) => r.calls), col((r) => r.totalMs), col((r) => r.sumSquares),
      col((r) => r.rows), col((r) => r.slowCalls), col((r) => r.minMs), col((r) => r.maxMs),
      col((r) => r.sharedBlksHit), col((r) => r.sharedBlksRead),
    ],
  );
}

/** Deletes one tenant's collected rows older than the retention. */
export async function expireCollectedStats(db: Queryable, tenantId: string, before: Date): Promise<number> {
  const result = await db.query(`DELETE FROM collected_query_stats WHERE tenant_id = $1::uuid AND bucket < $2::timestamptz`, [tenantId, before]);
  return result.rowCount ?? 0;
}

/** A fingerprint's collected totals over a range. */
export interface CollectedTotals {
  queryHash: string;
  calls: number;
  slowCalls: number;
  totalMs: number;
  rowsSum: number;
  maxMs: number | null;
  sharedBlksHit: number;
  sharedBlksRead: number;
}

const TOTALS_COLUMNS = `sum(c.calls)::float8 AS calls, sum(c.slow_calls)::float8 AS slow_calls, sum(c.total_ms)::float8 AS total_ms,
            sum(c.rows_sum)::float8 AS rows_sum, max(c.max_ms)::float8 AS max_ms,
            sum(c.shared_blks_hit)::float8 AS blks_hit, sum(c.shared_blks_read)::float8 AS blks_read`;

interface TotalsRow {
  query_hash: string; calls: number; slow_calls: number; total_ms: number; rows_sum: number; max_ms: number | null; blks_hit: number; blks_read: number;
}

function totalsOf(row: TotalsRow): CollectedTotals {
  return {
    queryHash: row.query_hash, calls: row.calls, slowCalls: row.slow_calls, totalMs: row.total_ms, rowsSum: row.rows_sum, maxMs: row.max_ms,
    sharedBlksHit: row.blks_hit, sharedBlksRead: row.blks_read,
  };
}

/**
 * Every fingerprint's collected totals over a range, cut as the rollups' totals are
 * (src/rollups/plan.ts rangePieces): the partial hours at the edges from 5-minute
 * buckets (every bucket the range overlaps), the whole hours and days between from
 * hourly ones. A round counts in the bucket holding its time (the end of its period).
 */
export async function collectedTotals(db: Queryable, tenantId: string, range: TimeRange): Promise<Map<string, CollectedTotals>> {
  const pieces = rangePieces(range);
  const five = (ms: number, round: (x: number) => number) => new Date(round(ms / FIVE_MINUTES_MS) * FIVE_MINUTES_MS);
  const head = { from: five(pieces.rawHead.from, Math.floor), to: new Date(pieces.fiveHead.to) };
  const tail = { from: new Date(pieces.fiveTail.from), to: five(pieces.rawTail.to, Math.ceil) };
  const hoursFrom = { from: new Date(pieces.hoursHead.from) };
  const hoursTo = { to: new Date(pieces.hoursTail.to) };
  const result = await db.query<TotalsRow>(
    `SELECT c.query_hash::text AS query_hash, ${TOTALS_COLUMNS}
       FROM collected_query_stats c
      WHERE c.tenant_id = $1::uuid
        AND ((c.resolution = '5m' AND ((c.bucket >= $2::timestamptz AND c.bucket < $3::timestamptz)
                                    OR (c.bucket >= $4::timestamptz AND c.bucket < $5::timestamptz)))
          OR (c.resolution = '1h' AND c.bucket >= $6::timestamptz AND c.bucket < $7::timestamptz))
      GROUP BY c.query_hash`,
    [tenantId, head.from, head.to, tail.from, tail.to, hoursFrom.from, hoursTo.to],
  );
  return new Map(result.rows.map((row) => [row.query_hash, totalsOf(row)]));
}

/**
 * One fingerprint's collected totals per step of stepMs from start (steps aligned to
 * start), from hourly buckets for steps of an hour or more, else 5-minute ones.
 */
export async function collectedSeries(
  db: Queryable, tenantId: string, { queryHash, start, to, stepMs }: { queryHash: string; start: Date; to: Date; stepMs: number },
): Promise<Array<CollectedTotals & { time: Date }>> {
  const result = await db.query<TotalsRow & { time: number }>(
    `SELECT extract(epoch FROM date_bin(make_interval(secs => $5::float8 / 1000), c.bucket, $3::timestamptz))::float8 * 1000 AS time,
            c.query_hash::text AS query_hash, ${TOTALS_COLUMNS}
       FROM collected_query_stats c
      WHERE c.tenant_id = $1::uuid AND c.resolution = $6::text AND c.query_hash = $2::bigint
        AND c.bucket >= $3::timestamptz AND c.bucket < $4::timestamptz
      GROUP BY 1, 2 ORDER BY 1`,
    [tenantId, queryHash, start, to, stepMs, stepMs >= 3_600_000 ? '1h' : '5m'],
  );
  return result.rows.map((row) => ({ ...totalsOf(row), time: new Date(row.time) }));
}

/**
 * Rewrites the tenant's cache hours that have collected rows in [hour of from, to) with
 * collected and reported calls merged (merge_collected_into_cache).
 */
export async function mergeCollectedIntoCache(db: Queryable, tenantId: string, from: Date, to: Date): Promise<number> {
  const result = await db.query<{ written: number }>(
    `SELECT merge_collected_into_cache($1::uuid, $2::timestamptz, $3::timestamptz) AS written`,
    [tenantId, from, to],
  );
  return result.rows[0]!.written;
}
