// `agog-perf dashboards pull` against a small fake Grafana (an HTTP peer speaking the
// dashboard API): classic dashboards are written back normalized, v2 ones are refused
// with the way to export the classic model, and nothing else in the folder changes.
import { execFile } from 'node:child_process';
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { formatDashboardFile } from '../../src/grafana/dashboardJson';
import { projectPath } from '../support/bundle';

const run = promisify(execFile);
const CLI = path.resolve(__dirname, '../../bin/agog-perf.js');
const TOKEN = 'glsa_test-token';

async function cli(args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [CLI, ...args], { env: { ...process.env, GRAFANA_URL: '', GRAFANA_TOKEN: '', ...env } });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

const committedOverview = JSON.parse(readFileSync(projectPath('dashboards/overview.json'), 'utf8'));

/** The overview as Grafana returns it after someone edited a panel title and saved. */
function editedOverview(): Record<string, unknown> {
  const edited = structuredClone(committedOverview);
  edited.panels[0].title = 'Health score (edited)';
  edited.panels[0].pluginVersion = '12.4.10';
  // Grafana's own additions, which the normal form drops, in Grafana's key order.
  return { id: 17, version: 4, ...edited, templating: { list: edited.templating.list.map((v: any) => ({ ...v, options: [{ text: 'x', value: 'x', selected: true }] })) } };
}

const V2_SPEC = { elements: { 'panel-1': { kind: 'Panel', spec: { id: 1, title: 'p' } } }, layout: { kind: 'GridLayout', spec: { items: [] } }, title: 'New layout' };

const routes: Record<string, { status: number; body: unknown }> = {
  'agog-overview': { status: 200, body: { dashboard: editedOverview(), meta: { provisioned: true, provisionedExternalId: 'overview.json', folderTitle: 'AGOG Performance' } } },
  'agog-v2-stored': {
    status: 406,
    body: { message: 'dashboard api version not supported, use /apis/dashboard.grafana.app/v2beta1/namespaces/default/dashboards/agog-v2-stored instead' },
  },
  'agog-v2-body': { status: 200, body: { dashboard: { apiVersion: 'dashboard.grafana.app/v2beta1', kind: 'Dashboard', metadata: { name: 'agog-v2-body' }, spec: V2_SPEC }, meta: {} } },
  'agog-resource': {
    status: 200,
    body: { apiVersion: 'dashboard.grafana.app/v1beta1', kind: 'Dashboard', metadata: { name: 'agog-resource' }, spec: { schemaVersion: 42, title: 'From a resource', panels: [], uid: 'agog-resource' } },
  },
};

let server: Server;
let grafanaUrl: string;
const requests: Array<{ url: string; authorization: string | undefined }> = [];
let dir: string;

beforeAll(async () => {
  server = createServer((request, response) => {
    requests.push({ url: request.url ?? '', authorization: request.headers.authorization });
    const match = /^\/api\/dashboards\/uid\/([^/?]+)$/.exec(request.url ?? '');
    const answer = request.headers.authorization !== `Bearer ${TOKEN}`
      ? { status: 401, body: { message: 'invalid API key' } }
      : (match && routes[decodeURIComponent(match[1]!)]) ?? { status: 404, body: { message: 'Dashboard not found' } };
    response.writeHead(answer.status, { 'content-type': 'application/json' }).end(JSON.stringify(answer.body));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  grafanaUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
});
beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'agog-dashboards-'));
  cpSync(projectPath('dashboards'), dir, { recursive: true });
  requests.length = 0;
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function snapshot(): Record<string, string> {
  return Object.fromEntries(readdirSync(dir).sort().map((name) => [name, readFileSync(path.join(dir, name), 'utf8')]));
}

