// docker-compose.yml, checked without a Docker engine: it parses, pins its images, names
// only files that exist, mounts every provisioning file where Grafana reads it, waits on
// health checks and one-shot steps, keeps secrets in .env, and gives Grafana every
// environment variable the provisioning files read. With a Docker client that has the
// compose plugin, `docker compose config` must accept it too.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { filesIn, PLUGIN_ID, PROJECT_ROOT, projectPath, readYaml } from '../support/bundle';

const composeText = readFileSync(projectPath('docker-compose.yml'), 'utf8');
// YAML 1.1 merge keys (<<) as compose reads them.
const compose = YAML.parse(composeText, { merge: true } as any);
const services: Record<string, any> = compose.services;
const envExample = readFileSync(projectPath('.env.example'), 'utf8');
const envNames = new Set(envExample.split('\n').filter((l) => /^[A-Z_]+=/.test(l)).map((l) => l.split('=')[0]!));

function volumes(service: string): Array<{ source: string; target: string; readOnly: boolean }> {
  return (services[service].volumes ?? []).map((v: string) => {
    const [source, target, mode] = v.split(':') as [string, string, string | undefined];
    return { source, target, readOnly: mode === 'ro' };
  });
}

function environment(service: string): Record<string, string> {
  return services[service].environment ?? {};
}

