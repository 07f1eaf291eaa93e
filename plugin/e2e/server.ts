/**
 * The harness's HTTP server, in place of Grafana's: the host page, the plugin's files
 * under /public/plugins/<id>/, Grafana's icons, a data source settings API for one
 * data source, and the data proxy (./proxy.ts).
 */
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';

import { DataSourceSettings, PluginRoute, ProxyCall, proxyRequest } from './proxy';

export interface HarnessPaths {
  /** plugin/dist */
  dist: string;
  /** the esbuild output of host/index.tsx: host.js, host.css */
  host: string;
  /** node_modules/systemjs/dist */
  systemjs: string;
  /** node_modules/@grafana/ui/dist/public/img/icons */
  icons: string;
  /** node_modules/@fontsource/inter/files: Inter, which Grafana serves from public/fonts/inter */
  fonts: string;
}

/** The Inter files Grafana's GlobalStyles asks for, and the same faces in @fontsource/inter. */
const INTER_FILES: Record<string, string> = {
  'Inter-Regular.woff2': 'inter-latin-400-normal.woff2',
  'Inter-Medium.woff2': 'inter-latin-500-normal.woff2',
  'Inter-Italic.woff2': 'inter-latin-400-italic.woff2',
  'Inter-MediumItalic.woff2': 'inter-latin-500-italic.woff2',
};

/** A data source as Grafana stores it: secrets kept here, only their presence shown to the page. */
export interface StoredDataSource {
  id: number;
  uid: string;
  name: string;
  type: string;
  jsonData: Record<string, unknown>;
  secureJsonData: Record<string, string>;
}

export interface Harness {
  url: string;
  pluginId: string;
  routes: PluginRoute[];
  setDataSource(jsonData: Record<string, unknown>, secureJsonData: Record<string, string>): void;
  calls: ProxyCall[];
  close(): Promise<void>;
}

const TYPES: Record<string, string> = {
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.map': 'application/json; charset=utf-8',
  '.md': 'text/markdown; charset=utf-8',
  '.woff2': 'font/woff2',
  '.html': 'text/html; charset=utf-8',
};

const PAGE = `<!doctype html>
<html>
  <head>
    <meta charset="utf-8" />
    <title>AGOG plugin harness</title>
    <link rel="icon" href="data:," />
    <style>body { margin: 0; }</style>
    <link rel="stylesheet" href="/e2e/host/host.css" />
  </head>
  <body>
    <div id="root"></div>
    <script>
      // Grafana's index.html sets the boot data before its bundle runs; @grafana/runtime reads it on import.
      (function () {
        var params = new URLSearchParams(window.location.search);
        window.grafanaBootData = {
          settings: { buildInfo: { version: '12.4.0', edition: 'Open Source' }, featureToggles: {} },
          user: { language: params.get('lang') || 'en-US', theme: params.get('theme') || 'dark', orgRole: 'Admin' },
          navTree: [],
        };
        window.__grafana_public_path__ = '/public/';
      })();
    </script>
    <!-- The host first: with SystemJS's AMD define() present, lodash would register as an AMD module. -->
    <script src="/e2e/host/host.js"></script>
    <script src="/e2e/systemjs/system.js"></script>
    <script src="/e2e/systemjs/extras/amd.js"></script>
  </body>
</html>
`;

function sendFile(res: http.ServerResponse, root: string, relative: string): void {
  const file = path.resolve(root, '.' + path.posix.normalize('/' + decodeURIComponent(relative)));
  if (!file.startsWith(path.resolve(root)) || !fs.existsSync(file) || !fs.statSync(file).isFile()) {
    res.writeHead(404, { 'content-type': 'text/plain' });
    res.end('not found');
    return;
  }
  res.writeHead(200, {
    'content-type': TYPES[path.extname(file)] ?? 'application/octet-stream',
    'cache-control': 'no-store',
  });
  fs.createReadStream(file).pipe(res);
}

function readJson(req: http.IncomingMessage): Promise<any> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      try {
        resolve(JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}'));
      } catch (err) {
        reject(err);
      }
    });
    req.on('error', reject);
  });
}

