// docker-compose.citus.yml, checked without a Docker engine (none can run here, nor
// Citus): it parses, pins one Citus image for every node, overrides only services that
// docker-compose.yml has (plus its own), orders its one-shot steps cluster → migrate →
// distribute → service, runs the generated distribution script from a mount that holds
// it, registers exactly its worker services, and takes every secret from .env. With a
// Docker client that has the compose plugin, `docker compose config` must accept the pair.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { DISTRIBUTE_SCRIPT } from '../../src/db/citusPlan';
import { PROJECT_ROOT, projectPath } from '../support/bundle';

const overrideText = readFileSync(projectPath('docker-compose.citus.yml'), 'utf8');
const override = YAML.parse(overrideText, { merge: true } as any);
const base = YAML.parse(readFileSync(projectPath('docker-compose.yml'), 'utf8'), { merge: true } as any);
const services: Record<string, any> = override.services;
const envNames = new Set(readFileSync(projectPath('.env.example'), 'utf8').split('\n').filter((l) => /^[A-Z_]+=/.test(l)).map((l) => l.split('=')[0]!));
const workers = Object.keys(services).filter((name) => /^citus-worker-\d+$/.test(name)).sort();
const completed = { condition: 'service_completed_successfully' };

function mounts(service: string): Array<{ source: string; target: string; readOnly: boolean }> {
  return (services[service].volumes ?? []).map((v: string) => {
    const [source, target, mode] = v.split(':') as [string, string, string | undefined];
    return { source, target, readOnly: mode === 'ro' };
  });
}

describe('docker-compose.citus.yml', () => {
  it('has a coordinator in place of postgres and two workers, all on one pinned Citus image that preloads citus', () => {
    expect(workers).toEqual(['citus-worker-1', 'citus-worker-2']);
    const image = services.postgres.image;
    expect(image).toMatch(/^citusdata\/citus:\d+\.\d+\.\d+$/);
    for (const name of ['postgres', ...workers, 'citus-cluster', 'citus-distribute']) expect([name, services[name].image]).toEqual([name, image]);
    for (const name of ['postgres', ...workers]) {
      expect([name, services[name].command]).toEqual([name, ['postgres', '-c', 'shared_preload_libraries=citus']]);
      expect([name, services[name].healthcheck?.test]).toEqual([name, expect.any(Array)]);
    }
    // Workers publish no port: they trust the coordinator on the compose network.
    for (const name of workers) expect([name, services[name].ports]).toEqual([name, undefined]);
  });

  it('overrides only services of docker-compose.yml, besides its own Citus services', () => {
    for (const name of Object.keys(services)) {
      expect([name, name in base.services || name.startsWith('citus-')]).toEqual([name, true]);
    }
  });

  it('runs the cluster step, the migrations, the distribution script, then the service and the tokens', () => {
    expect(services['citus-cluster'].depends_on).toEqual(Object.fromEntries(['postgres', ...workers].map((n) => [n, { condition: 'service_healthy' }])));
    expect(services.migrate.depends_on).toEqual({ 'citus-cluster': completed });
    expect(services['citus-distribute'].depends_on).toEqual({ migrate: completed });
    expect(services.service.depends_on).toEqual({ 'citus-distribute': completed });
    expect(services.tokens.depends_on).toEqual({ 'citus-distribute': completed });
    for (const oneShot of ['citus-cluster', 'citus-distribute']) expect([oneShot, services[oneShot].restart]).toEqual([oneShot, 'no']);
    // docker-compose.yml's own order stays: the service waits for the migrations too.
    expect(base.services.service.depends_on).toEqual({ migrate: completed });
  });

  it('registers exactly its worker services, with a script that exists and is executable', () => {
    const command: string[] = services['citus-cluster'].command;
    const docker = mounts('citus-cluster').find((m) => m.source === './docker')!;
    expect(docker).toMatchObject({ readOnly: true });
    const script = path.posix.relative(docker.target, command[0]!);
    expect(existsSync(projectPath('docker', script))).toBe(true);
    expect(statSync(projectPath('docker', script)).mode & 0o111).not.toBe(0);
    expect(command.slice(1)).toEqual(['postgres', ...workers]);
  });

  it('runs the generated distribution script, stopping at the first error', () => {
    const mount = mounts('citus-distribute').find((m) => m.source === './migrations/citus')!;
    expect(mount).toMatchObject({ readOnly: true });
    const args: string[] = services['citus-distribute'].command;
    expect(services['citus-distribute'].entrypoint).toEqual(['psql']);
    expect(args).toEqual(expect.arrayContaining(['-v', 'ON_ERROR_STOP=1']));
    const file = args[args.indexOf('-f') + 1]!;
    expect(path.join(PROJECT_ROOT, mount.source, path.posix.relative(mount.target, file))).toBe(DISTRIBUTE_SCRIPT);
    expect(args[args.indexOf('-h') + 1]).toBe('postgres');
  });

  it('mounts only files and folders that exist, read-only, and keeps each node\'s data on a volume of its own', () => {
    for (const name of Object.keys(services)) {
      for (const { source, readOnly } of mounts(name)) {
        if (source.startsWith('.')) expect([name, source, existsSync(path.join(PROJECT_ROOT, source)), readOnly]).toEqual([name, source, true, true]);
        else expect([name, source, source in (override.volumes ?? {})]).toEqual([name, source, true]);
      }
    }
    const dataVolumes = ['postgres', ...workers].map((n) => mounts(n).find((m) => m.target === '/var/lib/postgresql/data')?.source);
    expect(new Set(dataVolumes).size).toBe(3);
    expect(dataVolumes).not.toContain(base.services.postgres.volumes.find((v: string) => v.endsWith(':/var/lib/postgresql/data')).split(':')[0]);
  });

  it('takes every secret from .env, documented in .env.example', () => {
    const required = [...overrideText.matchAll(/\$\{(\w+)(:?[?-])?[^}]*\}/g)].map((m) => m[1]!);
    expect(required.length).toBeGreaterThan(0);
    for (const name of new Set(required)) expect([name, envNames.has(name)]).toEqual([name, true]);
    expect(overrideText).not.toMatch(/PASSWORD: (?!\$\{)/);
  });

  const composeCli = spawnSync('docker', ['compose', 'version'], { encoding: 'utf8' }).status === 0;
  (composeCli ? it : it.skip)('is accepted by `docker compose config` over docker-compose.yml', () => {
    const output = execFileSync('docker', ['compose', '--env-file', '.env.example', '-f', 'docker-compose.yml', '-f', 'docker-compose.citus.yml', 'config', '--quiet'], {
      cwd: PROJECT_ROOT, encoding: 'utf8',
    });
    expect(output).toBe('');
  });
});
