// How the query API cuts ranges and picks steps and sources (src/query/timeRange.ts).
import { chooseStep, DAY_MS, FIVE_MINUTES_MS, HOUR_MS, MAX_POINTS, rangeSegments, resolveRange, RESOLUTION_MS, ROLLUP_STEPS, type Step } from '../src/query/timeRange';

const at = (iso: string) => new Date(iso);

describe('range segments', () => {
  it.each([
    ['2031-03-01T10:07:00Z', '2031-03-31T16:52:00Z'],
    ['2031-03-01T00:00:00Z', '2031-03-02T00:00:00Z'],
    ['2031-03-01T10:07:00Z', '2031-03-01T10:49:00Z'],
    ['2031-03-01T23:58:00Z', '2031-03-02T00:03:00Z'],
    ['2031-03-01T10:00:00Z', '2031-03-03T11:00:00Z'],
  ])('cover every 5-minute bucket of %s – %s exactly once', (from, to) => {
    const segments = rangeSegments({ from: at(from), to: at(to) });
    expect(segments.map((s) => s.resolution)).toEqual(['5m', '1h', '1d', '1h', '5m']);
    const first = Math.floor(at(from).getTime() / FIVE_MINUTES_MS) * FIVE_MINUTES_MS;
    const last = Math.ceil(at(to).getTime() / FIVE_MINUTES_MS) * FIVE_MINUTES_MS;
    for (let bucket = first; bucket < last; bucket += FIVE_MINUTES_MS) {
      const covering = segments.filter((s) => {
        const width = RESOLUTION_MS[s.resolution];
        const start = Math.floor(bucket / width) * width;
        return start >= s.from.getTime() && start < s.to.getTime();
      });
      expect([new Date(bucket).toISOString(), covering.length]).toEqual([new Date(bucket).toISOString(), 1]);
    }
    for (const s of segments) {
      expect(s.to.getTime()).toBeGreaterThanOrEqual(s.from.getTime());
      if (s.to > s.from) expect(s.from.getTime() % RESOLUTION_MS[s.resolution]).toBe(0);
    }
  });

  it('read whole days in the middle of a long range', () => {
    const [, , days] = rangeSegments({ from: at('2031-03-01T10:07:00Z'), to: at('2031-03-31T16:52:00Z') });
    expect([days!.from.toISOString(), days!.to.toISOString()]).toEqual(['2031-03-02T00:00:00.000Z', '2031-03-31T00:00:00.000Z']);
  });
});