/** What Grafana's API answers for a data source: no secret values, only which are set. */
function publicView(ds: StoredDataSource) {
  const secureJsonFields: Record<string, boolean> = {};
  for (const [key, value] of Object.entries(ds.secureJsonData)) {
    if (value.length > 0) {
      secureJsonFields[key] = true;
    }
  }
  return {
    id: ds.id,
    uid: ds.uid,
    orgId: 1,
    name: ds.name,
    type: ds.type,
    typeName: 'AGOG Performance Analytics',
    typeLogoUrl: '',
    access: 'proxy',
    url: '',
    user: '',
    database: '',
    basicAuth: false,
    basicAuthUser: '',
    isDefault: true,
    withCredentials: false,
    readOnly: false,
    jsonData: ds.jsonData,
    secureJsonFields,
    version: 1,
  };
}

export async function startHarness(paths: HarnessPaths, port = 0): Promise<Harness> {
  const pluginJson = JSON.parse(fs.readFileSync(path.join(paths.dist, 'plugin.json'), 'utf8'));
  const pluginId: string = pluginJson.id;
  const routes: PluginRoute[] = pluginJson.routes ?? [];
  const ds: StoredDataSource = {
    id: 1,
    uid: 'agog-e2e',
    name: 'AGOG',
    type: pluginId,
    jsonData: {},
    secureJsonData: {},
  };
  const calls: ProxyCall[] = [];

  const handle = async (req: http.IncomingMessage, res: http.ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://harness');
    const pathname = url.pathname;
    const pluginPrefix = `/public/plugins/${pluginId}/`;
    const proxyPrefix = `/api/datasources/proxy/uid/${ds.uid}/`;
    if (pathname === '/') {
      res.writeHead(200, { 'content-type': TYPES['.html'] });
      res.end(PAGE);
    } else if (pathname.startsWith('/e2e/host/')) {
      sendFile(res, paths.host, pathname.slice('/e2e/host/'.length));
    } else if (pathname.startsWith('/e2e/systemjs/')) {
      sendFile(res, paths.systemjs, pathname.slice('/e2e/systemjs/'.length));
    } else if (pathname.startsWith(pluginPrefix)) {
      sendFile(res, paths.dist, pathname.slice(pluginPrefix.length));
    } else if (pathname.startsWith('/public/build/img/icons/')) {
      sendFile(res, paths.icons, pathname.slice('/public/build/img/icons/'.length));
    } else if (
      pathname.startsWith('/public/fonts/inter/') &&
      INTER_FILES[pathname.slice('/public/fonts/inter/'.length)]
    ) {
      sendFile(res, paths.fonts, INTER_FILES[pathname.slice('/public/fonts/inter/'.length)]);
    } else if (pathname === `/api/datasources/uid/${ds.uid}` && req.method === 'GET') {
      res.writeHead(200, { 'content-type': TYPES['.json'] });
      res.end(JSON.stringify(publicView(ds)));
    } else if (pathname === `/api/datasources/uid/${ds.uid}` && req.method === 'PUT') {
      // Grafana's update: jsonData replaced; a secret sent replaces the stored one, an
      // omitted secret stays as it was.
      const body = await readJson(req);
      ds.jsonData = body.jsonData ?? {};
      for (const [key, value] of Object.entries(body.secureJsonData ?? {})) {
        ds.secureJsonData[key] = String(value ?? '');
      }
      res.writeHead(200, { 'content-type': TYPES['.json'] });
      res.end(JSON.stringify({ datasource: publicView(ds), message: 'Datasource updated' }));
    } else if (pathname.startsWith(proxyPrefix)) {
      const settings: DataSourceSettings = { uid: ds.uid, jsonData: ds.jsonData, secureJsonData: ds.secureJsonData };
      calls.push(await proxyRequest(req, res, routes, settings, pathname.slice(proxyPrefix.length), url.search));
    } else {
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end('not found');
    }
  };

  const server = http.createServer((req, res) => {
    handle(req, res).catch((err: Error) => {
      if (!res.headersSent) {
        res.writeHead(500, { 'content-type': 'text/plain' });
      }
      res.end(String(err?.message ?? err));
    });
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  const address = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${address.port}`,
    pluginId,
    routes,
    calls,
    setDataSource(jsonData, secureJsonData) {
      ds.jsonData = { ...jsonData };
      ds.secureJsonData = { ...secureJsonData };
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
