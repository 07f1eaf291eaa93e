// Grafana's provisioning files (provisioning/): the data sources the dashboards and alert
// rules refer to exist with the right types, secrets come from the environment, and the
// README's uid diagram names every uid there is.
import { readFileSync } from 'node:fs';
import { allAlertRules, filesIn, loadDashboards, PLUGIN_ID, projectPath, provisionedDatasources, readYaml } from '../support/bundle';

const datasources = provisionedDatasources();
const readme = readFileSync(projectPath('provisioning/README.md'), 'utf8');

describe('provisioning/datasources', () => {
  it('provisions the plugin for one tenant into the dashboards\' org, and for all tenants and the read-only PostgreSQL into the operators\' org, with fixed uids', () => {
    expect(datasources.map((d) => [d.uid, d.type, d.orgId]).sort()).toEqual([
      ['agog-performance', PLUGIN_ID, 1],
      ['agog-performance-admin', PLUGIN_ID, '__AGOG_OPERATORS_ORG_ID__'],
      ['agog-postgres-readonly', 'grafana-postgresql-datasource', '__AGOG_OPERATORS_ORG_ID__'],
    ]);
    // One default per org (Grafana refuses two).
    expect(datasources.filter((d) => d.isDefault).map((d) => [d.uid, d.orgId]).sort()).toEqual([
      ['agog-performance', 1],
      ['agog-performance-admin', '__AGOG_OPERATORS_ORG_ID__'],
    ]);
  });

  it('points the plugin at the service through the data proxy, with the token from the environment', () => {
    for (const d of datasources.filter((x) => x.type === PLUGIN_ID)) {
      expect(d.access).toBe('proxy');
      expect(d.jsonData).toEqual({ serviceUrl: '${AGOG_SERVICE_URL}' });
      expect(d.secureJsonData).toEqual({ apiToken: d.uid.endsWith('-admin') ? '${AGOG_ADMIN_TOKEN}' : '${AGOG_READ_TOKEN}' });
    }
  });

  it('keeps the PostgreSQL login and password in the environment', () => {
    const postgres = datasources.find((d) => d.uid === 'agog-postgres-readonly')!;
    expect(postgres.user).toBe('${AGOG_ALERTING_DB_USER}');
    expect(postgres.url).toBe('${AGOG_ALERTING_DB_HOST}');
    expect(postgres.secureJsonData).toEqual({ password: '${AGOG_ALERTING_DB_PASSWORD}' });
    expect(postgres.jsonData).toMatchObject({ database: '${AGOG_ALERTING_DB_NAME}', sslmode: '${AGOG_ALERTING_DB_SSLMODE}' });
  });

  it('provides every data source uid the dashboards and the alert rules refer to', () => {
    const uids = new Set(datasources.map((d) => d.uid));
    const fromDashboards = loadDashboards().map((d) => d.json.templating.list.find((v: any) => v.name === 'datasource').current.value);
    const fromRules = allAlertRules().flatMap((r) => r.data.map((q) => q.datasourceUid)).filter((uid) => uid !== '__expr__');
    for (const uid of [...fromDashboards, ...fromRules]) expect([uid, uids.has(uid)]).toEqual([uid, true]);
  });
});

describe('provisioning/dashboards', () => {
  const providers = filesIn('provisioning/dashboards', /\.ya?ml$/).flatMap((f) => readYaml(f).providers);

  it('is one file provider per org into its "AGOG Performance" folder with a fixed uid, allowing UI updates', () => {
    expect(providers.map((p) => [p.folderUid, p.orgId]).sort()).toEqual([
      ['agog-operators-folder', '__AGOG_OPERATORS_ORG_ID__'],
      ['agog-performance-folder', 1],
    ]);
    for (const provider of providers) {
      expect(provider).toEqual(expect.objectContaining({ type: 'file', folder: 'AGOG Performance', allowUiUpdates: true, disableDeletion: false }));
    }
  });
});

describe('provisioning/README.md', () => {
  it('names every uid in its diagram: data sources, dashboards, folder and contact point', () => {
    const uids = [
      ...datasources.map((d) => d.uid),
      ...loadDashboards().map((d) => d.json.uid),
      'agog-performance-folder',
      'agog-operators-folder',
      ...readYaml('alerts/contact-points.yaml').contactPoints.flatMap((c: any) => c.receivers.map((r: any) => r.uid)),
    ];
    for (const uid of uids) expect([uid, readme.includes(uid)]).toEqual([uid, true]);
  });

  it('lists every environment variable the provisioning files read', () => {
    const files = [...filesIn('provisioning/datasources', /\.ya?ml$/), ...filesIn('alerts', /\.ya?ml$/)];
    const variables = new Set(files.flatMap((f) => readFileSync(projectPath(f), 'utf8').match(/\$\{(\w+)\}/g) ?? []).map((v) => v.slice(2, -1)));
    expect(variables.size).toBeGreaterThan(5);
    for (const name of variables) {
      const documented = readme.includes(name) || readme.includes(name.replace(/_(NAME|USER|PASSWORD|SSLMODE)$/, '_HOST'));
      expect([name, documented]).toEqual([name, true]);
    }
  });
});