describe('docker-compose.yml', () => {
  it('has PostgreSQL, a one-shot migrate, the service, Grafana and opt-in demo traffic', () => {
    expect(Object.keys(services)).toEqual(
      expect.arrayContaining(['postgres', 'migrate', 'tokens', 'service', 'plugin', 'grafana', 'grafana-operators', 'demo']),
    );
    expect(services.migrate.command).toEqual(['npx', 'agog-perf', 'migrate']);
    expect(services.service.command).toEqual(['npx', 'agog-perf', 'serve']);
    expect(services.demo.profiles).toEqual(['demo']);
    expect(services.demo.command.join(' ')).toMatch(/exec npx agog-perf demo --url http:\/\/service:8080 --token/);
    for (const name of ['migrate', 'tokens', 'service', 'demo']) expect([name, services[name].build?.target]).toEqual([name, 'service']);
    for (const oneShot of ['migrate', 'tokens', 'plugin', 'grafana-operators']) expect(services[oneShot].restart).toBe('no');
  });

  it('pins its images: PostgreSQL by version, Grafana at 12.4.x but not 12.4.2', () => {
    expect(services.postgres.image).toMatch(/^postgres:\d+\.\d+(-[a-z]+)?$/);
    expect(services.grafana.image).toMatch(/^grafana\/grafana:12\.4\.\d+$/);
    expect(services.grafana.image).not.toBe('grafana/grafana:12.4.2');
    const dockerfile = readFileSync(projectPath('Dockerfile'), 'utf8');
    expect(dockerfile).toMatch(/^FROM node:20\.\d+[\w.-]* AS deps$/m);
  });

  it('builds only Dockerfile targets that exist', () => {
    const targets = new Set([...readFileSync(projectPath('Dockerfile'), 'utf8').matchAll(/^FROM \S+ AS (\S+)$/gm)].map((m) => m[1]));
    for (const [name, service] of Object.entries(services)) {
      if (service.build) expect([name, targets.has(service.build.target)]).toEqual([name, true]);
    }
  });

  it('mounts only files and folders that exist', () => {
    for (const name of Object.keys(services)) {
      for (const { source } of volumes(name)) {
        if (!source.startsWith('.')) {
          expect([name, source, source in (compose.volumes ?? {})]).toEqual([name, source, true]);
          continue;
        }
        expect([name, source, existsSync(path.join(PROJECT_ROOT, source))]).toEqual([name, source, true]);
      }
    }
    for (const script of ['docker/create-tokens.sh']) expect(services.tokens.command).toContain(script);
    expect(existsSync(projectPath('docker/create-tokens.sh'))).toBe(true);
  });

  it('gives Grafana the plugin, unsigned by id, and the provisioning sources its entrypoint writes from', () => {
    const grafana = volumes('grafana');
    const target = (source: string) => grafana.find((v) => v.source === source)?.target;
    expect(target('plugin-dist')).toBe(`/var/lib/grafana/plugins/${PLUGIN_ID}`);
    expect((environment('grafana').GF_PLUGINS_ALLOW_LOADING_UNSIGNED_PLUGINS ?? '').split(',')).toContain(PLUGIN_ID);
    // docker/grafana-entrypoint.sh and docker/grafana-operators-org.sh read these paths.
    for (const name of ['grafana', 'grafana-operators']) {
      const mounts = volumes(name);
      const at = (source: string) => mounts.find((v) => v.source === source)?.target;
      expect([name, at('./docker'), at('./provisioning'), at('./alerts')]).toEqual([name, '/agog', '/etc/agog/provisioning', '/etc/agog/alerts']);
      expect(mounts.filter((v) => v.source.startsWith('./')).every((v) => v.readOnly)).toBe(true);
    }
    const script = readFileSync(projectPath('docker/grafana-entrypoint.sh'), 'utf8');
    expect(script).toContain('render_provisioning /etc/agog/provisioning /etc/agog/alerts "$GF_PATHS_PROVISIONING"');
    for (const file of filesIn('provisioning/dashboards', /\.ya?ml$/)) {
      expect([file, target('./dashboards')]).toEqual([file, readYaml(file).providers[0].options.path]);
    }
  });

  it('sets no home dashboard by file path: the operators\' step sets it per org by uid', () => {
    expect(environment('grafana').GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH).toBeUndefined();
    expect(readFileSync(projectPath('docker/grafana-operators-org.sh'), 'utf8')).toMatch(/^home_uid=agog-overview$/m);
  });

  it('gives Grafana every environment variable the provisioning files read', () => {
    const read = [...filesIn('provisioning/datasources', /\.ya?ml$/), ...filesIn('provisioning/dashboards', /\.ya?ml$/), ...filesIn('alerts', /\.ya?ml$/)]
      .flatMap((f) => readFileSync(projectPath(f), 'utf8').match(/\$\{(\w+)\}/g) ?? [])
      .map((v) => v.slice(2, -1));
    expect(read.length).toBeGreaterThan(0);
    for (const name of new Set(read)) expect([name, name in environment('grafana')]).toEqual([name, true]);
    expect(environment('service')).toMatchObject({ HOST: '0.0.0.0' });
  });

  it('waits on health checks and finished one-shot steps', () => {
    for (const name of ['postgres', 'service', 'grafana']) expect([name, services[name].healthcheck?.test]).toEqual([name, expect.any(Array)]);
    expect(services.migrate.depends_on).toEqual({ postgres: { condition: 'service_healthy' } });
    expect(services.tokens.depends_on).toEqual({ migrate: { condition: 'service_completed_successfully' } });
    expect(services.service.depends_on).toEqual({ migrate: { condition: 'service_completed_successfully' } });
    expect(services.grafana.depends_on).toMatchObject({
      service: { condition: 'service_healthy' },
      tokens: { condition: 'service_completed_successfully' },
      plugin: { condition: 'service_completed_successfully' },
    });
    expect(services.demo.depends_on).toMatchObject({ service: { condition: 'service_healthy' } });
  });

  it('takes every secret from .env, documented in .env.example, which holds no real secret', () => {
    const required = [...composeText.matchAll(/\$\{(\w+)(:?[?-])?[^}]*\}/g)].map((m) => m[1]!);
    for (const name of new Set(required)) expect([name, envNames.has(name)]).toEqual([name, true]);
    const passwords = envExample.split('\n').filter((l) => /PASSWORD=/.test(l));
    expect(passwords.length).toBeGreaterThanOrEqual(3);
    for (const line of passwords) expect(line).toMatch(/=change-me/);
    expect(envExample).toMatch(/^AGOG_READ_TOKEN=$/m);
    expect(envExample).toMatch(/^AGOG_ADMIN_TOKEN=$/m);
    expect(readFileSync(projectPath('.gitignore'), 'utf8').split('\n')).toContain('.env');
    expect(composeText).not.toMatch(/PASSWORD: (?!\$\{)/);
  });

  it('keeps its helper scripts executable', () => {
    for (const file of ['docker/create-tokens.sh', 'docker/grafana-entrypoint.sh', 'docker/grafana-operators-org.sh', 'docker/postgres-entrypoint.sh', 'docker/postgres-init/10-roles.sh']) {
      expect([file, statSync(projectPath(file)).mode & 0o111]).not.toEqual([file, 0]);
    }
  });

  const composeCli = spawnSync('docker', ['compose', 'version'], { encoding: 'utf8' }).status === 0;
  (composeCli ? it : it.skip)('is accepted by `docker compose config` with the example settings', () => {
    const output = execFileSync('docker', ['compose', '--env-file', '.env.example', '-f', 'docker-compose.yml', 'config', '--quiet'], {
      cwd: PROJECT_ROOT,
      encoding: 'utf8',
    });
    expect(output).toBe('');
  });
});
