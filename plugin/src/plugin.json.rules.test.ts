/**
 * Checks the built dist/plugin.json against Grafana's rules for plugin.json,
 * written here as this test's own assertions. Builds the plugin first when
 * dist/ is missing or older than src/plugin.json.
 */
import { execFileSync } from 'child_process';
import fs from 'fs';
import path from 'path';
import semver from 'semver';

import { PROXY_ROUTE } from './types';

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

  it('routes /service through the data proxy to the URL in jsonData, adding the bearer token', () => {
    expect(built.routes).toEqual([
      {
        path: PROXY_ROUTE,
        url: '{{ .JsonData.serviceUrl }}',
        headers: [{ name: 'Authorization', content: 'Bearer {{ .SecureJsonData.apiToken }}' }],
      },
    ]);
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
