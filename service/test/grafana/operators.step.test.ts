// docker/grafana-operators-org.sh, run for real with curl against a stand-in for Grafana's
// HTTP API (no Grafana server can run here): it answers the calls the step makes the way
// Grafana 12.4's API documents them, and keeps orgs, folders and preferences between runs.
// The step must create the operators' org and its folder before it writes the operators'
// provisioning files and asks for a reload, set the home dashboard of both orgs by uid,
// and change nothing on a second run.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { projectPath } from '../support/bundle';

const ADMIN = 'admin';
const PASSWORD = 'a "quoted" \\ secret';

interface Call {
  method: string;
  url: string;
  org: string | undefined;
  body: string;
  /** What existed when the call came: for ordering checks. */
  provisioningFiles: number;
}

class FakeGrafana {
  orgs = new Map<string, number>([['Main Org.', 1]]);
  folders = new Map<string, { uid: string; title: string }[]>();
  preferences = new Map<string, unknown>();
  calls: Call[] = [];
  server: http.Server;

  constructor(private provisioningDir: string) {
    this.server = http.createServer((req, res) => {
      let body = '';
      req.on('data', (chunk) => (body += chunk));
      req.on('end', () => this.answer(req, body, res));
    });
  }

  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  private countFiles(): number {
    const dir = path.join(this.provisioningDir, 'datasources');
    return existsSync(dir) ? readdirSync(dir).length : 0;
  }

  private answer(req: http.IncomingMessage, body: string, res: http.ServerResponse): void {
    const org = req.headers['x-grafana-org-id'] as string | undefined;
    const url = req.url ?? '';
    this.calls.push({ method: req.method!, url, org, body, provisioningFiles: this.countFiles() });
    const send = (status: number, json: unknown) => {
      res.writeHead(status, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify(json));
    };
    if (url === '/api/health') return send(200, { database: 'ok' });
    if (req.headers.authorization !== `Basic ${Buffer.from(`${ADMIN}:${PASSWORD}`).toString('base64')}`) return send(401, { message: 'Unauthorized' });
    let m: RegExpMatchArray | null;
    if (req.method === 'GET' && (m = url.match(/^\/api\/orgs\/name\/(.+)$/))) {
      const id = this.orgs.get(decodeURIComponent(m[1]!));
      return id ? send(200, { id, name: decodeURIComponent(m[1]!), address: { city: '' } }) : send(404, { message: 'Organization not found' });
    }
    if (req.method === 'POST' && url === '/api/orgs') {
      const { name } = JSON.parse(body);
      if (this.orgs.has(name)) return send(409, { message: 'Organization name taken' });
      const orgId = this.orgs.size + 1;
      this.orgs.set(name, orgId);
      return send(200, { orgId, message: 'Organization created' });
    }
    if (req.method === 'POST' && /^\/api\/orgs\/\d+\/users$/.test(url)) return send(409, { message: 'User is already member of this organization' });
    if ((m = url.match(/^\/api\/folders(?:\/(.+))?$/))) {
      const folders = this.folders.get(org ?? '1') ?? [];
      this.folders.set(org ?? '1', folders);
      if (req.method === 'GET') {
        const found = folders.find((f) => f.uid === m![1]);
        return found ? send(200, found) : send(404, { message: 'folder not found' });
      }
      const folder = JSON.parse(body);
      if (folders.some((f) => f.uid === folder.uid)) return send(409, { message: 'a folder with the same uid already exists' });
      folders.push({ uid: folder.uid, title: folder.title });
      return send(200, folder);
    }
    if (req.method === 'POST' && /^\/api\/admin\/provisioning\/(datasources|alerting|dashboards)\/reload$/.test(url)) return send(200, { message: 'reloaded' });
    if (req.method === 'PATCH' && url === '/api/org/preferences') {
      this.preferences.set(org ?? '1', JSON.parse(body));
      return send(200, { message: 'Preferences updated' });
    }
    return send(404, { message: 'Not found' });
  }
}

function runStep(grafanaUrl: string, dataDir: string): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn('sh', [projectPath('docker/grafana-operators-org.sh')], {
      env: {
        PATH: process.env.PATH,
        GRAFANA_URL: grafanaUrl,
        GF_SECURITY_ADMIN_USER: ADMIN,
        GF_SECURITY_ADMIN_PASSWORD: PASSWORD,
        GF_PATHS_DATA: dataDir,
        GF_PATHS_PROVISIONING: path.join(dataDir, 'agog-provisioning'),
        AGOG_PROVISIONING_SOURCE: projectPath('provisioning'),
        AGOG_ALERTS_SOURCE: projectPath('alerts'),
      },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (status) => resolve({ status, stdout, stderr }));
  });
}

