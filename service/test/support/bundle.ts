// Reads the Grafana bundle of the repository (dashboards/, alerts/, provisioning/,
// docker-compose.yml) for the tests in test/grafana/. Nothing here talks to a Grafana.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';

export const PROJECT_ROOT = path.resolve(__dirname, '../../..');

export function projectPath(...parts: string[]): string {
  return path.join(PROJECT_ROOT, ...parts);
}

/** The plugin's id (plugin/src/plugin.json): the data source type the dashboards use. */
export const PLUGIN_ID: string = JSON.parse(readFileSync(projectPath('plugin/src/plugin.json'), 'utf8')).id;

export function readYaml<T = any>(relativePath: string): T {
  return YAML.parse(readFileSync(projectPath(relativePath), 'utf8')) as T;
}

export function filesIn(relativeDir: string, pattern: RegExp): string[] {
  return readdirSync(projectPath(relativeDir))
    .filter((name) => pattern.test(name))
    .sort()
    .map((name) => path.posix.join(relativeDir, name));
}

export interface DashboardFile {
  file: string;
  json: any;
}

export function loadDashboards(): DashboardFile[] {
  return filesIn('dashboards', /\.json$/).map((file) => ({ file, json: JSON.parse(readFileSync(projectPath(file), 'utf8')) }));
}

/** Every panel, rows' nested panels included. */
export function allPanels(dashboard: any): any[] {
  const panels: any[] = [];
  for (const panel of dashboard.panels ?? []) {
    panels.push(panel);
    if (panel.type === 'row') panels.push(...(panel.panels ?? []));
  }
  return panels;
}

export interface ProvisionedDatasource {
  name: string;
  /** 1 (the dashboards' org) or __AGOG_OPERATORS_ORG_ID__ (docker/grafana-provisioning.sh writes the id in). */
  orgId?: number | string;
  uid: string;
  type: string;
  access?: string;
  url?: string;
  user?: string;
  isDefault?: boolean;
  jsonData?: Record<string, unknown>;
  secureJsonData?: Record<string, unknown>;
}

export function provisionedDatasources(): ProvisionedDatasource[] {
  return filesIn('provisioning/datasources', /\.ya?ml$/).flatMap((file) => readYaml(file).datasources ?? []);
}

export interface AlertQuery {
  refId: string;
  datasourceUid: string;
  relativeTimeRange?: { from: number; to: number };
  model: Record<string, any>;
}

export interface AlertRule {
  uid: string;
  title: string;
  condition: string;
  data: AlertQuery[];
  dashboardUid?: string;
  panelId?: number;
  noDataState: string;
  execErrState: string;
  for: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
}

export interface AlertRuleFile {
  file: string;
  group: { orgId: number | string; name: string; folder: string; interval: string };
  rules: AlertRule[];
}

export function alertRuleFiles(): AlertRuleFile[] {
  return filesIn('alerts', /^rules-.*\.ya?ml$/).flatMap((file) =>
    (readYaml(file).groups ?? []).map((group: any) => ({ file, group, rules: group.rules ?? [] })),
  );
}

export function allAlertRules(): AlertRule[] {
  return alertRuleFiles().flatMap((f) => f.rules);
}
