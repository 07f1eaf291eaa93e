/**
 * @jest-environment node
 */
// The data proxy stand-in applies plugin.json's routes as Grafana's pkg/api/pluginproxy
// does. These cases pin the rules the browser scenes rely on, for the routes plugin.json
// has now and for narrower per-call routes with a method and a full path.
import fs from 'node:fs';
import http from 'node:http';
import { AddressInfo } from 'node:net';
import path from 'node:path';

import {
  cleanRelativePath,
  decide,
  DataSourceSettings,
  PluginRoute,
  proxyRequest,
  renderTemplate,
  routeMatches,
} from './proxy';

const pluginRoutes: PluginRoute[] = JSON.parse(
  fs.readFileSync(path.join(__dirname, '..', 'src', 'plugin.json'), 'utf8')
).routes;

const settings: DataSourceSettings = {
  uid: 'ds',
  jsonData: { serviceUrl: 'http://service:8080' },
  secureJsonData: { apiToken: 'agog_secret' },
};

/** Per-call routes, as a narrower plugin.json would have them. */
const narrowRoutes: PluginRoute[] = [
  { path: 'service/health', method: 'GET', url: '{{ .JsonData.serviceUrl }}/health' },
  {
    path: 'service/v1/whoami',
    method: 'GET',
    url: '{{ .JsonData.serviceUrl }}/v1/whoami',
    headers: [{ name: 'Authorization', content: 'Bearer {{ .SecureJsonData.apiToken }}' }],
  },
  {
    path: 'service/v1/query',
    method: 'POST',
    url: '{{ .JsonData.serviceUrl }}/v1/query',
    headers: [{ name: 'Authorization', content: 'Bearer {{ .SecureJsonData.apiToken }}' }],
  },
];

describe('route matching', () => {
  it('cleans paths as plugins.CleanRelativePath does', () => {
    expect(cleanRelativePath('service/v1/query')).toBe('service/v1/query');
    expect(cleanRelativePath('/service//v1/../v1/query')).toBe('service/v1/query');
    expect(cleanRelativePath('')).toBe('.');
    expect(cleanRelativePath('../../etc/passwd')).toBe('etc/passwd');
  });

  it('matches a route without a method for any method, by path prefix', () => {
    const route = { path: 'service' };
    expect(routeMatches(route, 'GET', 'service/health')).toBe(true);
    expect(routeMatches(route, 'POST', 'service/v1/query')).toBe(true);
    expect(routeMatches(route, 'GET', 'other/health')).toBe(false);
  });

  it('compares paths as strings, so "service" also covers "services"', () => {
    expect(routeMatches({ path: 'service' }, 'GET', 'services/x')).toBe(true);
  });

  it('honours a route method, "*" standing for any', () => {
    expect(routeMatches({ path: 'service/v1/query', method: 'POST' }, 'POST', 'service/v1/query')).toBe(true);
    expect(routeMatches({ path: 'service/v1/query', method: 'POST' }, 'GET', 'service/v1/query')).toBe(false);
    expect(routeMatches({ path: 'service', method: '*' }, 'DELETE', 'service/x')).toBe(true);
  });
});

describe('templates', () => {
  it('renders jsonData and secureJsonData values', () => {
    expect(renderTemplate('Bearer {{ .SecureJsonData.apiToken }}', settings)).toBe('Bearer agog_secret');
    expect(renderTemplate('{{.JsonData.serviceUrl}}/v1', settings)).toBe('http://service:8080/v1');
  });

  it('prints what Go templates print for missing values', () => {
    expect(renderTemplate('{{ .JsonData.nothing }}', settings)).toBe('<no value>');
    expect(renderTemplate('Bearer {{ .SecureJsonData.nothing }}', settings)).toBe('Bearer ');
  });

  it('refuses template actions it cannot render', () => {
    expect(() => renderTemplate('{{ .Url }}', settings)).toThrow(/not supported/);
  });
});