describe('agog-perf dashboards pull', () => {
  it('writes an edited classic dashboard back into its file, normalized, and touches no other file', async () => {
    const before = snapshot();
    const result = await cli(['dashboards', 'pull', '--grafana-url', grafanaUrl, '--token', TOKEN, '--uid', 'agog-overview', '--dir', dir]);
    expect(result).toMatchObject({ code: 0, stderr: '' });
    expect(result.stdout).toMatch(/agog-overview: updated .*overview\.json/);
    const after = snapshot();
    const written = JSON.parse(after['overview.json']!);
    expect(written.panels[0].title).toBe('Health score (edited)');
    expect(written).not.toHaveProperty('id');
    expect(written).not.toHaveProperty('version');
    expect(written.panels[0]).not.toHaveProperty('pluginVersion');
    expect(written.templating.list.find((v: any) => v.name === 'tenant').options).toEqual([]);
    expect(after['overview.json']).toBe(formatDashboardFile(written));
    // Only the edited panel title differs from the committed file.
    const diff = after['overview.json']!.split('\n').filter((line, i) => line !== before['overview.json']!.split('\n')[i]);
    expect(diff).toEqual(['      "title": "Health score (edited)",']);
    for (const name of Object.keys(before).filter((n) => n !== 'overview.json')) expect(after[name]).toBe(before[name]);
  });

  it('pulls every uid found in the folder when no --uid is given, reading the token from GRAFANA_TOKEN', async () => {
    const result = await cli(['dashboards', 'pull', '--dir', dir], { GRAFANA_URL: grafanaUrl, GRAFANA_TOKEN: TOKEN });
    const asked = requests.map((r) => decodeURIComponent(r.url.split('/').pop()!)).sort();
    expect(asked).toEqual(['agog-endpoints', 'agog-fingerprint', 'agog-overview', 'agog-recommendations', 'agog-resources', 'agog-slow-queries']);
    expect(requests.every((r) => r.authorization === `Bearer ${TOKEN}`)).toBe(true);
    // The fake Grafana knows only the overview: the others fail, the overview is still written.
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(/agog-overview: updated/);
    expect(result.stderr).toMatch(/agog-endpoints: failed: Grafana has no dashboard with uid "agog-endpoints"/);
  });

  it('changes nothing when the dashboard in Grafana equals the file', async () => {
    routes['agog-same'] = { status: 200, body: { dashboard: { ...committedOverview, uid: 'agog-same', id: 3, version: 9 }, meta: {} } };
    writeFileSync(path.join(dir, 'same.json'), formatDashboardFile({ ...committedOverview, uid: 'agog-same' }));
    const before = snapshot();
    const result = await cli(['dashboards', 'pull', '--grafana-url', grafanaUrl, '--token', TOKEN, '--uid', 'agog-same', '--dir', dir]);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/agog-same: unchanged .*same\.json/);
    expect(snapshot()).toEqual(before);
  });

  it.each([
    ['stored as v2 (Grafana answers 406)', 'agog-v2-stored'],
    ['returned in the v2 resource format', 'agog-v2-body'],
  ])('refuses a dashboard %s, says how to export the classic model, and writes nothing', async (_label, uid) => {
    const before = snapshot();
    const result = await cli(['dashboards', 'pull', '--grafana-url', grafanaUrl, '--token', TOKEN, '--uid', uid, '--dir', dir]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`${uid}: refused:`);
    expect(result.stderr).toMatch(/v2 dashboard format/);
    expect(result.stderr).toMatch(/Export as JSON/);
    expect(result.stderr).toMatch(/"Classic" model/);
    expect(result.stderr).toContain('dashboards pull --file');
    expect(snapshot()).toEqual(before);
  });

  it('takes the classic model out of a v1 resource and names a new file after the uid', async () => {
    const result = await cli(['dashboards', 'pull', '--grafana-url', grafanaUrl, '--token', TOKEN, '--uid', 'agog-resource', '--dir', dir]);
    expect(result.code).toBe(0);
    expect(JSON.parse(readFileSync(path.join(dir, 'resource.json'), 'utf8'))).toEqual({ panels: [], schemaVersion: 42, title: 'From a resource', uid: 'agog-resource' });
  });

  it('says what a rejected token needs, and --dry-run writes nothing', async () => {
    const denied = await cli(['dashboards', 'pull', '--grafana-url', grafanaUrl, '--token', 'wrong', '--uid', 'agog-overview', '--dir', dir]);
    expect(denied.code).toBe(1);
    expect(denied.stderr).toMatch(/refused the request for "agog-overview" \(401: invalid API key\).*--token <token> or GRAFANA_TOKEN/);
    const before = snapshot();
    const dry = await cli(['dashboards', 'pull', '--grafana-url', grafanaUrl, '--token', TOKEN, '--uid', 'agog-overview', '--dir', dir, '--dry-run']);
    expect(dry.code).toBe(0);
    expect(dry.stdout).toMatch(/agog-overview: would be updated/);
    expect(snapshot()).toEqual(before);
  });

  it('normalizes an exported classic file with --file, and refuses a v2 export', async () => {
    const exported = path.join(dir, '..', `export-${path.basename(dir)}.json`);
    writeFileSync(exported, JSON.stringify({ __inputs: [], __requires: [], id: null, ...editedOverview() }, null, 4));
    try {
      const result = await cli(['dashboards', 'pull', '--file', exported, '--dir', dir]);
      expect(result).toMatchObject({ code: 0, stderr: '' });
      const written = JSON.parse(readFileSync(path.join(dir, 'overview.json'), 'utf8'));
      expect(written).not.toHaveProperty('__inputs');
      expect(written.panels[0].title).toBe('Health score (edited)');

      writeFileSync(exported, JSON.stringify({ apiVersion: 'dashboard.grafana.app/v2beta1', kind: 'Dashboard', metadata: {}, spec: V2_SPEC }));
      const v2 = await cli(['dashboards', 'pull', '--file', exported, '--dir', dir]);
      expect(v2.code).toBe(1);
      expect(v2.stderr).toMatch(/v2 dashboard format[\s\S]*"Classic" model/);
    } finally {
      rmSync(exported, { force: true });
    }
  });

  it('rejects unknown options and actions as usage errors', async () => {
    expect((await cli(['dashboards', 'push'])).code).toBe(2);
    expect((await cli(['dashboards', 'pull', '--uids', 'x'])).code).toBe(2);
  });
});