describe('steps and sources', () => {
  const range = (hours: number) => ({ from: new Date(0), to: new Date(hours * HOUR_MS) });

  it('reads raw rows only for a window of at most an hour with a step under 5 minutes', () => {
    expect(chooseStep(range(1), 10_000, 1000)).toEqual({ stepMs: 10_000, source: 'raw' });
    expect(chooseStep(range(2), 10_000, 1000).source).toBe('5m');
    expect(chooseStep(range(1), FIVE_MINUTES_MS, 1000).source).toBe('5m');
  });

  it('picks the coarsest rollup not coarser than the step, and a step that is a multiple of it', () => {
    // 7 days in 1000 points: 10.08 minutes, so 15.
    expect(chooseStep(range(24 * 7), 10 * 60_000, 1000)).toEqual({ stepMs: 15 * 60_000, source: '5m' });
    expect(chooseStep(range(24 * 30), HOUR_MS, 1000)).toEqual({ stepMs: HOUR_MS, source: '1h' });
    expect(chooseStep(range(24 * 30), 90 * 60_000, 1000)).toEqual({ stepMs: 2 * HOUR_MS, source: '1h' });
    expect(chooseStep(range(24 * 400), undefined, 1000)).toEqual({ stepMs: 12 * HOUR_MS, source: '1h' });
    expect(chooseStep(range(24 * 400), DAY_MS, 1000)).toEqual({ stepMs: DAY_MS, source: '1d' });
  });

  it('reads 30 days at 1000 points in hourly rows (720 points), not 45-minute steps of 5-minute rows', () => {
    // Grafana's interval for 30 days over 1000 points: 43.2 minutes, rounded to 30.
    const step = chooseStep(range(24 * 30), 30 * 60_000, 1000);
    expect(step).toEqual({ stepMs: HOUR_MS, source: '1h' });
    expect((30 * DAY_MS) / step.stepMs).toBe(720);
    // 1800 points: 30-minute steps fit, six 5-minute rows each.
    expect(chooseStep(range(24 * 30), 30 * 60_000, 1800)).toEqual({ stepMs: 30 * 60_000, source: '5m' });
    // 7 days at 600 points (16.8 minutes): 20-minute steps.
    expect(chooseStep(range(24 * 7), 15 * 60_000, 600)).toEqual({ stepMs: 20 * 60_000, source: '5m' });
    // An interval of 5 hours: 6-hour steps, which nest in days.
    expect(chooseStep(range(24 * 30), 5 * HOUR_MS, 1000)).toEqual({ stepMs: 6 * HOUR_MS, source: '1h' });
  });

  it('offers only steps of whole rows that nest in the next coarser resolution', () => {
    for (const { stepMs, source } of ROLLUP_STEPS) {
      expect([stepMs, stepMs % RESOLUTION_MS[source]]).toEqual([stepMs, 0]);
      const next = source === '5m' ? HOUR_MS : DAY_MS;
      expect([stepMs, next % stepMs]).toEqual([stepMs, 0]);
    }
  });

  it('picks the smallest stored step at least intervalMs long that gives at most maxDataPoints points', () => {
    const candidates = (): Step[] => [...ROLLUP_STEPS, ...Array.from({ length: 400 }, (_, k) => ({ stepMs: (k + 1) * DAY_MS, source: '1d' as const }))];
    const intervals = [undefined, 1000, 10_000, 60_000, 5 * 60_000, 20 * 60_000, 30 * 60_000, HOUR_MS, 3 * HOUR_MS, 12 * HOUR_MS, DAY_MS, 7 * DAY_MS];
    let checked = 0;
    for (const hours of [2, 6, 24, 24 * 7, 24 * 30, 24 * 90, 24 * 400]) {
      for (const intervalMs of intervals) {
        for (const points of [3, 100, 600, 1000, 1800, 100_000]) {
          const step = chooseStep(range(hours), intervalMs, points);
          const rangeMs = hours * HOUR_MS;
          const fits = (s: Step) => s.stepMs >= (intervalMs ?? 0) && rangeMs / s.stepMs <= Math.min(points, MAX_POINTS);
          const label = `${hours} h, interval ${intervalMs}, ${points} points`;
          expect([label, fits(step)]).toEqual([label, true]);
          expect([label, candidates().some((c) => c.stepMs === step.stepMs && c.source === step.source)]).toEqual([label, true]);
          const smaller = candidates().find((c) => c.stepMs < step.stepMs && fits(c));
          expect([label, smaller ?? null]).toEqual([label, null]);
          checked++;
        }
      }
    }
    expect(checked).toBe(7 * 12 * 6);
  });

  it('never makes more than MAX_POINTS points', () => {
    const step = chooseStep(range(24 * 400), 1000, 100_000);
    expect((400 * DAY_MS) / step.stepMs).toBeLessThanOrEqual(MAX_POINTS);
  });

  it('accepts a range up to 400 days and refuses anything longer or reversed', () => {
    expect(() => resolveRange({ from: 0, to: 400 * DAY_MS }, 400 * DAY_MS)).not.toThrow();
    expect(() => resolveRange({ from: 0, to: 400 * DAY_MS + 1 }, 400 * DAY_MS)).toThrow(/at most 400 days/);
    expect(() => resolveRange({ from: 5, to: 5 }, 5)).toThrow(/before/);
  });
});
