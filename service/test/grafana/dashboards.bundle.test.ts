// The provisioned dashboards (dashboards/*.json), checked without a Grafana: the model and
// its normal form, uids and links, units, thresholds and descriptions, data source
// references against provisioning/, template variables, and every plugin query as the
// plugin would send it, validated by the service's own contract.
// The type check against @grafana/schema is dashboardTypes.ts (run by `npm run typecheck`).
import { readFileSync } from 'node:fs';
import { query as contractQuery } from '../../src/contract/query';
import { dashboardModelOf, formatDashboardFile } from '../../src/grafana/dashboardJson';
import { thresholdOf } from '../support/alertEvaluation';
import { allAlertRules, allPanels, filesIn, loadDashboards, PLUGIN_ID, projectPath, provisionedDatasources, readYaml } from '../support/bundle';
import { runnableQueries, toWireQuery, type SavedTarget, type VariableValues } from '../support/pluginRequests';
import { typeCheckedDashboards } from './dashboardTypes';

const dashboards = loadDashboards();
const byUid = new Map(dashboards.map((d) => [d.json.uid as string, d.json]));
const datasources = provisionedDatasources();

/** Every object under a "datasource" key, with where it was found. */
function datasourceRefs(node: unknown, path = ''): Array<{ path: string; ref: { type?: string; uid?: string } }> {
  if (Array.isArray(node)) return node.flatMap((item, i) => datasourceRefs(item, `${path}[${i}]`));
  if (typeof node !== 'object' || node === null) return [];
  return Object.entries(node).flatMap(([key, value]) => {
    const here = `${path}.${key}`;
    if (key === 'datasource' && typeof value === 'object' && value !== null) return [{ path: here, ref: value as { type?: string; uid?: string } }];
    return datasourceRefs(value, here);
  });
}

function variable(dashboard: any, name: string): any {
  return (dashboard.templating?.list ?? []).find((v: any) => v.name === name);
}

/** The plugin's targets of a dashboard: panels, query variables and annotations. */
function pluginTargets(dashboard: any): Array<{ where: string; target: SavedTarget }> {
  const found: Array<{ where: string; target: SavedTarget }> = [];
  for (const panel of allPanels(dashboard)) {
    for (const target of panel.targets ?? []) found.push({ where: `panel ${panel.id} "${panel.title}" ${target.refId}`, target });
  }
  for (const v of dashboard.templating?.list ?? []) {
    if (v.type === 'query' && v.datasource?.type === PLUGIN_ID) found.push({ where: `variable ${v.name}`, target: v.query });
  }
  for (const a of dashboard.annotations?.list ?? []) {
    if (a.datasource?.type === PLUGIN_ID) found.push({ where: `annotation "${a.name}"`, target: a.target });
  }
  return found;
}

const ONE_TENANT = '11111111-1111-4111-8111-111111111111';
const ONE_VALUE: VariableValues = { tenant: ONE_TENANT, endpoint: '/api/orders', fingerprint: '00c0ffee00c0ffee' };
const SEVERAL: VariableValues = { tenant: '', endpoint: ['/api/orders', '/api/users'], fingerprint: ['00c0ffee00c0ffee', '0123456789abcdef'] };

/** The variables' values in two situations Grafana produces: one value each, or "All" wherever a variable allows it. */
function selections(dashboard: any): Array<[string, VariableValues]> {
  const all: VariableValues = { ...ONE_VALUE, tenant: '' };
  for (const v of dashboard.templating?.list ?? []) {
    if ((v.includeAll || v.multi) && v.name in SEVERAL) all[v.name] = SEVERAL[v.name]!;
  }
  return [
    ['one value each', ONE_VALUE],
    ['All where allowed, and no tenant (a tenant token)', all],
  ];
}

