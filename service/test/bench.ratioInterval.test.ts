// The benchmark's interval for a ratio of p95s (bench/ratioInterval.ts): exact where no
// resampling can move the ratio, around the measured ratio otherwise, wider with fewer
// rounds, and the same for the same samples.
import { p95RatioInterval, quantile } from '../bench/ratioInterval';
import { seededRandom } from '../bench/seededRandom';

/** Heavy-tailed times: mostly near `base`, now and then several times longer. */
function times(random: () => number, n: number, base: number): number[] {
  return Array.from({ length: n }, () => base * (1 + random() * 0.3) * (random() < 0.08 ? 2 + random() * 2 : 1));
}

const p95 = (values: number[]) => quantile([...values].sort((x, y) => x - y), 0.95);

describe('quantile', () => {
  it('interpolates between neighbours as the report does', () => {
    expect(quantile([1, 2, 3, 4], 0.5)).toBeCloseTo(2.5, 12);
    expect(quantile([10, 20], 0.95)).toBeCloseTo(19.5, 12);
    expect(quantile([7], 0.95)).toBe(7);
    expect(() => quantile([], 0.5)).toThrow(/no values/);
  });
});

describe('p95RatioInterval', () => {
  it('is one point when every round has the same ratio', () => {
    const random = seededRandom(3);
    const a = times(random, 200, 10);
    expect(p95RatioInterval(a, a)).toEqual([1, 1]);
    const [lo, hi] = p95RatioInterval(a, a.map((x) => 2 * x));
    expect(lo).toBeCloseTo(2, 12);
    expect(hi).toBeCloseTo(2, 12);
  });

  it('holds the measured ratio, and narrows with more rounds', () => {
    const random = seededRandom(11);
    const a = times(random, 300, 10);
    const b = times(random, 300, 12);
    const measured = p95(b) / p95(a);
    const [lo, hi] = p95RatioInterval(a, b);
    expect(lo).toBeLessThan(measured);
    expect(hi).toBeGreaterThan(measured);
    const [fewLo, fewHi] = p95RatioInterval(a.slice(0, 40), b.slice(0, 40));
    expect(fewHi - fewLo).toBeGreaterThan(hi - lo);
  });

  it('gives the same interval for the same samples, and refuses unpaired ones', () => {
    const random = seededRandom(5);
    const a = times(random, 100, 10);
    const b = times(random, 100, 10);
    expect(p95RatioInterval(a, b)).toEqual(p95RatioInterval(a, b));
    expect(() => p95RatioInterval(a, b.slice(1))).toThrow(/differ in length: 100 and 99/);
    expect(() => p95RatioInterval([], [])).toThrow(/no samples/);
  });
});
