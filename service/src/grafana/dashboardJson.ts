// The dashboards of dashboards/ as files: which of Grafana's three JSON models an answer
// holds, and the one normalized form every file is written in, so that pulling an
// unchanged dashboard changes nothing and an edit shows as a small diff.
// Used by `agog-perf dashboards pull` (cli/commands/dashboards.ts); the tests in
// test/grafana/ check that every committed dashboard is already in this form.

/** Grafana's dashboard models: classic JSON, the v1 resource (classic in `spec`), the v2 resource. */
export type DashboardModel = 'classic' | 'v1-resource' | 'v2-resource';

export class UnsupportedDashboardError extends Error {
  override name = 'UnsupportedDashboardError';
}

/** How to get the classic model out of Grafana 12, for the messages that refuse v2. */
export const CLASSIC_EXPORT_HINT = [
  'File provisioning loads only the classic JSON model. To keep this dashboard as a file:',
  '  1. In Grafana, open the dashboard, then Export > Export as JSON (Export as code).',
  '  2. Choose the "Classic" model (not "V2 Resource"), and save the file.',
  '  3. Run `npx agog-perf dashboards pull --file <saved.json>` to normalize it into dashboards/.',
  'A dashboard that uses v2-only features (tabs, auto grid, conditional rendering) has no classic',
  'form: rebuild those parts with rows and panels first.',
].join('\n');

const RESOURCE_API = /^dashboard\.grafana\.app\/(v\w+)$/;

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A v2 spec lays out `elements` in a `layout`; a classic one has `panels` and a `schemaVersion`. */
function looksLikeV2Spec(spec: Record<string, unknown>): boolean {
  return isObject(spec.elements) || isObject(spec.layout);
}

export function dashboardModelOf(body: unknown): DashboardModel | undefined {
  if (!isObject(body)) return undefined;
  const api = typeof body.apiVersion === 'string' ? RESOURCE_API.exec(body.apiVersion) : null;
  if (api && isObject(body.spec)) {
    return api[1]!.startsWith('v2') || looksLikeV2Spec(body.spec) ? 'v2-resource' : 'v1-resource';
  }
  if (looksLikeV2Spec(body)) return 'v2-resource';
  if (typeof body.schemaVersion === 'number' || Array.isArray(body.panels)) return 'classic';
  return undefined;
}

/**
 * The classic dashboard in an answer of Grafana's HTTP API (`{ dashboard, meta }`), a
 * resource (`{ apiVersion, kind, spec }`) or an exported file. Refuses the v2 model.
 */
export function classicDashboardOf(body: unknown, label: string): Record<string, unknown> {
  const candidate = isObject(body) && isObject(body.dashboard) ? body.dashboard : body;
  const model = dashboardModelOf(candidate);
  if (model === 'v2-resource') {
    const api = isObject(candidate) && typeof candidate.apiVersion === 'string' ? ` (${candidate.apiVersion})` : '';
    throw new UnsupportedDashboardError(`${label} is in Grafana's v2 dashboard format${api}.\n${CLASSIC_EXPORT_HINT}`);
  }
  if (model === 'v1-resource') return (candidate as { spec: Record<string, unknown> }).spec;
  if (model === 'classic') return candidate as Record<string, unknown>;
  throw new UnsupportedDashboardError(`${label} is not a Grafana dashboard: expected the classic JSON model (schemaVersion, panels).`);
}

/** Top-level keys Grafana adds that are not part of the dashboard's meaning. */
const DASHBOARD_NOISE = ['id', 'version', 'iteration', '__inputs', '__requires', '__elements'];
/** Per-panel keys Grafana adds on save. */
const PANEL_NOISE = ['pluginVersion'];

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (!isObject(value)) return value;
  const sorted: Record<string, unknown> = {};
  for (const key of Object.keys(value).sort()) {
    if (value[key] !== undefined) sorted[key] = sortKeys(value[key]);
  }
  return sorted;
}

function cleanPanel(panel: unknown): unknown {
  if (!isObject(panel)) return panel;
  const copy: Record<string, unknown> = { ...panel };
  for (const key of PANEL_NOISE) delete copy[key];
  if (Array.isArray(copy.panels)) copy.panels = copy.panels.map(cleanPanel);
  return copy;
}

/** Variables whose options Grafana fetches again on load keep none in the file. */
function cleanVariable(variable: unknown): unknown {
  if (!isObject(variable)) return variable;
  const copy: Record<string, unknown> = { ...variable };
  if (copy.type === 'query' || copy.type === 'datasource') copy.options = [];
  return copy;
}

/**
 * The normalized form: noise removed (numeric id, version, export inputs, per-panel
 * plugin versions, fetched variable options), keys sorted at every level.
 */
export function normalizeDashboard(dashboard: Record<string, unknown>): Record<string, unknown> {
  const copy: Record<string, unknown> = { ...dashboard };
  for (const key of DASHBOARD_NOISE) delete copy[key];
  if (Array.isArray(copy.panels)) copy.panels = copy.panels.map(cleanPanel);
  if (isObject(copy.templating) && Array.isArray(copy.templating.list)) {
    copy.templating = { ...copy.templating, list: copy.templating.list.map(cleanVariable) };
  }
  return sortKeys(copy) as Record<string, unknown>;
}

/** The text of a dashboard file: normalized, two-space indented, one final newline. */
export function formatDashboardFile(dashboard: Record<string, unknown>): string {
  return JSON.stringify(normalizeDashboard(dashboard), null, 2) + '\n';
}
