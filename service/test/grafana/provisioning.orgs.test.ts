// The org model of the compose stack (provisioning/README.md, "Orgs"), read the way Grafana
// reads it: docker/grafana-provisioning.sh writes the provisioning folder, before and after
// docker/grafana-operators-org.sh created the operators' org, and each file is taken for
// the org it names. No org that viewers of the dashboards belong to holds a data source
// with the admin token or a SQL login; the alert rules and the dashboards of an org share
// one folder with a fixed uid, in either provisioning order; and the entrypoints refuse
// the placeholder secrets of .env.example, naming each variable.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import YAML from 'yaml';
import { projectPath, readYaml } from '../support/bundle';

const OPERATORS_ORG = 7;

interface Rendered {
  datasources: any[];
  deletedDatasources: any[];
  providers: any[];
  groups: any[];
  deletedRules: any[];
  contactPoints: any[];
  policies: any[];
  texts: string[];
}

/** Runs render_provisioning as the entrypoint does and reads what Grafana would read. */
function render(operatorsOrgId?: number): Rendered {
  const target = mkdtempSync(path.join(os.tmpdir(), 'agog-provisioning-'));
  try {
    execFileSync(
      'sh',
      ['-c', '. "$1/docker/grafana-provisioning.sh" && render_provisioning "$1/provisioning" "$1/alerts" "$2" "$3"', 'render', projectPath(), target, operatorsOrgId ? String(operatorsOrgId) : ''],
      { stdio: 'pipe' },
    );
    const read = (kind: string) =>
      readdirSync(path.join(target, kind)).map((f) => readFileSync(path.join(target, kind, f), 'utf8'));
    const [datasourceTexts, dashboardTexts, alertingTexts] = [read('datasources'), read('dashboards'), read('alerting')];
    const parse = (texts: string[]) => texts.map((t) => YAML.parse(t));
    const datasourceFiles = parse(datasourceTexts);
    const alertingFiles = parse(alertingTexts);
    return {
      datasources: datasourceFiles.flatMap((f) => f.datasources ?? []),
      deletedDatasources: datasourceFiles.flatMap((f) => f.deleteDatasources ?? []),
      providers: parse(dashboardTexts).flatMap((f) => f.providers ?? []),
      groups: alertingFiles.flatMap((f) => f.groups ?? []),
      deletedRules: alertingFiles.flatMap((f) => f.deleteRules ?? []),
      contactPoints: alertingFiles.flatMap((f) => f.contactPoints ?? []),
      policies: alertingFiles.flatMap((f) => f.policies ?? []),
      texts: [...datasourceTexts, ...dashboardTexts, ...alertingTexts],
    };
  } finally {
    rmSync(target, { recursive: true, force: true });
  }
}

/** Grafana's default org of an entry: orgId, or 1 when unset. */
const org = (entry: { orgId?: number }) => entry.orgId ?? 1;

/** A data source that reads other tenants than the dashboards' one. */
function readsOtherTenants(datasource: any): boolean {
  return datasource.type !== 'agog-performance-datasource' || datasource.secureJsonData?.apiToken !== '${AGOG_READ_TOKEN}';
}

const compose = YAML.parse(readFileSync(projectPath('docker-compose.yml'), 'utf8'), { merge: true } as any);
const grafanaEnv: Record<string, string> = compose.services.grafana.environment;