describe.each(dashboards.map((d) => [d.file, d.json] as const))('%s', (file, dashboard) => {
  it('is the classic JSON model at the schema version of Grafana 12, without id or version noise', () => {
    expect(dashboardModelOf(dashboard)).toBe('classic');
    expect(dashboard.schemaVersion).toBe(42);
    expect(dashboard).not.toHaveProperty('id');
    expect(dashboard).not.toHaveProperty('version');
  });

  it('is stored in the normal form that `dashboards pull` writes', () => {
    expect(readFileSync(projectPath(file), 'utf8')).toBe(formatDashboardFile(dashboard));
  });

  it('has a fixed readable uid, a title, a description, the shared tag and links to the other dashboards', () => {
    expect(dashboard.uid).toMatch(/^agog-[a-z]+(-[a-z]+)*$/);
    expect(dashboard.title).toMatch(/^AGOG /);
    expect(dashboard.description.length).toBeGreaterThan(20);
    expect(dashboard.tags).toContain('agog-performance');
    expect(dashboard.links).toEqual(
      expect.arrayContaining([expect.objectContaining({ type: 'dashboards', tags: ['agog-performance'], includeVars: true, keepTime: true })]),
    );
  });

  it('refreshes at a sensible pace over a relative time range', () => {
    expect(['30s', '1m', '5m']).toContain(dashboard.refresh);
    expect(dashboard.time.from).toMatch(/^now-\d+[mhd]$/);
    expect(dashboard.time.to).toBe('now');
  });

  it('gives every panel a description, a unit and thresholds, and unique ids on the 24-column grid', () => {
    const panels = allPanels(dashboard).filter((p) => p.type !== 'row');
    expect(panels.length).toBeGreaterThan(0);
    for (const panel of panels) {
      const where = `panel ${panel.id} "${panel.title}"`;
      expect([where, typeof panel.description === 'string' && panel.description.length > 20]).toEqual([where, true]);
      expect([where, typeof panel.fieldConfig?.defaults?.unit]).toEqual([where, 'string']);
      const steps = panel.fieldConfig?.defaults?.thresholds?.steps ?? [];
      expect([where, steps.length > 0 && steps[0].value === null]).toEqual([where, true]);
      expect(panel.gridPos.x + panel.gridPos.w).toBeLessThanOrEqual(24);
    }
    const ids = panels.map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('picks fields by the names in the service\'s frames, never by display names the plugin may change', () => {
    for (const panel of allPanels(dashboard)) {
      const where = `panel ${panel.id} "${panel.title}"`;
      // reduceOptions.fields, filterFieldsByName patterns and byRegexp overrides match display
      // names; byName overrides and filterFieldsByName names also match the raw field name.
      expect([where, panel.options?.reduceOptions?.fields ?? '']).toEqual([where, expect.stringMatching(/^(|\/\.\*\/)$/)]);
      for (const t of panel.transformations ?? []) {
        if (t.id === 'filterFieldsByName') expect([where, t.options.include]).toEqual([where, { names: expect.any(Array) }]);
      }
      for (const o of panel.fieldConfig?.overrides ?? []) expect([where, o.matcher.id]).toEqual([where, 'byName']);
    }
  });

  it('refers only to data sources provisioned in provisioning/, through its data source variable', () => {
    const datasourceVariable = variable(dashboard, 'datasource');
    expect(datasourceVariable).toMatchObject({ type: 'datasource', query: PLUGIN_ID });
    const selected = datasources.find((d) => d.uid === datasourceVariable.current.value);
    expect(selected?.type).toBe(PLUGIN_ID);
    for (const { path, ref } of datasourceRefs(dashboard)) {
      if (ref.uid === '-- Grafana --') continue;
      if (ref.uid === '${datasource}') {
        expect([path, ref.type]).toEqual([path, PLUGIN_ID]);
        continue;
      }
      const provisioned = datasources.find((d) => d.uid === ref.uid);
      expect([path, provisioned?.type]).toEqual([path, ref.type]);
    }
  });

  it('has the tenant variable, sends it with every plugin query, and defines the variables its queries use', () => {
    expect(variable(dashboard, 'tenant')).toMatchObject({ type: 'query', query: { queryType: 'variable', variable: 'tenants' } });
    for (const { where, target } of pluginTargets(dashboard)) {
      if (target.queryType !== 'variable' || target.variable !== 'tenants') expect([where, target.tenantId]).toEqual([where, '$tenant']);
      for (const name of JSON.stringify(target).match(/\$\{?(\w+)/g) ?? []) {
        expect([where, Boolean(variable(dashboard, name.replace(/[${]/g, '')))]).toEqual([where, true]);
      }
    }
  });

  it.each(selections(dashboard))('sends only valid queries when the variables hold %s', (_label, values) => {
    const targets = pluginTargets(dashboard);
    expect(targets.length).toBeGreaterThan(0);
    for (const { where, target } of targets) {
      expect([where, runnableQueries([target]).length]).toEqual([where, 1]);
      const wire = toWireQuery(runnableQueries([target])[0]!, values);
      const parsed = contractQuery.safeParse(wire);
      expect([where, parsed.success ? 'valid' : parsed.error.message]).toEqual([where, 'valid']);
    }
  });
});

describe('the dashboards together', () => {
  it('are all type-checked against @grafana/schema by dashboardTypes.ts', () => {
    expect(Object.keys(typeCheckedDashboards).sort()).toEqual(filesIn('dashboards', /\.json$/).map((f) => f.replace('dashboards/', '')));
  });

  it('have distinct uids and titles, provisioned into one "AGOG Performance" folder of each org', () => {
    expect(byUid.size).toBe(dashboards.length);
    expect(new Set(dashboards.map((d) => d.json.title)).size).toBe(dashboards.length);
    const providers = filesIn('provisioning/dashboards', /\.ya?ml$/).flatMap((f) => readYaml(f).providers);
    expect(providers.map((p) => p.orgId)).toEqual(expect.arrayContaining([1, '__AGOG_OPERATORS_ORG_ID__']));
    expect(providers).toHaveLength(2);
    for (const provider of providers) {
      expect(provider).toMatchObject({ folder: 'AGOG Performance', allowUiUpdates: true, type: 'file', options: { foldersFromFilesStructure: false } });
    }
  });

  it('are the five the product promises, plus the fingerprint drill-down', () => {
    expect([...byUid.keys()].sort()).toEqual(['agog-endpoints', 'agog-fingerprint', 'agog-overview', 'agog-recommendations', 'agog-resources', 'agog-slow-queries']);
  });

  it('drill down from the slow query table to the fingerprint detail, carrying the fingerprint, tenant and time', () => {
    const table = allPanels(byUid.get('agog-slow-queries')).find((p) => p.type === 'table');
    const links = table.fieldConfig.overrides.flatMap((o: any) => o.properties.filter((p: any) => p.id === 'links').flatMap((p: any) => p.value));
    expect(links).toHaveLength(1);
    expect(links[0].url).toMatch(/^\/d\/agog-fingerprint\//);
    expect(links[0].url).toContain('var-fingerprint=${__value.raw}');
    expect(links[0].url).toContain('${tenant:queryparam}');
    expect(links[0].url).toContain('${__url_time_range}');
    expect(variable(byUid.get('agog-fingerprint'), 'fingerprint')).toMatchObject({ includeAll: false });
  });

  it('color the overview health score red below 60, yellow below 80 and green from 80', () => {
    const health = allPanels(byUid.get('agog-overview')).find((p) => p.id === 1);
    expect(health.type).toBe('stat');
    expect(health.fieldConfig.defaults.thresholds.steps).toEqual([
      { color: 'red', value: null },
      { color: 'yellow', value: 60 },
      { color: 'green', value: 80 },
    ]);
  });

  it("draw each alert rule's threshold on the panel the rule links to", () => {
    const drawn = ['agog-health-critical', 'agog-p95-latency', 'agog-cache-stale', 'agog-cpu-high', 'agog-memory-high', 'agog-connections-high'];
    const rules = allAlertRules().filter((r) => drawn.includes(r.uid));
    expect(rules).toHaveLength(drawn.length);
    for (const rule of rules) {
      const panel = allPanels(byUid.get(rule.dashboardUid!)).find((p) => p.id === rule.panelId);
      const values = panel.fieldConfig.defaults.thresholds.steps.map((s: any) => s.value);
      expect([rule.uid, values]).toEqual([rule.uid, expect.arrayContaining([thresholdOf(rule).params[0]])]);
    }
  });
});
