// One collection round for one monitored database: read its pg_stat_statements, take the
// deltas since the last round (src/collector/deltas.ts), fingerprint each new entry's
// normalized text exactly as ingest fingerprints reported queries (so both sources meet
// on one query_hash), and store the deltas, texts and the new snapshot in one
// transaction. Run by the scheduler's `collect` job (src/service.ts) and by
// `agog-perf collect --once`. docs/collector.md describes it for operators.
import type { Pool } from 'pg';
import type { MonitoredDatabase } from '../config';
import { expireCollectedStats, insertCollectedStats, loadSnapshot, lockCollectorSource, saveSnapshot } from '../db/collectedStats';
import { readStatementCounters, readStatementTexts } from '../db/monitoredStatements';
import { inTransaction } from '../db/pool';
import { fingerprintQuery, loadParser } from '../ingest/fingerprint';
import { fingerprintDeltas, roundDeltas, snapshotEntry, type Snapshot, type SnapshotEntry } from './deltas';

export interface CollectSettings {
  slowQueryThresholdMs: number;
  retentionDays: number;
}

export interface RoundSummary {
  source: string;
  tenantId: string;
  /** The first round of a database only records its counters. */
  baseline: boolean;
  /** pg_stat_statements_info.stats_reset moved since the last round. */
  reset: boolean;
  /** Entries read (this database's), and those of other users hidden from this login. */
  entries: number;
  hiddenEntries: number;
  /** Entries with new calls, and those taken whole (new, re-created, or after a reset). */
  changedEntries: number;
  restartedEntries: number;
  /** Entries with new calls whose text pg_stat_statements no longer had (skipped). */
  withoutText: number;
  textsRead: number;
  fingerprints: number;
  calls: number;
  totalMs: number;
  periodStart: Date | null;
  at: Date;
  statMonitor: boolean;
  /** Time spent in statements on the monitored database, as this client saw it. */
  monitoredMs: number;
  /** Wall-clock milliseconds per phase of the round (the collector benchmark reports them). */
  phasesMs: Record<'lock' | 'readCounters' | 'readTexts' | 'fingerprint' | 'writeDeltas' | 'saveSnapshot' | 'expire', number>;
}

/** Reads one monitored database through `monitored` and stores the round through `pool`. */
export async function collectRound(
  pool: Pool,
  monitored: Pool,
  database: MonitoredDatabase,
  settings: CollectSettings,
): Promise<RoundSummary> {
  await loadParser();
  const { tenantId, name: source } = database;
  const phasesMs: RoundSummary['phasesMs'] = {
    lock: 0, readCounters: 0, readTexts: 0, fingerprint: 0, writeDeltas: 0, saveSnapshot: 0, expire: 0,
  };
  const phase = async <T>(name: keyof RoundSummary['phasesMs'], f: () => Promise<T> | T): Promise<T> => {
    const started = performance.now();
    try {
      return await f();
    } finally {
      phasesMs[name] += performance.now() - started;
    }
  };
  return inTransaction(pool, async (client) => {
    const previous = await phase('lock', async () => {
      await lockCollectorSource(client, tenantId, source);
      return loadSnapshot(client, tenantId, source);
    });
    let monitoredMs = 0;
    const timed = async <T>(f: () => Promise<T>): Promise<T> => {
      const started = performance.now();
      try {
        return await f();
      } finally {
        monitoredMs += performance.now() - started;
      }
    };
    const reading = await phase('readCounters', () => timed(() => readStatementCounters(monitored)));
    const { baseline, reset, deltas } = roundDeltas(previous, reading.statsReset, reading.entries);

    // Fingerprints: kept in the snapshot per entry, so texts are read only for entries
    // with new calls that are new, re-created or not fingerprinted yet (the baseline reads
    // none). A known entry's text is in query_fingerprints since the round that first
    // fingerprinted it, so its preview is left empty here and the stored one stays.
    const known = (key: string): SnapshotEntry | undefined => previous?.entries.get(key);
    const fingerprints = new Map<string, { queryHash: string; preview: string }>();
    const needText: string[] = [];
    for (const delta of deltas) {
      const hash = known(delta.key)?.queryHash;
      if (hash && !delta.restarted) fingerprints.set(delta.key, { queryHash: hash, preview: '' });
      else needText.push(delta.key);
    }
    const texts = await phase('readTexts', () => timed(() => readStatementTexts(monitored, reading.serverVersionNum, needText)));
    await phase('fingerprint', () => {
      for (const key of needText) {
        const text = texts.get(key);
        if (text === undefined) continue;
        const fingerprint = fingerprintQuery(text);
        fingerprints.set(key, { queryHash: fingerprint.hashDecimal, preview: fingerprint.preview });
      }
    });
    const rows = fingerprintDeltas(deltas, (key) => fingerprints.get(key), settings.slowQueryThresholdMs);
    const periodStart = previous?.takenAt ?? null;
    if (periodStart && rows.length > 0) {
      // The hourly cache gets these calls at the next refresh (src/service.ts), as it gets
      // reported ones: merging the hour here cost more than writing the deltas.
      await phase('writeDeltas', () => insertCollectedStats(client, tenantId, source, { periodStart, at: reading.readAt }, rows));
    }

    const next: Snapshot = { takenAt: reading.readAt, statsReset: reading.statsReset, entries: new Map() };
    for (const entry of reading.entries) {
      const before = known(entry.key);
      const hash = fingerprints.get(entry.key)?.queryHash ?? (before && !reset ? before.queryHash : null);
      next.entries.set(entry.key, snapshotEntry(entry, hash));
    }
    await phase('saveSnapshot', () => saveSnapshot(client, tenantId, source, reading.serverVersionNum, next));
    await phase('expire', () => expireCollectedStats(client, tenantId, new Date(reading.readAt.getTime() - settings.retentionDays * 86_400_000)));
    return {
      source, tenantId, baseline, reset,
      entries: reading.entries.length, hiddenEntries: reading.hiddenEntries,
      changedEntries: deltas.length, restartedEntries: deltas.filter((d) => d.restarted).length,
      withoutText: deltas.filter((d) => !fingerprints.has(d.key)).length,
      textsRead: texts.size, fingerprints: rows.length,
      calls: rows.reduce((sum, r) => sum + r.calls, 0), totalMs: rows.reduce((sum, r) => sum + r.totalMs, 0),
      periodStart, at: reading.readAt, statMonitor: reading.statMonitor, monitoredMs, phasesMs,
    };
  });
}
