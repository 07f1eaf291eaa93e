// How the query API cuts ranges and picks steps and sources (src/query/timeRange.ts).
import { chooseStep, DAY_MS, FIVE_MINUTES_MS, HOUR_MS, MAX_POINTS, rangeSegments, resolveRange, RESOLUTION_MS } from '../src/query/timeRange';

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
