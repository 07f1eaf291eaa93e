// Which stored rows answer a request (src/rollups/plan.ts): pure, no database.
import {
  chooseStep, fineRollupStart, MAX_POINTS, rangePieces, ROLLUP_STEPS, type Span, type Step,
} from '../src/rollups/plan';
import { DAY_MS, FIVE_MINUTES_MS, HOUR_MS, resolveRange, RESOLUTION_MS } from '../src/rollups/time';

const at = (iso: string) => new Date(iso);

describe('range pieces', () => {
  const CASES = [
    ['2031-03-01T10:07:00Z', '2031-03-31T16:52:00Z'],
    ['2031-03-01T00:00:00Z', '2031-03-02T00:00:00Z'],
    ['2031-03-01T10:07:00Z', '2031-03-01T10:49:00Z'],
    ['2031-03-01T10:07:13Z', '2031-03-01T10:09:00Z'],
    ['2031-03-01T23:58:00Z', '2031-03-02T00:03:00Z'],
    ['2031-03-01T10:00:00Z', '2031-03-03T11:00:00Z'],
    ['2031-03-01T10:00:00.001Z', '2031-03-01T11:00:00Z'],
    ['2031-03-01T10:02:00Z', '2031-03-01T11:58:00Z'],
  ];
  // A Monday, 00:00 UTC: weekly rows start on Mondays.
  const MONDAY = Date.parse('2000-01-03T00:00:00Z');
  const WIDTH = { fiveHead: FIVE_MINUTES_MS, hoursHead: HOUR_MS, days: DAY_MS, weeks: 7 * DAY_MS, daysTail: DAY_MS, hoursTail: HOUR_MS, fiveTail: FIVE_MINUTES_MS } as const;
  for (const [fine, weeks] of [['with 5-minute rows', false], ['without 5-minute rows', false], ['with 5-minute rows', true], ['without 5-minute rows', true]] as const) {
    it.each(CASES)(`cover %s – %s exactly once, rollup pieces on whole rows, ${fine}, ${weeks ? 'with' : 'without'} weeks`, (from, to) => {
      const pieces = rangePieces({ from: at(from), to: at(to) }, fine === 'with 5-minute rows' ? Number.NEGATIVE_INFINITY : Number.POSITIVE_INFINITY, { weeks });
      const order: Span[] = [
        pieces.rawHead, pieces.fiveHead, pieces.hoursHead, pieces.days, pieces.weeks, pieces.daysTail, pieces.hoursTail, pieces.fiveTail, pieces.rawTail,
      ];
      // Contiguous, in order, from `from` to `to`.
      expect(order[0]!.from).toBe(at(from).getTime());
      expect(order[8]!.to).toBe(at(to).getTime());
      for (let i = 1; i < order.length; i++) expect(order[i]!.from).toBe(order[i - 1]!.to);
      for (const span of order) expect(span.to).toBeGreaterThanOrEqual(span.from);
      // Rollup pieces start and end on their rows; raw pieces are shorter than 5 minutes
      // with 5-minute rows, than an hour without.
      for (const [name, width] of Object.entries(WIDTH)) {
        const span = pieces[name as keyof typeof WIDTH];
        if (span.to > span.from) expect([name, (span.from - MONDAY) % width, (span.to - MONDAY) % width]).toEqual([name, 0, 0]);
      }
      if (!weeks) expect([pieces.weeks.to - pieces.weeks.from, pieces.daysTail.to - pieces.daysTail.from]).toEqual([0, 0]);
      // Days beside the weeks: fewer than a week on each side.
      if (weeks) expect([pieces.days.to - pieces.days.from < 7 * DAY_MS, pieces.daysTail.to - pieces.daysTail.from < 7 * DAY_MS]).toEqual([true, true]);
      if (fine === 'without 5-minute rows') expect([pieces.fiveHead.to - pieces.fiveHead.from, pieces.fiveTail.to - pieces.fiveTail.from]).toEqual([0, 0]);
      const rawLimit = fine === 'with 5-minute rows' ? FIVE_MINUTES_MS : HOUR_MS;
      expect(pieces.rawHead.to - pieces.rawHead.from).toBeLessThan(rawLimit);
      expect(pieces.rawTail.to - pieces.rawTail.from).toBeLessThan(rawLimit);
    });
  }

  it('read whole days in the middle of a long range, whole hours and 5 minutes beside them', () => {
    const p = rangePieces({ from: at('2031-03-01T10:07:00Z'), to: at('2031-03-31T16:52:00Z') });
    const iso = (ms: number) => new Date(ms).toISOString();
    expect([iso(p.days.from), iso(p.days.to)]).toEqual(['2031-03-02T00:00:00.000Z', '2031-03-31T00:00:00.000Z']);
    expect([iso(p.hoursHead.from), iso(p.hoursTail.to)]).toEqual(['2031-03-01T11:00:00.000Z', '2031-03-31T16:00:00.000Z']);
    expect([iso(p.fiveHead.from), iso(p.fiveTail.to)]).toEqual(['2031-03-01T10:10:00.000Z', '2031-03-31T16:50:00.000Z']);
  });

  it('read whole weeks from Mondays among the days, when the rows have weeks', () => {
    const p = rangePieces({ from: at('2031-03-01T10:07:00Z'), to: at('2031-03-31T16:52:00Z') }, Number.NEGATIVE_INFINITY, { weeks: true });
    const iso = (ms: number) => new Date(ms).toISOString();
    expect([p.days, p.weeks, p.daysTail].map((span) => [iso(span.from), iso(span.to)])).toEqual([
      ['2031-03-02T00:00:00.000Z', '2031-03-03T00:00:00.000Z'],
      ['2031-03-03T00:00:00.000Z', '2031-03-31T00:00:00.000Z'],
      ['2031-03-31T00:00:00.000Z', '2031-03-31T00:00:00.000Z'],
    ]);
    // Under a whole week between midnights: days alone.
    const short = rangePieces({ from: at('2031-03-04T10:07:00Z'), to: at('2031-03-11T16:52:00Z') }, Number.NEGATIVE_INFINITY, { weeks: true });
    expect([short.weeks.to - short.weeks.from, iso(short.days.from), iso(short.daysTail.to)]).toEqual([0, '2031-03-05T00:00:00.000Z', '2031-03-11T00:00:00.000Z']);
  });

  it('read the partial hours as raw rows before the fine window, 5-minute rows within it', () => {
    const fineFrom = Date.parse('2031-03-31T00:00:00Z');
    const p = rangePieces({ from: at('2031-03-01T10:07:00Z'), to: at('2031-03-31T16:52:00Z') }, fineFrom);
    const iso = (ms: number) => new Date(ms).toISOString();
    expect([iso(p.rawHead.to), p.fiveHead.to - p.fiveHead.from]).toEqual(['2031-03-01T11:00:00.000Z', 0]);
    expect([iso(p.fiveTail.from), iso(p.rawTail.from)]).toEqual(['2031-03-31T16:00:00.000Z', '2031-03-31T16:50:00.000Z']);
  });
});