describe('docker/grafana-operators-org.sh', () => {
  let dataDir: string;
  let grafana: FakeGrafana;

  beforeAll(async () => {
    dataDir = mkdtempSync(path.join(os.tmpdir(), 'agog-grafana-data-'));
    grafana = new FakeGrafana(path.join(dataDir, 'agog-provisioning'));
    await new Promise<void>((resolve) => grafana.server.listen(0, '127.0.0.1', resolve));
  });

  afterAll(async () => {
    await new Promise((resolve) => grafana.server.close(resolve));
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('creates the org and its folder, then provisions it, then sets both home dashboards by uid', async () => {
    const run = await runStep(grafana.url, dataDir);
    expect([run.status, run.stderr]).toEqual([0, '']);
    expect(grafana.orgs.get('AGOG Operators')).toBe(2);
    expect(grafana.folders.get('2')).toEqual([{ uid: 'agog-operators-folder', title: 'AGOG Performance' }]);
    expect(readFileSync(path.join(dataDir, 'agog-operators-org-id'), 'utf8')).toBe('2\n');

    const steps = grafana.calls.filter((c) => c.url !== '/api/health').map((c) => `${c.method} ${c.url}${c.org ? ` org ${c.org}` : ''}`);
    expect(steps).toEqual([
      'GET /api/orgs/name/AGOG%20Operators',
      'POST /api/orgs',
      'GET /api/folders/agog-operators-folder org 2',
      'POST /api/folders org 2',
      'POST /api/admin/provisioning/datasources/reload',
      'POST /api/admin/provisioning/alerting/reload',
      'POST /api/admin/provisioning/dashboards/reload',
      'PATCH /api/org/preferences org 1',
      'PATCH /api/org/preferences org 2',
    ]);
    // The operators' files were on disk before the first reload, and not before the folder.
    const folderCall = grafana.calls.find((c) => c.url === '/api/folders' && c.method === 'POST')!;
    const firstReload = grafana.calls.find((c) => c.url.endsWith('/reload'))!;
    expect(folderCall.provisioningFiles).toBe(0);
    expect(firstReload.provisioningFiles).toBe(3);
    expect(grafana.preferences.get('1')).toEqual({ homeDashboardUID: 'agog-overview' });
    expect(grafana.preferences.get('2')).toEqual({ homeDashboardUID: 'agog-overview' });

    const admin = readFileSync(path.join(dataDir, 'agog-provisioning/datasources/agog-performance-admin.yaml'), 'utf8');
    expect(admin).toMatch(/^ {4}orgId: 2$/m);
    const rules = readFileSync(path.join(dataDir, 'agog-provisioning/alerting/rules-service.yaml'), 'utf8');
    expect(rules).toMatch(/^ {2}- orgId: 2$/m);
    expect(rules).toContain("'{{ externalURL }}d/agog-overview/agog-overview?orgId=2&var-tenant={{ .Labels.tenant }}'");
  });

  it('finds the org and the folder on a second run and creates nothing', async () => {
    grafana.calls = [];
    const run = await runStep(grafana.url, dataDir);
    expect([run.status, run.stderr]).toEqual([0, '']);
    expect(run.stdout).toContain('found, id 2');
    expect(run.stdout).toContain('folder agog-operators-folder: exists');
    expect(grafana.calls.some((c) => c.method === 'POST' && (c.url === '/api/orgs' || c.url === '/api/folders'))).toBe(false);
    expect(grafana.orgs.size).toBe(2);
    expect(grafana.folders.get('2')).toHaveLength(1);
  });

  it('stops when Grafana refuses the admin login', async () => {
    const child = await new Promise<{ status: number | null; stderr: string }>((resolve) => {
      const proc = spawn('sh', [projectPath('docker/grafana-operators-org.sh')], {
        env: { PATH: process.env.PATH, GRAFANA_URL: grafana.url, GF_SECURITY_ADMIN_USER: ADMIN, GF_SECURITY_ADMIN_PASSWORD: 'wrong', GF_PATHS_DATA: dataDir, GF_PATHS_PROVISIONING: path.join(dataDir, 'p2'), AGOG_PROVISIONING_SOURCE: projectPath('provisioning'), AGOG_ALERTS_SOURCE: projectPath('alerts') },
      });
      let stderr = '';
      proc.stderr.on('data', (d) => (stderr += d));
      proc.on('close', (status) => resolve({ status, stderr }));
    });
    expect(child.status).not.toBe(0);
    expect(child.stderr).toMatch(/401/);
  });
});