describe("decisions for plugin.json's routes", () => {
  it('forwards a query to the service URL with the token added', () => {
    expect(decide(pluginRoutes, settings, 'POST', 'service/v1/query')).toMatchObject({
      kind: 'forward',
      url: 'http://service:8080/v1/query',
      headers: [['Authorization', 'Bearer agog_secret']],
    });
  });

  it('keeps the query string', () => {
    const decision = decide(pluginRoutes, settings, 'GET', 'service/health', '?verbose=1');
    expect(decision).toMatchObject({ kind: 'forward', url: 'http://service:8080/health?verbose=1' });
  });

  it('refuses a path no route covers', () => {
    expect(decide(pluginRoutes, settings, 'GET', 'api/v1/ingest')).toMatchObject({ kind: 'refuse', status: 502 });
  });

  it('refuses when the service URL is not set', () => {
    const empty = { ...settings, jsonData: {} };
    expect(decide(pluginRoutes, empty, 'GET', 'service/health')).toMatchObject({ kind: 'refuse', status: 502 });
  });
});

describe('decisions for per-call routes', () => {
  it('sends each call to its own URL, with headers only where the route has them', () => {
    expect(decide(narrowRoutes, settings, 'GET', 'service/health')).toMatchObject({
      kind: 'forward',
      url: 'http://service:8080/health',
      headers: [],
    });
    expect(decide(narrowRoutes, settings, 'POST', 'service/v1/query')).toMatchObject({
      kind: 'forward',
      url: 'http://service:8080/v1/query',
      headers: [['Authorization', 'Bearer agog_secret']],
    });
  });

  it('refuses a call with another method', () => {
    expect(decide(narrowRoutes, settings, 'GET', 'service/v1/query')).toMatchObject({ kind: 'refuse' });
    expect(decide(narrowRoutes, settings, 'POST', 'service/v1/ingest/api')).toMatchObject({ kind: 'refuse' });
  });
});

describe('proxying over HTTP', () => {
  let upstream: http.Server;
  let proxy: http.Server;
  let proxyUrl: string;
  let seen: { method?: string; url?: string; authorization?: string; body: string }[] = [];
  let upstreamStatus = 200;

  beforeAll(async () => {
    upstream = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        seen.push({
          method: req.method,
          url: req.url,
          authorization: req.headers.authorization,
          body: Buffer.concat(chunks).toString(),
        });
        res.writeHead(upstreamStatus, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ ok: upstreamStatus === 200 }));
      });
    });
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
    const upstreamUrl = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
    const live: DataSourceSettings = { ...settings, jsonData: { serviceUrl: upstreamUrl } };
    proxy = http.createServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://proxy');
      const dead = url.pathname.startsWith('/dead/');
      const target = dead ? { ...live, jsonData: { serviceUrl: 'http://127.0.0.1:9' } } : live;
      proxyRequest(req, res, pluginRoutes, target, url.pathname.replace(/^\/(dead\/)?/, ''), url.search);
    });
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    proxyUrl = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    await new Promise((resolve) => proxy.close(resolve));
    await new Promise((resolve) => upstream.close(resolve));
  });

  beforeEach(() => {
    seen = [];
    upstreamStatus = 200;
  });

  it('forwards method, path and body, adding the token the browser never sent', async () => {
    const response = await fetch(`${proxyUrl}/service/v1/query`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"queries":[]}',
    });
    expect(response.status).toBe(200);
    expect(seen).toEqual([
      { method: 'POST', url: '/v1/query', authorization: 'Bearer agog_secret', body: '{"queries":[]}' },
    ]);
  });

  it("answers the service's 401 as Grafana does: 400 with a text body", async () => {
    upstreamStatus = 401;
    const response = await fetch(`${proxyUrl}/service/v1/whoami`);
    expect([response.status, await response.text()]).toEqual([400, 'Authentication to data source failed']);
  });

  it('answers 502 when the service cannot be reached', async () => {
    const response = await fetch(`${proxyUrl}/dead/service/health`);
    expect(response.status).toBe(502);
  });

  it('answers 502 for a path no route covers, without calling the service', async () => {
    const response = await fetch(`${proxyUrl}/elsewhere/v1/query`);
    expect(response.status).toBe(502);
    expect(seen).toEqual([]);
  });
});
