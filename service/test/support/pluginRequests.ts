// The plugin's own request shaping (plugin/src/request.ts), for checking the dashboards'
// saved targets the way Grafana would send them: migrated, validated, variables
// interpolated, options mapped to the service's wire names. Loaded with require and a
// built path so that the service's type check does not compile the plugin's sources
// (they need the plugin's tsconfig); the types below describe what is used.

export interface SavedTarget {
  refId: string;
  queryType: string;
  hide?: boolean;
  [option: string]: unknown;
}

export interface WireQueryLike {
  refId: string;
  queryType: string;
  [option: string]: unknown;
}

export interface QueryBody {
  range: { from: number; to: number };
  maxDataPoints?: number;
  intervalMs?: number;
  tenantId?: string;
  queries: WireQueryLike[];
}

/** A variable's current value: one value, or several (a multi-value or "All" selection). */
export type VariableValues = Record<string, string | string[]>;

/** The part of Grafana's TemplateSrv that request shaping calls. */
interface TemplateSrvLike {
  replace(target?: string, scopedVars?: unknown, format?: string | ((value: string | string[]) => string)): string;
}

interface RequestModule {
  runnableQueries(targets: SavedTarget[]): SavedTarget[];
  toWireQuery(query: SavedTarget, templateSrv: TemplateSrvLike, scopedVars: unknown): WireQueryLike;
  buildQueryBodies(request: unknown, templateSrv: TemplateSrvLike): QueryBody[];
}

// eslint-disable-next-line @typescript-eslint/no-require-imports
const pluginRequest: RequestModule = require(['..', '..', '..', 'plugin', 'src', 'request'].join('/'));

/** A TemplateSrv that knows the given variables, as Grafana's does for a dashboard. */
export function templateSrvFor(variables: VariableValues): TemplateSrvLike {
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

export function runnableQueries(targets: SavedTarget[]): SavedTarget[] {
  return pluginRequest.runnableQueries(targets);
}

export function toWireQuery(target: SavedTarget, variables: VariableValues): WireQueryLike {
  return pluginRequest.toWireQuery(target, templateSrvFor(variables), {});
}

/** The bodies of POST /v1/query that the plugin sends for one panel's targets. */
export function buildQueryBodies(
  targets: SavedTarget[],
  variables: VariableValues,
  range: { from: number; to: number },
  maxDataPoints = 500,
): QueryBody[] {
  const request = {
    targets,
    range: { from: { valueOf: () => range.from }, to: { valueOf: () => range.to } },
    intervalMs: Math.max(1000, Math.floor((range.to - range.from) / maxDataPoints)),
    maxDataPoints,
    scopedVars: {},
    requestId: 'test',
  };
  return pluginRequest.buildQueryBodies(request, templateSrvFor(variables));
}
