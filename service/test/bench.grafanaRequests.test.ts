// The Grafana panel benchmark's requests (bench/grafanaRequests.ts): Grafana's interval
// for a range and panel width, and the plugin's bodies for every provisioned panel.
import { grafanaIntervalMs, grafanaRoundInterval, loadDashboards, panelBodies } from '../bench/grafanaRequests';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

describe("Grafana's interval", () => {
  it.each([
    ['1 h at 1800 points', HOUR, 1800, 2_000],
    ['1 h at 600 points', HOUR, 600, 5_000],
    ['24 h at 600 points', DAY, 600, 2 * MINUTE],
    ['7 d at 600 points', 7 * DAY, 600, 15 * MINUTE],
    ['7 d at 1800 points', 7 * DAY, 1800, 5 * MINUTE],
    ['30 d at 1000 points', 30 * DAY, 1000, 30 * MINUTE],
    ['30 d at 1800 points', 30 * DAY, 1800, 20 * MINUTE],
    ['30 d at 600 points', 30 * DAY, 600, HOUR],
  ])('for %s is the range over the points rounded to a nice interval', (_label, rangeMs, points, expected) => {
    expect(grafanaIntervalMs(rangeMs, points)).toBe(expected);
  });

  it('rounds at the boundaries between nice intervals, and keeps a lower limit', () => {
    expect(grafanaRoundInterval(45 * MINUTE - 1)).toBe(30 * MINUTE);
    expect(grafanaRoundInterval(45 * MINUTE)).toBe(HOUR);
    expect(grafanaRoundInterval(DAY - 1)).toBe(12 * HOUR);
    expect(grafanaRoundInterval(DAY)).toBe(DAY);
    expect(grafanaRoundInterval(100 * DAY)).toBe(365 * DAY);
    expect(grafanaIntervalMs(HOUR, 1800, MINUTE)).toBe(MINUTE);
  });
});

describe("the dashboards' panel requests", () => {
  const dashboards = loadDashboards();
  const range = { from: Date.UTC(2031, 2, 1), to: Date.UTC(2031, 2, 31) };
  const values = { tenant: 't', endpoint: ['/a', '/b'], fingerprint: '0000000000000011' };

  it('reads every dashboard file and each panel with targets', () => {
    expect(dashboards.length).toBeGreaterThanOrEqual(6);
    for (const d of dashboards) expect([d.file, d.panels.length > 0]).toEqual([d.file, true]);
  });

  it("builds each panel's bodies with the plugin's step: 30 days at 1800 points send 30 minutes, with no endpoint for All", () => {
    for (const d of dashboards) {
      for (const p of d.panels) {
        const bodies = panelBodies(p.targets, values, range, 1800);
        expect([d.file, p.title, bodies.length > 0]).toEqual([d.file, p.title, true]);
        for (const b of bodies) {
          expect(b.intervalMs).toBe(30 * MINUTE);
          expect(b.maxDataPoints).toBe(1800);
          for (const q of b.queries) expect(q.endpoint).toBeUndefined();
        }
      }
    }
    const detail = dashboards.find((d) => d.file === 'fingerprint-detail.json')!;
    expect(panelBodies(detail.panels[0]!.targets, values, range, 600)[0]!.queries[0]!.queryHash).toBe('0000000000000011');
  });
});
