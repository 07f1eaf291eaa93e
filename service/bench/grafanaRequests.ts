// The requests Grafana 12.4 makes for the provisioned dashboards: for each panel, the
// interval Grafana computes for a range and a panel width (maxDataPoints), then the
// plugin's own request shaping (plugin/src/request.ts, loaded from its source) turning
// the panel's targets into bodies of POST /v1/query.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

/**
 * Grafana's nice intervals (rangeutil.roundInterval in @grafana/data): a raw interval
 * below `below` ms becomes `interval` ms. Anything from 6 weeks up becomes a year.
 */
const GRAFANA_ROUNDING: ReadonlyArray<readonly [below: number, interval: number]> = [
  [10, 1], [15, 10], [35, 20], [75, 50], [150, 100], [350, 200], [750, 500],
  [1.5 * SECOND, SECOND], [3.5 * SECOND, 2 * SECOND], [7.5 * SECOND, 5 * SECOND], [12.5 * SECOND, 10 * SECOND],
  [17.5 * SECOND, 15 * SECOND], [25 * SECOND, 20 * SECOND], [45 * SECOND, 30 * SECOND], [1.5 * MINUTE, MINUTE],
  [3.5 * MINUTE, 2 * MINUTE], [7.5 * MINUTE, 5 * MINUTE], [12.5 * MINUTE, 10 * MINUTE], [17.5 * MINUTE, 15 * MINUTE],
  [25 * MINUTE, 20 * MINUTE], [45 * MINUTE, 30 * MINUTE], [1.5 * HOUR, HOUR], [2.5 * HOUR, 2 * HOUR],
  [4.5 * HOUR, 3 * HOUR], [9 * HOUR, 6 * HOUR], [DAY, 12 * HOUR], [7 * DAY, DAY], [21 * DAY, 7 * DAY], [42 * DAY, 30 * DAY],
];
const GRAFANA_LONGEST = 365 * DAY;

/** Grafana's rounding of a raw interval (ms) to a nice one. */
export function grafanaRoundInterval(ms: number): number {
  for (const [below, interval] of GRAFANA_ROUNDING) if (ms < below) return interval;
  return GRAFANA_LONGEST;
}

/**
 * The intervalMs Grafana puts on a panel's request (rangeutil.calculateInterval): the
 * range over maxDataPoints, rounded to a nice interval, and at least the lower limit (the
 * panel's min interval, else the data source's; none is set for this data source).
 */
export function grafanaIntervalMs(rangeMs: number, maxDataPoints: number, lowLimitMs = 1): number {
  return Math.max(grafanaRoundInterval(rangeMs / maxDataPoints), lowLimitMs);
}

export interface Target {
  refId: string;
  queryType: string;
  hide?: boolean;
  [option: string]: unknown;
}

export interface QueryBody {
  range: { from: number; to: number };
  maxDataPoints?: number;
  intervalMs?: number;
  tenantId?: string;
  queries: Array<{ refId: string; queryType: string; [option: string]: unknown }>;
}

/** A variable's value: one, or several (a multi-value or "All" selection). */
export type VariableValues = Record<string, string | string[]>;

interface TemplateSrvLike {
  replace(target?: string, scopedVars?: unknown, format?: string | ((value: string | string[]) => string)): string;
}

interface PluginRequestModule {
  buildQueryBodies(request: unknown, templateSrv: TemplateSrvLike): QueryBody[];
}

// Loaded by a built path so that the service's type check leaves the plugin's sources
// (compiled with the plugin's tsconfig) alone.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const pluginRequest: PluginRequestModule = require(['..', '..', 'plugin', 'src', 'request'].join('/'));

/** What Grafana's TemplateSrv does for the variables used here: $name and ${name}, arrays through the format. */
function templateSrvFor(variables: VariableValues): TemplateSrvLike {
  return {
    replace(target = '', _scopedVars, format) {
      return target.replace(/\$\{(\w+)(?::\w+)?\}|\$(\w+)/g, (whole, braced?: string, plain?: string) => {
        const name = (braced ?? plain)!;
        if (!(name in variables)) return whole;
        const value = variables[name]!;
        if (typeof format === 'function') return format(value);
        return Array.isArray(value) ? value.join(',') : value;
      });
    },
  };
}

/** The bodies the plugin sends for one panel's targets, with Grafana's interval. */
export function panelBodies(targets: Target[], variables: VariableValues, range: { from: number; to: number }, maxDataPoints: number): QueryBody[] {
  const request = {
    targets,
    range: { from: { valueOf: () => range.from }, to: { valueOf: () => range.to } },
    intervalMs: grafanaIntervalMs(range.to - range.from, maxDataPoints),
    maxDataPoints,
    scopedVars: {},
    requestId: 'bench',
  };
  return pluginRequest.buildQueryBodies(request, templateSrvFor(variables));
}

export interface Panel {
  dashboard: string;
  id: number;
  title: string;
  type: string;
  targets: Target[];
}

export interface Dashboard {
  file: string;
  title: string;
  json: any;
  panels: Panel[];
}

const DASHBOARDS_DIR = path.resolve(__dirname, '../../dashboards');

/** Every dashboard file in dashboards/, with its panels that have targets (rows' nested panels too). */
export function loadDashboards(): Dashboard[] {
  return readdirSync(DASHBOARDS_DIR)
    .filter((name) => name.endsWith('.json'))
    .sort()
    .map((file) => {
      const json = JSON.parse(readFileSync(path.join(DASHBOARDS_DIR, file), 'utf8'));
      const panels: Panel[] = [];
      const walk = (list: any[]) => {
        for (const p of list ?? []) {
          if (p.panels) walk(p.panels);
          if (p.targets?.length) panels.push({ dashboard: file, id: p.id, title: p.title, type: p.type, targets: p.targets });
        }
      };
      walk(json.panels);
      return { file, title: json.title ?? file, json, panels };
    });
}