describe('the orgs', () => {
  const before = render();
  const after = render(OPERATORS_ORG);

  it('put viewers in the dashboards\' org only, and no one in anonymously', () => {
    // Grafana adds new users to org 1 (auto_assign_org_id) as Viewers.
    expect(grafanaEnv.GF_USERS_AUTO_ASSIGN_ORG_ID ?? '1').toBe('1');
    expect(grafanaEnv.GF_AUTH_ANONYMOUS_ENABLED).toBe('false');
    expect(after.providers.map((p) => [p.name, org(p)])).toEqual(
      expect.arrayContaining([['AGOG Performance', 1], ['AGOG Performance (operators)', OPERATORS_ORG]]),
    );
  });

  it('give the dashboards\' org one tenant\'s read data source and nothing that reads other tenants', () => {
    for (const rendered of [before, after]) {
      const inViewersOrg = rendered.datasources.filter((d) => org(d) === 1);
      expect(inViewersOrg.map((d) => d.uid)).toEqual(['agog-performance']);
      expect(inViewersOrg.filter(readsOtherTenants)).toEqual([]);
      expect(inViewersOrg.some((d) => JSON.stringify(d).includes('AGOG_ADMIN_TOKEN'))).toBe(false);
      expect(inViewersOrg.some((d) => /postgres|mysql|mssql/i.test(d.type))).toBe(false);
    }
  });

  it('provision nothing of the operators\' org until the org exists, because Grafana would refuse to start', () => {
    expect(before.datasources.map((d) => org(d))).toEqual([1]);
    expect(before.groups).toEqual([]);
    expect(before.contactPoints).toEqual([]);
    expect(before.policies).toEqual([]);
    expect(before.providers.map((p) => org(p))).toEqual([1]);
  });

  it('put the admin token, the alerting SQL login and the alert rules in the operators\' org', () => {
    const operators = after.datasources.filter((d) => org(d) === OPERATORS_ORG);
    expect(operators.map((d) => [d.uid, d.type]).sort()).toEqual([
      ['agog-performance-admin', 'agog-performance-datasource'],
      ['agog-postgres-readonly', 'grafana-postgresql-datasource'],
    ]);
    expect(operators.find((d) => d.uid === 'agog-postgres-readonly').user).toBe('${AGOG_ALERTING_DB_USER}');
    expect(after.groups.length).toBeGreaterThan(0);
    for (const entry of [...after.groups, ...after.contactPoints, ...after.policies]) expect(org(entry)).toBe(OPERATORS_ORG);
    for (const text of after.texts) expect(text).not.toContain('__AGOG_OPERATORS_ORG_ID__');
  });

  it('remove what earlier versions provisioned into the dashboards\' org', () => {
    const moved = after.datasources.filter((d) => org(d) === OPERATORS_ORG).map((d) => d.name).sort();
    expect(after.deletedDatasources.map((d) => [d.name, org(d)]).sort()).toEqual(moved.map((name) => [name, 1]));
    const ruleUids = after.groups.flatMap((g) => g.rules.map((r: any) => r.uid)).sort();
    expect(after.deletedRules.map((r) => [r.uid, org(r)]).sort()).toEqual(ruleUids.map((uid) => [uid, 1]));
  });

  it('refuse an operators\' org id that is not a number', () => {
    const result = spawnSync('sh', ['-c', '. "$1/docker/grafana-provisioning.sh" && render_provisioning "$1/provisioning" "$1/alerts" /nonexistent "2; rm"', 'render', projectPath()], {
      encoding: 'utf8',
    });
    expect(result.status).not.toBe(0);
    expect(result.stderr).toContain('is not a number');
  });
});

// Grafana 12.4's folder resolution, as read in its source: alert provisioning
// (provisioning/alerting/rules_provisioner.go) finds a group's folder by title and creates
// one with a random uid when none has it; the dashboard provider
// (provisioning/dashboards/file_reader.go) finds its folder by folderUid when it has one,
// else by title, and creates it with that uid and title when missing. Alerting runs first
// at start, but a reload runs either alone.
interface Folder {
  uid: string;
  title: string;
}

function resolveForAlerting(folders: Folder[], title: string): void {
  if (!folders.some((f) => f.title === title)) folders.push({ uid: `random-${folders.length}`, title });
}

function resolveForDashboards(folders: Folder[], provider: { folder: string; folderUid?: string }): void {
  const found = provider.folderUid ? folders.find((f) => f.uid === provider.folderUid) : folders.find((f) => f.title === provider.folder);
  if (!found) folders.push({ uid: provider.folderUid ?? `random-${folders.length}`, title: provider.folder });
}

