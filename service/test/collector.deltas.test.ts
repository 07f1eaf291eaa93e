// The delta rules of src/collector/deltas.ts on constructed counters: what a round
// yields for an unchanged, grown, new, re-created or reset entry, and how entries sum
// into one fingerprint (their calls, times, extremes and standard deviation).
import { fingerprintDeltas, roundDeltas, snapshotEntry, type Snapshot } from '../src/collector/deltas';
import type { StatementCounters } from '../src/db/monitoredStatements';

function entry(key: string, calls: number, totalMs: number, more: Partial<StatementCounters> = {}): StatementCounters {
  const meanMs = calls > 0 ? totalMs / calls : null;
  return {
    key, queryid: key, calls, totalMs, rows: calls, minMs: meanMs, maxMs: meanMs, meanMs, stddevMs: 0,
    sharedBlksHit: calls * 2, sharedBlksRead: calls, statsSince: null, ...more,
  };
}

function snapshot(entries: StatementCounters[], statsReset: string | null = '2026-12-01 00:00:00+00'): Snapshot {
  return { takenAt: new Date(0), statsReset, entries: new Map(entries.map((e) => [e.key, snapshotEntry(e, null)])) };
}

describe('round deltas', () => {
  it('yields nothing on the first round: the counters are the baseline', () => {
    expect(roundDeltas(null, null, [entry('a', 10, 100)])).toEqual({ baseline: true, reset: false, deltas: [] });
  });

  it('yields the growth of a grown entry, nothing for an unchanged one, and all of a new one', () => {
    const before = snapshot([entry('a', 10, 100), entry('b', 5, 50)]);
    const { deltas, reset } = roundDeltas(before, '2026-12-01 00:00:00+00', [entry('a', 13, 160, { maxMs: 30 }), entry('b', 5, 50), entry('c', 2, 8)]);
    expect(reset).toBe(false);
    expect(deltas.map((d) => [d.key, d.calls, d.totalMs, d.rows, d.sharedBlksHit, d.restarted])).toEqual([
      ['a', 3, 60, 3, 6, false],
      ['c', 2, 8, 2, 4, true],
    ]);
    // The max rose in the period, so it is the period's; the min did not fall: unknown.
    expect(deltas[0]).toMatchObject({ maxMs: 30, minMs: null });
  });

  it('takes an entry whole when a counter went down (re-created), never negative', () => {
    const before = snapshot([entry('a', 10, 100)]);
    const { deltas } = roundDeltas(before, '2026-12-01 00:00:00+00', [entry('a', 4, 400)]);
    expect(deltas).toMatchObject([{ key: 'a', calls: 4, totalMs: 400, restarted: true }]);
  });

  it('takes an entry whole when its stats_since changed, even with more calls than before', () => {
    const before = snapshot([entry('a', 10, 100, { statsSince: '2026-12-01 00:00:00+00' })]);
    const { deltas } = roundDeltas(before, '2026-12-01 00:00:00+00', [entry('a', 25, 250, { statsSince: '2026-12-01 00:05:00+00' })]);
    expect(deltas).toMatchObject([{ key: 'a', calls: 25, restarted: true }]);
  });

  it('takes every entry whole after stats_reset moved', () => {
    const before = snapshot([entry('a', 10, 100), entry('b', 5, 50)]);
    const { deltas, reset } = roundDeltas(before, '2026-12-01 00:03:00+00', [entry('a', 12, 120), entry('b', 1, 10)]);
    expect(reset).toBe(true);
    expect(deltas.map((d) => [d.key, d.calls])).toEqual([['a', 12], ['b', 1]]);
  });
});

describe('fingerprint deltas', () => {
  it('sums entries of one fingerprint, with the standard deviation of all their calls and slow calls by each entry\'s mean', () => {
    // Entry a: calls of 1 and 3 ms; entry b: one call of 2000 ms. One fingerprint.
    const a = { key: 'a', calls: 2, totalMs: 4, rows: 2, sumSquares: 1 + 9, minMs: 1, maxMs: 3, sharedBlksHit: 1, sharedBlksRead: 0, restarted: true };
    const b = { key: 'b', calls: 1, totalMs: 2000, rows: 1, sumSquares: 2000 ** 2, minMs: 2000, maxMs: 2000, sharedBlksHit: 0, sharedBlksRead: 4, restarted: true };
    const [sum] = fingerprintDeltas([a, b], () => ({ queryHash: '42', preview: 'SELECT $1' }), 1000);
    const values = [1, 3, 2000];
    const mean = 2004 / 3;
    const sd = Math.sqrt(values.reduce((s, v) => s + (v - mean) ** 2, 0) / 3);
    expect(sum).toMatchObject({ queryHash: '42', calls: 3, totalMs: 2004, rows: 3, slowCalls: 1, minMs: 1, maxMs: 2000, sharedBlksHit: 1, sharedBlksRead: 4 });
    expect(sum!.meanMs).toBeCloseTo(mean, 9);
    expect(sum!.stddevMs).toBeCloseTo(sd, 6);
  });

  it('skips entries without a fingerprint (no text left in pg_stat_statements)', () => {
    const a = { key: 'a', calls: 2, totalMs: 4, rows: 2, sumSquares: 10, minMs: 1, maxMs: 3, sharedBlksHit: 1, sharedBlksRead: 0, restarted: true };
    expect(fingerprintDeltas([a], () => undefined, 1000)).toEqual([]);
  });
});
