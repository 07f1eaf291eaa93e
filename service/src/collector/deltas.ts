// What pg_stat_statements' counters grew by between two collection rounds, per entry,
// and those growths summed per fingerprint. Pure functions; src/collector/collect.ts
// reads the counters and stores the result. The rules (docs/collector.md, "Deltas"):
//   - no earlier snapshot: the round is a baseline and yields nothing (the counters hold
//     everything since the entries began, not one period);
//   - stats_reset moved (PostgreSQL 14+): every entry began after the reset, so its
//     whole counters are the period's;
//   - an entry absent from the earlier snapshot began in the period: whole counters;
//   - an entry whose stats_since changed (PostgreSQL 17+), or any of whose counters went
//     down, was deallocated or reset and created again: whole counters;
//   - otherwise the difference, which is then never negative.
// An entry with no new calls yields nothing.
import type { StatementCounters } from '../db/monitoredStatements';

/** The counters an entry had at the last round, as the snapshot stores them. */
export interface SnapshotEntry {
  calls: number;
  totalMs: number;
  rows: number;
  /** Sum of squared execution times (from calls, mean and stddev). */
  sumSquares: number;
  minMs: number | null;
  maxMs: number | null;
  sharedBlksHit: number;
  sharedBlksRead: number;
  statsSince: string | null;
  /** The fingerprint (query_hash, decimal) of the entry's text, once known. */
  queryHash: string | null;
}

export interface Snapshot {
  takenAt: Date;
  statsReset: string | null;
  entries: Map<string, SnapshotEntry>;
}

/** One entry's growth over the period. */
export interface EntryDelta {
  key: string;
  calls: number;
  totalMs: number;
  rows: number;
  sumSquares: number;
  /** The period's extremes where pg_stat_statements' moved in it; null otherwise. */
  minMs: number | null;
  maxMs: number | null;
  sharedBlksHit: number;
  sharedBlksRead: number;
  /** The entry's counters were taken whole (it began in the period). */
  restarted: boolean;
}

export interface RoundDeltas {
  baseline: boolean;
  reset: boolean;
  deltas: EntryDelta[];
}

/** Σ x² of an entry's calls, from pg_stat_statements' population stddev and mean. */
export function sumOfSquares(calls: number, meanMs: number | null, stddevMs: number | null): number {
  if (calls <= 0 || meanMs === null) return 0;
  const sd = stddevMs ?? 0;
  return calls * (sd * sd + meanMs * meanMs);
}

export function snapshotEntry(entry: StatementCounters, queryHash: string | null): SnapshotEntry {
  return {
    calls: entry.calls, totalMs: entry.totalMs, rows: entry.rows, sumSquares: sumOfSquares(entry.calls, entry.meanMs, entry.stddevMs),
    minMs: entry.minMs, maxMs: entry.maxMs, sharedBlksHit: entry.sharedBlksHit, sharedBlksRead: entry.sharedBlksRead,
    statsSince: entry.statsSince, queryHash,
  };
}

/** Floating-point sums of times may come back a hair lower without any reset. */
const TIME_SLACK_MS = 1e-6;

function wentDown(now: SnapshotEntry, before: SnapshotEntry): boolean {
  return now.calls < before.calls || now.rows < before.rows || now.totalMs < before.totalMs - TIME_SLACK_MS ||
    now.sharedBlksHit < before.sharedBlksHit || now.sharedBlksRead < before.sharedBlksRead;
}