function shell(script: string, ...args: string[]): string {
  return execFileSync('sh', ['-c', `. "$1/docker/grafana-provisioning.sh" && ${script}`, 'sh', projectPath(), ...args], { encoding: 'utf8' }).trim();
}

describe('the folder of the alert rules and the dashboards', () => {
  const rendered = render(OPERATORS_ORG);
  const operatorsProvider = projectPath('provisioning/dashboards/agog-performance-operators.yaml');
  // What docker/grafana-operators-org.sh creates in the operators' org before any provisioning there.
  const created: Folder = {
    uid: shell('provider_folder "$2" folderUid', operatorsProvider),
    title: shell('provider_folder "$2" folder', operatorsProvider),
  };

  function foldersAfter(order: Array<'alerting' | 'dashboards'>, orgId: number, existing: Folder[]): Folder[] {
    const folders = existing.map((f) => ({ ...f }));
    for (const step of order) {
      if (step === 'alerting') {
        for (const group of rendered.groups.filter((g) => org(g) === orgId)) resolveForAlerting(folders, group.folder);
      } else {
        for (const provider of rendered.providers.filter((p) => org(p) === orgId)) resolveForDashboards(folders, provider);
      }
    }
    return folders;
  }

  it('is created by the operators\' step with the uid and title of the operators\' dashboard provider', () => {
    expect(created).toEqual({ uid: 'agog-operators-folder', title: 'AGOG Performance' });
    expect(readFileSync(projectPath('docker/grafana-operators-org.sh'), 'utf8')).toMatch(/provider_folder "\$operators_provider" folderUid/);
  });

  it.each([
    ['alerting first', ['alerting', 'dashboards'] as const],
    ['dashboards first', ['dashboards', 'alerting'] as const],
  ])('is one folder with the fixed uid in each org, %s', (_name, order) => {
    expect(foldersAfter([...order], OPERATORS_ORG, [created])).toEqual([created]);
    // The dashboards' org has no alert rules: its provider makes its folder alone.
    expect(foldersAfter([...order], 1, [])).toEqual([{ uid: 'agog-performance-folder', title: 'AGOG Performance' }]);
  });

  it('would be two folders of one title without the step, alerting first: why the step makes it', () => {
    expect(foldersAfter(['alerting', 'dashboards'], OPERATORS_ORG, []).map((f) => f.title)).toEqual(['AGOG Performance', 'AGOG Performance']);
  });
});

