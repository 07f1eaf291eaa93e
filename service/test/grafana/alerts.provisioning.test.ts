// The alerting files (alerts/*.yaml) as Grafana's file provisioning reads them: every
// rule carries the labels, annotations, states and links the on-call engineer needs,
// reads the provisioned read-only PostgreSQL data source, and its SQL uses only macros
// Grafana knows. Whether each rule fires when it should is alerts.rules.test.ts.
import { readFileSync } from 'node:fs';
import { thresholdOf } from '../support/alertEvaluation';
import { alertRuleFiles, allAlertRules, allPanels, filesIn, loadDashboards, projectPath, provisionedDatasources, readYaml } from '../support/bundle';
import { expandPostgresMacros } from '../support/grafanaMacros';

const rules = allAlertRules();
const dashboards = new Map(loadDashboards().map((d) => [d.json.uid, d.json]));
const datasources = provisionedDatasources();
const readme = readFileSync(projectPath('alerts/README.md'), 'utf8');

/** Every string in a structure, for checks on what Grafana interpolates. */
function strings(node: unknown): string[] {
  if (typeof node === 'string') return [node];
  if (Array.isArray(node)) return node.flatMap(strings);
  if (typeof node === 'object' && node !== null) return Object.values(node).flatMap(strings);
  return [];
}

describe('the alert rule files', () => {
  it('hold the original runbook\'s four rules and the four resource and latency rules, with their thresholds', () => {
    const summary = Object.fromEntries(rules.map((r) => [r.uid, [r.labels.severity, thresholdOf(r).type, thresholdOf(r).params[0]]]));
    expect(summary).toEqual({
      'agog-cache-stale': ['critical', 'gt', 600],
      'agog-health-critical': ['critical', 'lt', 60],
      'agog-slow-query-count': ['warning', 'gt', 100],
      'agog-partition-count': ['warning', 'gt', 35],
      'agog-p95-latency': ['warning', 'gt', 100],
      'agog-cpu-high': ['warning', 'gt', 80],
      'agog-memory-high': ['warning', 'gt', 90],
      'agog-connections-high': ['warning', 'gt', 90],
    });
  });

  it('put every group in the operators\' org, in the folder of its dashboards, evaluated every minute', () => {
    const provider = readYaml('provisioning/dashboards/agog-performance-operators.yaml').providers[0];
    for (const { group } of alertRuleFiles()) {
      expect(group).toMatchObject({ orgId: provider.orgId, folder: provider.folder, interval: '1m' });
    }
    expect(provider.orgId).toBe('__AGOG_OPERATORS_ORG_ID__');
  });

  it.each(rules.map((r) => [r.uid, r] as const))('%s: labels severity and tenant, and annotations with values, runbook and dashboard link', (_uid, rule) => {
    expect(['critical', 'warning']).toContain(rule.labels.severity);
    expect(rule.labels.tenant).toMatch(/^(all|\{\{ \.Labels\.tenant \}\})$/);
    expect(rule.annotations.summary).toMatch(/\.Values\.B\.Value/);
    expect(rule.annotations.description?.length).toBeGreaterThan(80);
    expect((rule.annotations.runbook ?? '').split('\n').filter((line) => /^\d+\. /.test(line)).length).toBeGreaterThanOrEqual(3);
    // externalURL is GF_SERVER_ROOT_URL, which ends with "/"; orgId opens the operators' copy.
    expect(rule.annotations.dashboard).toMatch(new RegExp(`^\\{\\{ externalURL \\}\\}d/${rule.dashboardUid}/[a-z-]+\\?orgId=__AGOG_OPERATORS_ORG_ID__(&|$)`));
    // Grafana expands environment variables in provisioning files: a $ in a template would be eaten.
    for (const text of [...Object.values(rule.labels), ...Object.values(rule.annotations)]) expect(text).not.toContain('$');
  });

  it.each(rules.map((r) => [r.uid, r] as const))('%s: links to an existing dashboard panel and is listed in alerts/README.md', (_uid, rule) => {
    const dashboard = dashboards.get(rule.dashboardUid);
    expect(dashboard).toBeDefined();
    expect(allPanels(dashboard).map((p) => p.id)).toContain(rule.panelId);
    expect(readme).toContain(rule.title);
  });

  it.each(rules.map((r) => [r.uid, r] as const))('%s: queries the read-only PostgreSQL data source, then reduces and compares', (_uid, rule) => {
    const [query, ...expressions] = rule.data;
    const datasource = datasources.find((d) => d.uid === query!.datasourceUid);
    expect(datasource).toMatchObject({ uid: 'agog-postgres-readonly', type: 'grafana-postgresql-datasource' });
    expect(query!.model).toMatchObject({ refId: query!.refId, format: 'table', rawQuery: true, editorMode: 'code' });
    expect(query!.relativeTimeRange!.from).toBeGreaterThan(0);
    expect(expressions.map((e) => [e.refId, e.datasourceUid, e.model.type])).toEqual([
      ['B', '__expr__', 'reduce'],
      ['C', '__expr__', 'threshold'],
    ]);
    expect(rule.condition).toBe('C');
    expect(() => expandPostgresMacros(query!.model.rawSql, { from: new Date(0), to: new Date() })).not.toThrow();
  });

  it.each(rules.map((r) => [r.uid, r] as const))('%s: has sensible pending, no-data and error states', (_uid, rule) => {
    expect(rule.for).toMatch(/^\d+[mh]$/);
    expect(['OK', 'NoData', 'Alerting', 'KeepLast']).toContain(rule.noDataState);
    expect(rule.execErrState).toBe('Error');
  });

  it('alert on no data only for the stale cache, where silence means the pipeline stopped', () => {
    const alertingOnNoData = rules.filter((r) => r.noDataState === 'Alerting').map((r) => r.uid);
    expect(alertingOnNoData).toEqual(['agog-cache-stale']);
  });

  it('read the rollups or the cache, except the slow-query count, which reads one hour of the raw query log', () => {
    const raw = /\b(FROM|JOIN)\s+(api_performance_log|query_performance_log|system_resource_metrics)\b/i;
    for (const rule of rules) {
      const sql = rule.data[0]!.model.rawSql as string;
      if (rule.uid === 'agog-slow-query-count') {
        expect(sql).toMatch(/FROM query_performance_log/);
        expect(rule.data[0]!.relativeTimeRange!.from).toBe(3600);
        expect(sql).toContain('$__timeFilter("timestamp")');
      } else {
        expect([rule.uid, raw.test(sql)]).toEqual([rule.uid, false]);
      }
    }
  });

  it('have unique uids', () => {
    expect(new Set(rules.map((r) => r.uid)).size).toBe(rules.length);
  });
});

