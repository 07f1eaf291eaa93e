/**
 * Checks the built dist/plugin.json against Grafana's rules for plugin.json,
 * written here as this test's own assertions. Builds the plugin first when
 * dist/ is missing or older than src/plugin.json.
 */
import { execFileSync } from 'child_process';
import fs from 'fs';
import path from 'path';
import semver from 'semver';

import { cleanRelativePath, matchRoute, PluginRoute, upstreamPath } from './testing/dataProxy';
import { SERVICE_ROUTES } from './types';

const pluginDir = path.resolve(__dirname, '..');
const distDir = path.join(pluginDir, 'dist');
const builtJson = path.join(distDir, 'plugin.json');
const sourceJson = path.join(pluginDir, 'src', 'plugin.json');

function isStale(): boolean {
  if (!fs.existsSync(builtJson) || !fs.existsSync(path.join(distDir, 'module.js'))) {
    return true;
  }
  return fs.statSync(builtJson).mtimeMs < fs.statSync(sourceJson).mtimeMs;
}

let built: any;
const packageJson = JSON.parse(fs.readFileSync(path.join(pluginDir, 'package.json'), 'utf8'));

beforeAll(() => {
  if (isStale()) {
    execFileSync('npm', ['run', 'build'], { cwd: pluginDir, stdio: 'pipe' });
  }
  built = JSON.parse(fs.readFileSync(builtJson, 'utf8'));
}, 300_000);

describe('the built plugin.json', () => {
  it('has the required top-level fields', () => {
    for (const field of ['type', 'name', 'id', 'info', 'dependencies']) {
      expect(built).toHaveProperty(field);
    }
    expect(built.type).toBe('datasource');
    expect(typeof built.name).toBe('string');
    expect(built.name.length).toBeGreaterThan(0);
  });

  it('has an id of lowercase letters, digits and dashes, ending in the plugin type', () => {
    expect(built.id).toMatch(/^[0-9a-z-]+$/);
    expect(built.id).toMatch(/^[a-z0-9]+-[a-z0-9]+-datasource$/);
    expect(built.id).toBe('agog-performance-datasource');
  });

  it('has the required info fields, with the build version and date filled in', () => {
    const { info } = built;
    expect(info.logos).toEqual({ small: expect.any(String), large: expect.any(String) });
    expect(info.version).toBe(packageJson.version);
    expect(semver.valid(info.version)).not.toBeNull();
    expect(info.updated).toMatch(/^\d{4}-\d{2}-\d{2}$/);
    expect(info.author.name.length).toBeGreaterThan(0);
    expect(info.description.length).toBeGreaterThan(0);
    expect(Array.isArray(info.keywords)).toBe(true);
  });

  it('ships the logos it names as SVG files', () => {
    for (const logo of new Set([built.info.logos.small, built.info.logos.large])) {
      expect(logo).toMatch(/\.svg$/);
      expect(fs.readFileSync(path.join(distDir, logo as string), 'utf8')).toContain('<svg');
    }
  });

  it('depends on Grafana 12.4.x and on no other plugin', () => {
    const range = built.dependencies.grafanaDependency;
    expect(semver.validRange(range)).not.toBeNull();
    expect(semver.satisfies('12.4.0', range)).toBe(true);
    expect(semver.satisfies('12.4.10', range)).toBe(true);
    expect(semver.satisfies('12.3.9', range)).toBe(false);
    expect(semver.satisfies('13.0.0', range)).toBe(false);
    expect(built.dependencies.plugins).toEqual([]);
  });

  it('has one route per call the plugin makes, each with its method and its own upstream path', () => {
    const bearer = [{ name: 'Authorization', content: 'Bearer {{ .SecureJsonData.apiToken }}' }];
    expect(built.routes).toEqual(
      Object.values(SERVICE_ROUTES).map(({ method, path: routePath, upstream, token }) => ({
        path: routePath,
        method,
        url: `{{ .JsonData.serviceUrl }}${upstream}`,
        ...(token ? { headers: bearer } : {}),
      }))
    );
  });

  it('names a method and a specific path in every route, and no route covers another', () => {
    const routes: PluginRoute[] = built.routes;
    for (const route of routes) {
      expect(['GET', 'POST']).toContain(route.method);
      expect(route.path).toBe(cleanRelativePath(route.path));
      expect(route.path).toMatch(/^service\/[a-z0-9/]+[a-z0-9]$/);
      // Grafana cuts the route path off and appends the rest to the url: the url holds the
      // upstream path itself, and the route path ends with it.
      expect(`service${new URL(route.url.replace('{{ .JsonData.serviceUrl }}', 'http://s')).pathname}`).toBe(route.path);
      for (const other of routes.filter((r) => r !== route)) {
        expect([route.path, other.path.startsWith(route.path)]).toEqual([route.path, false]);
      }
    }
  });

  it('lets no request through the data proxy reach the ingest, OTLP or admin APIs', () => {
    const routes: PluginRoute[] = built.routes;
    const forbidden = /^\/(v1\/(ingest|traces|metrics|admin|tokens)|metrics)(\/|$)/;
    const attempts = [
      'service/v1/ingest/api-requests',
      'service/v1/ingest/queries?tenant=other',
      'service/v1/traces',
      'service/v1/metrics',
      'service/metrics',
      'service/v1/admin/tokens',
      'service/v1/query/../ingest/queries',
      'service/v1/query/../../v1/ingest/queries',
      'service/health/../v1/ingest/resources',
      'service/v1/whoami/../../v1/ingest/queries',
      './service/v1/query/../ingest/queries',
      'service//v1/query/../ingest/queries',
      'service/v1/queryx',
      'service/v1/query/ingest/queries',
      'service/healthz',
      'service',
      '',
    ];
    let matched = 0;
    for (const method of ['GET', 'POST', 'PUT', 'DELETE', 'PATCH']) {
      for (const attempt of attempts) {
        const route = matchRoute(routes, method, attempt);
        if (!route) {
          continue; // no route: no token, and no url (the data sources have none)
        }
        matched++;
        const upstream = upstreamPath(route, attempt.split('?')[0]);
        expect([method, attempt, forbidden.test(upstream)]).toEqual([method, attempt, false]);
        expect(upstream.startsWith(new URL(route.url.replace('{{ .JsonData.serviceUrl }}', 'http://s')).pathname)).toBe(true);
      }
    }
    // The model matches something: the check above is not vacuous.
    expect(matched).toBeGreaterThan(0);
    expect(matchRoute(routes, 'POST', 'service/v1/ingest/queries')).toBeUndefined();
    expect(matchRoute(routes, 'GET', 'service/v1/query')).toBeUndefined();
    expect(matchRoute(routes, 'POST', 'service/v1/query')?.path).toBe('service/v1/query');
    expect(upstreamPath(matchRoute(routes, 'POST', 'service/v1/query')!, 'service/v1/query')).toBe('/v1/query');
  });

  it('declares annotations and metrics, and no backend', () => {
    expect(built.metrics).toBe(true);
    expect(built.annotations).toBe(true);
    expect(built.backend).toBeUndefined();
    expect(built.executable).toBeUndefined();
  });

  it('ships module.js and a translation file for every declared language', () => {
    expect(fs.existsSync(path.join(distDir, 'module.js'))).toBe(true);
    for (const language of built.languages) {
      const file = path.join(distDir, 'locales', language, `${built.id}.json`);
      expect(JSON.parse(fs.readFileSync(file, 'utf8'))).toHaveProperty('queryEditor');
    }
  });
});