describe('the compose entrypoints', () => {
  const envExample = Object.fromEntries(
    readFileSync(projectPath('.env.example'), 'utf8')
      .split('\n')
      .filter((l) => /^[A-Z_]+=/.test(l))
      .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
  );

  /** A service's environment as compose gives it with .env.example's values. */
  function composeEnvironment(service: string): Record<string, string> {
    const entries = Object.entries(compose.services[service].environment ?? {}) as Array<[string, string]>;
    return Object.fromEntries(
      entries.map(([name, value]) => [
        name,
        String(value).replace(/\$\{(\w+)(?::?[-?]([^}]*))?\}/g, (_m, variable: string, fallback?: string) =>
          envExample[variable] !== undefined && envExample[variable] !== '' ? envExample[variable] : (fallback ?? ''),
        ),
      ]),
    );
  }

  const entrypoints = Object.entries(compose.services as Record<string, any>)
    .filter(([, s]) => Array.isArray(s.entrypoint) && /^\/agog\/.+\.sh$/.test(s.entrypoint[1] ?? ''))
    .map(([name, s]) => [name, `docker/${path.basename(s.entrypoint[1])}`] as const);

  it('are mounted from docker/ for PostgreSQL, Grafana and the operators\' step', () => {
    expect(entrypoints.map(([name]) => name).sort()).toEqual(['grafana', 'grafana-operators', 'postgres']);
  });

  it.each(entrypoints)('%s: refuses every "change-me" secret of .env.example, naming its variable', (service, script) => {
    const env = composeEnvironment(service);
    const placeholders = Object.entries(env).filter(([, v]) => v.startsWith('change-me')).map(([k]) => k);
    expect(placeholders.length).toBeGreaterThan(0);
    const result = spawnSync('sh', [projectPath(script)], { env: { PATH: process.env.PATH, ...env }, encoding: 'utf8' });
    expect(result.status).toBe(1);
    for (const name of placeholders) expect(result.stderr).toMatch(new RegExp(`^${name} is still the placeholder "change-me`, 'm'));
    expect(result.stderr).toContain('refusing to start with placeholder secrets');
  });

  it('covers Grafana\'s admin password and every database password', () => {
    const refused = (service: string) => Object.entries(composeEnvironment(service)).filter(([, v]) => v.startsWith('change-me')).map(([k]) => k);
    expect(refused('grafana')).toEqual(expect.arrayContaining(['GF_SECURITY_ADMIN_PASSWORD', 'AGOG_ALERTING_DB_PASSWORD']));
    expect(refused('postgres').sort()).toEqual(['AGOG_ALERTING_DB_PASSWORD', 'AGOG_DB_PASSWORD', 'POSTGRES_PASSWORD']);
    const script = readFileSync(projectPath('docker/postgres-entrypoint.sh'), 'utf8');
    for (const name of refused('postgres')) expect(script).toContain(name);
  });

  it('let real secrets through, and refuse an empty one', () => {
    const check = (env: Record<string, string>) =>
      spawnSync('sh', ['-c', '. "$1/docker/placeholders.sh" && refuse_placeholders A_PASSWORD B_PASSWORD', 'sh', projectPath()], {
        env: { PATH: process.env.PATH, ...env },
        encoding: 'utf8',
      });
    expect(check({ A_PASSWORD: 'Xk9-long-secret', B_PASSWORD: 'another-one' }).status).toBe(0);
    const empty = check({ A_PASSWORD: 'Xk9-long-secret', B_PASSWORD: '' });
    expect(empty.status).toBe(1);
    expect(empty.stderr).toContain('B_PASSWORD is empty');
  });
});

describe('docker-compose.yml for the orgs', () => {
  it('sets Grafana\'s root URL from a variable and no home dashboard by file path', () => {
    expect(grafanaEnv.GF_SERVER_ROOT_URL).toMatch(/^\$\{GRAFANA_ROOT_URL:\?/);
    expect(grafanaEnv.GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH).toBeUndefined();
    const script = readFileSync(projectPath('docker/grafana-operators-org.sh'), 'utf8');
    expect(script).toContain('/api/org/preferences');
    expect(script).toMatch(/homeDashboardUID.*agog-overview|home_uid=agog-overview/);
  });

  it('runs the operators\' step once Grafana is healthy, in Grafana\'s image, with Grafana\'s data', () => {
    const step = compose.services['grafana-operators'];
    expect(step.image).toBe(compose.services.grafana.image);
    expect(step.restart).toBe('no');
    expect(step.depends_on).toEqual({ grafana: { condition: 'service_healthy' } });
    expect(step.volumes).toEqual(expect.arrayContaining(['grafana-data:/var/lib/grafana']));
    expect(step.environment.GF_PATHS_PROVISIONING).toBe(grafanaEnv.GF_PATHS_PROVISIONING);
    expect((grafanaEnv.GF_PATHS_PROVISIONING ?? '').startsWith('/var/lib/grafana/')).toBe(true);
  });

  it('connects the migrations and the service as the non-superuser login of 10-roles.sh', () => {
    for (const name of ['migrate', 'tokens', 'service', 'demo']) {
      const url = compose.services[name].environment.DATABASE_URL as string;
      expect([name, url]).toEqual([name, expect.stringMatching(/^postgresql:\/\/\$\{AGOG_DB_USER:-agog_service\}:/)]);
    }
    expect(readYaml('docker-compose.yml').services.postgres.environment.AGOG_DB_USER).toBe('${AGOG_DB_USER:-agog_service}');
  });
});