export function roundDeltas(previous: Snapshot | null, statsReset: string | null, entries: StatementCounters[]): RoundDeltas {
  if (previous === null) return { baseline: true, reset: false, deltas: [] };
  const reset = statsReset !== null && statsReset !== previous.statsReset;
  const deltas: EntryDelta[] = [];
  for (const entry of entries) {
    const now = snapshotEntry(entry, null);
    const before = reset ? undefined : previous.entries.get(entry.key);
    const restarted = before === undefined ||
      (now.statsSince !== null && before.statsSince !== null && now.statsSince !== before.statsSince) ||
      wentDown(now, before);
    const delta: EntryDelta = restarted
      ? {
        key: entry.key, calls: now.calls, totalMs: now.totalMs, rows: now.rows, sumSquares: now.sumSquares,
        minMs: now.minMs, maxMs: now.maxMs, sharedBlksHit: now.sharedBlksHit, sharedBlksRead: now.sharedBlksRead, restarted,
      }
      : {
        key: entry.key,
        calls: now.calls - before!.calls,
        totalMs: Math.max(0, now.totalMs - before!.totalMs),
        rows: now.rows - before!.rows,
        sumSquares: Math.max(0, now.sumSquares - before!.sumSquares),
        minMs: now.minMs !== null && (before!.minMs === null || now.minMs < before!.minMs) ? now.minMs : null,
        maxMs: now.maxMs !== null && (before!.maxMs === null || now.maxMs > before!.maxMs) ? now.maxMs : null,
        sharedBlksHit: now.sharedBlksHit - before!.sharedBlksHit,
        sharedBlksRead: now.sharedBlksRead - before!.sharedBlksRead,
        restarted,
      };
    if (delta.calls > 0) deltas.push(delta);
  }
  return { baseline: false, reset, deltas };
}

/** A fingerprint's growth over the period: its entries' deltas summed. */
export interface FingerprintDelta {
  queryHash: string;
  preview: string;
  calls: number;
  totalMs: number;
  rows: number;
  slowCalls: number;
  meanMs: number;
  stddevMs: number | null;
  /** Σ x² of the calls' execution times (stored, so that buckets sum into a standard deviation). */
  sumSquares: number;
  minMs: number | null;
  maxMs: number | null;
  sharedBlksHit: number;
  sharedBlksRead: number;
}

/**
 * Sums the entries' deltas per fingerprint. An entry's calls of the period count as slow
 * when their mean is at or above the threshold: pg_stat_statements has no distribution.
 */
export function fingerprintDeltas(
  deltas: EntryDelta[],
  fingerprintOf: (key: string) => { queryHash: string; preview: string } | undefined,
  slowThresholdMs: number,
): FingerprintDelta[] {
  const byHash = new Map<string, FingerprintDelta>();
  for (const delta of deltas) {
    const fingerprint = fingerprintOf(delta.key);
    if (!fingerprint) continue;
    let sum = byHash.get(fingerprint.queryHash);
    if (!sum) {
      sum = {
        queryHash: fingerprint.queryHash, preview: fingerprint.preview, calls: 0, totalMs: 0, rows: 0, slowCalls: 0, meanMs: 0,
        stddevMs: null, minMs: null, maxMs: null, sharedBlksHit: 0, sharedBlksRead: 0, sumSquares: 0,
      };
      byHash.set(fingerprint.queryHash, sum);
    }
    if (sum.preview === '') sum.preview = fingerprint.preview;
    sum.calls += delta.calls;
    sum.totalMs += delta.totalMs;
    sum.rows += delta.rows;
    sum.sumSquares += delta.sumSquares;
    if (delta.totalMs / delta.calls >= slowThresholdMs) sum.slowCalls += delta.calls;
    if (delta.minMs !== null) sum.minMs = sum.minMs === null ? delta.minMs : Math.min(sum.minMs, delta.minMs);
    if (delta.maxMs !== null) sum.maxMs = sum.maxMs === null ? delta.maxMs : Math.max(sum.maxMs, delta.maxMs);
    sum.sharedBlksHit += delta.sharedBlksHit;
    sum.sharedBlksRead += delta.sharedBlksRead;
  }
  return [...byHash.values()].map((sum) => {
    const meanMs = sum.totalMs / sum.calls;
    const variance = sum.sumSquares / sum.calls - meanMs * meanMs;
    return { ...sum, meanMs, stddevMs: Math.sqrt(Math.max(0, variance)) };
  });
}