describe('steps and sources', () => {
  const NOW = Date.parse('2031-03-31T12:34:00Z');
  // Ranges ending now, `hours` long.
  const range = (hours: number) => ({ from: new Date(NOW - hours * HOUR_MS), to: new Date(NOW) });
  const total = (hours: number, intervalMs: number | undefined, maxDataPoints: number) =>
    chooseStep(range(hours), { intervalMs, maxDataPoints, key: 'total', nowMs: NOW });
  const key = (hours: number, intervalMs: number | undefined, maxDataPoints: number) =>
    chooseStep(range(hours), { intervalMs, maxDataPoints, key: 'key', nowMs: NOW });

  it('keeps 5-minute rows per key from the start of the previous UTC day', () => {
    expect(new Date(fineRollupStart(NOW)).toISOString()).toBe('2031-03-30T00:00:00.000Z');
    expect(new Date(fineRollupStart(Date.parse('2031-03-31T00:00:00Z'))).toISOString()).toBe('2031-03-30T00:00:00.000Z');
  });

  it('reads raw rows only for a window of at most an hour with a step under 5 minutes', () => {
    expect(total(1, 10_000, 1000)).toEqual({ stepMs: 10_000, source: 'raw' });
    expect(total(2, 10_000, 1000).source).toBe('5m');
    expect(total(1, FIVE_MINUTES_MS, 1000).source).toBe('5m');
    expect(chooseStep(range(1), { intervalMs: 10_000, maxDataPoints: 1000, key: 'key', nowMs: NOW, raw: false }).source).toBe('5m');
  });

  it('picks the coarsest rollup not coarser than the step, and a step that is a multiple of it', () => {
    // 7 days in 1000 points: 10.08 minutes, so 15, for the tenant's total.
    expect(total(24 * 7, 10 * 60_000, 1000)).toEqual({ stepMs: 15 * 60_000, source: '5m' });
    expect(total(24 * 30, HOUR_MS, 1000)).toEqual({ stepMs: HOUR_MS, source: '1h' });
    expect(total(24 * 30, 90 * 60_000, 1000)).toEqual({ stepMs: 2 * HOUR_MS, source: '1h' });
    expect(total(24 * 400, undefined, 1000)).toEqual({ stepMs: 12 * HOUR_MS, source: '1h' });
    expect(total(24 * 400, DAY_MS, 1000)).toEqual({ stepMs: DAY_MS, source: '1d' });
  });

  it('reads 30 days at 1000 points in hourly rows (720 points), not 45-minute steps of 5-minute rows', () => {
    const step = total(24 * 30, 30 * 60_000, 1000);
    expect(step).toEqual({ stepMs: HOUR_MS, source: '1h' });
    expect((30 * DAY_MS) / step.stepMs).toBe(720);
    // 1800 points: 30-minute steps fit for the total, six 5-minute rows each.
    expect(total(24 * 30, 30 * 60_000, 1800)).toEqual({ stepMs: 30 * 60_000, source: '5m' });
    // An interval of 5 hours: 6-hour steps, which nest in days.
    expect(total(24 * 30, 5 * HOUR_MS, 1000)).toEqual({ stepMs: 6 * HOUR_MS, source: '1h' });
  });

  it('gives a key 5-minute steps only where its 5-minute rows are kept, else hourly ones', () => {
    expect(key(24, 60_000, 1800)).toEqual({ stepMs: FIVE_MINUTES_MS, source: '5m' });
    // From 00:00 yesterday: still covered.
    expect(chooseStep({ from: new Date(fineRollupStart(NOW)), to: new Date(NOW) }, { intervalMs: 60_000, maxDataPoints: 1800, key: 'key', nowMs: NOW }).source).toBe('5m');
    expect(chooseStep({ from: new Date(fineRollupStart(NOW) - 1), to: new Date(NOW) }, { intervalMs: 60_000, maxDataPoints: 1800, key: 'key', nowMs: NOW }))
      .toEqual({ stepMs: HOUR_MS, source: '1h' });
    expect(key(24 * 7, 5 * 60_000, 1800)).toEqual({ stepMs: HOUR_MS, source: '1h' });
    expect(key(24 * 30, 30 * 60_000, 1800)).toEqual({ stepMs: HOUR_MS, source: '1h' });
  });

  it('offers only steps of whole rows that nest in the next coarser resolution', () => {
    for (const { stepMs, source } of ROLLUP_STEPS) {
      expect([stepMs, stepMs % RESOLUTION_MS[source]]).toEqual([stepMs, 0]);
      const next = source === '5m' ? HOUR_MS : DAY_MS;
      expect([stepMs, next % stepMs]).toEqual([stepMs, 0]);
    }
  });

  it('picks the smallest stored step at least intervalMs long that gives at most maxDataPoints points', () => {
    const candidates = (with5m: boolean): Step[] => [
      ...ROLLUP_STEPS.filter((s) => with5m || s.source !== '5m'),
      ...Array.from({ length: 400 }, (_, k) => ({ stepMs: (k + 1) * DAY_MS, source: '1d' as const })),
    ];
    const intervals = [undefined, 1000, 10_000, 60_000, 5 * 60_000, 20 * 60_000, 30 * 60_000, HOUR_MS, 3 * HOUR_MS, 12 * HOUR_MS, DAY_MS, 7 * DAY_MS];
    let checked = 0;
    for (const which of ['total', 'key'] as const) {
      for (const hours of [2, 6, 24, 24 * 7, 24 * 30, 24 * 90, 24 * 400]) {
        for (const intervalMs of intervals) {
          for (const points of [3, 100, 600, 1000, 1800, 100_000]) {
            const step = chooseStep(range(hours), { intervalMs, maxDataPoints: points, key: which, nowMs: NOW });
            const with5m = which === 'total' || NOW - hours * HOUR_MS >= fineRollupStart(NOW);
            const rangeMs = hours * HOUR_MS;
            const fits = (s: Step) => s.stepMs >= (intervalMs ?? 0) && rangeMs / s.stepMs <= Math.min(points, MAX_POINTS);
            const label = `${which} ${hours} h, interval ${intervalMs}, ${points} points`;
            expect([label, fits(step)]).toEqual([label, true]);
            expect([label, candidates(with5m).some((c) => c.stepMs === step.stepMs && c.source === step.source)]).toEqual([label, true]);
            const smaller = candidates(with5m).find((c) => c.stepMs < step.stepMs && fits(c));
            expect([label, smaller ?? null]).toEqual([label, null]);
            checked++;
          }
        }
      }
    }
    expect(checked).toBe(2 * 7 * 12 * 6);
  });

  it('never makes more than MAX_POINTS points', () => {
    const step = total(24 * 400, 1000, 100_000);
    expect((400 * DAY_MS) / step.stepMs).toBeLessThanOrEqual(MAX_POINTS);
  });

  it('accepts a range up to 400 days and refuses anything longer or reversed', () => {
    expect(() => resolveRange({ from: 0, to: 400 * DAY_MS }, 400 * DAY_MS)).not.toThrow();
    expect(() => resolveRange({ from: 0, to: 400 * DAY_MS + 1 }, 400 * DAY_MS)).toThrow(/at most 400 days/);
    expect(() => resolveRange({ from: 5, to: 5 }, 5)).toThrow(/before/);
  });
});