describe('delivery', () => {
  const contactPoints = readYaml('alerts/contact-points.yaml').contactPoints;
  const policies = readYaml('alerts/notification-policies.yaml').policies;

  it('is one webhook whose URL comes from the environment', () => {
    expect(contactPoints).toHaveLength(1);
    expect(contactPoints[0].receivers).toEqual([
      expect.objectContaining({ uid: 'agog-webhook', type: 'webhook', settings: expect.objectContaining({ url: '${AGOG_ALERT_WEBHOOK_URL}' }) }),
    ]);
  });

  it('routes every severity the rules use to a contact point that exists, grouped by tenant', () => {
    const names = new Set(contactPoints.map((c: any) => c.name));
    const policy = policies[0];
    expect(policy.group_by).toContain('tenant');
    const receivers = [policy.receiver, ...policy.routes.map((r: any) => r.receiver)];
    expect(receivers.every((r) => names.has(r))).toBe(true);
    const routed = policy.routes.map((r: any) => r.object_matchers[0]);
    for (const severity of new Set(rules.map((r) => r.labels.severity))) expect(routed).toContainEqual(['severity', '=', severity]);
  });

  it('uses no environment variable in the alerting files except the webhook URL', () => {
    const texts = filesIn('alerts', /\.ya?ml$/).flatMap((f) => strings(readYaml(f)).map((t) => [f, t] as const));
    const variables = texts.flatMap(([f, t]) => (t.match(/\$\{?\w+/g) ?? []).map((v) => [f, v]))
      .filter(([, v]) => !v!.startsWith('$__'));
    expect(variables).toEqual([['alerts/contact-points.yaml', '${AGOG_ALERT_WEBHOOK_URL']]);
  });
});
