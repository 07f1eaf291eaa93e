/**
 * A stand-in for Grafana's data source proxy (`/api/datasources/proxy/uid/<uid>/<path>`),
 * applying the `routes` of plugin.json the way Grafana's pkg/api/pluginproxy does:
 *
 * - routes are tried in order; a route matches when its `method` is empty, `*` or the
 *   request's method, and the cleaned request path starts with the cleaned route path
 *   (a plain string prefix, as Grafana compares them);
 * - the matched route's path is cut from the front of the request path, and the rest is
 *   joined to the path of the route's `url`, whose scheme and host replace the target's;
 * - each route header is rendered from the data source settings (`{{ .JsonData.x }}`,
 *   `{{ .SecureJsonData.x }}`) and added to the request;
 * - an answer of 401 from the service reaches the browser as 400 with the text
 *   "Authentication to data source failed" (Grafana does this so that a data source's
 *   401 never signs the user out); a service that cannot be reached answers 502.
 *
 * The data source of this plugin has no URL of its own (the service URL is in jsonData),
 * so a request that matches no route has nowhere to go and fails with 502, as Grafana's
 * reverse proxy does for a target without a host.
 */
import http from 'node:http';
import path from 'node:path';

export interface RouteHeader {
  name: string;
  content: string;
}

export interface PluginRoute {
  path: string;
  method?: string;
  url?: string;
  headers?: RouteHeader[];
  reqRole?: string;
  reqAction?: string;
}

export interface DataSourceSettings {
  uid: string;
  jsonData: Record<string, unknown>;
  /** Decrypted: only the server side of the harness holds these. */
  secureJsonData: Record<string, string>;
}

export type ProxyDecision =
  | { kind: 'forward'; route: PluginRoute; url: string; headers: Array<[string, string]> }
  | { kind: 'refuse'; status: number; message: string };

/** Grafana's plugins.CleanRelativePath: the path made relative to "/", without "..", "." for empty. */
export function cleanRelativePath(input: string): string {
  const cleaned = path.posix.normalize(path.posix.join('/', input));
  const relative = path.posix.relative('/', cleaned);
  return relative === '' ? '.' : relative;
}

export function routeMatches(route: PluginRoute, method: string, proxyPath: string): boolean {
  const routeMethod = route.method ?? '';
  if (routeMethod !== '' && routeMethod !== '*' && routeMethod.toUpperCase() !== method.toUpperCase()) {
    return false;
  }
  let requested = cleanRelativePath(proxyPath);
  let prefix = cleanRelativePath(route.path);
  if (requested === '.' && proxyPath !== '.') {
    requested = '';
  }
  if (prefix === '.' && route.path !== '.') {
    prefix = '';
  }
  return requested.startsWith(prefix);
}

export function findRoute(routes: PluginRoute[], method: string, proxyPath: string): PluginRoute | undefined {
  return routes.find((route) => routeMatches(route, method, proxyPath));
}

/**
 * Renders the template actions plugin.json routes use: `{{ .JsonData.name }}` and
 * `{{ .SecureJsonData.name }}`. A missing jsonData value prints "<no value>" and a missing
 * secure value prints nothing, as Go's text/template does for the maps Grafana passes.
 * Any other action is refused, so a route this stand-in cannot render fails loudly.
 */
export function renderTemplate(text: string, settings: DataSourceSettings): string {
  return text.replace(/\{\{(.*?)\}\}/g, (_whole, action: string) => {
    const match = /^\s*\.(JsonData|SecureJsonData)\.([A-Za-z_][A-Za-z0-9_]*)\s*$/.exec(action);
    if (!match) {
      throw new Error(`route template action not supported by the harness: {{${action}}}`);
    }
    const [, map, key] = match;
    if (map === 'JsonData') {
      const value = settings.jsonData[key];
      return value === undefined || value === null ? '<no value>' : String(value);
    }
    return settings.secureJsonData[key] ?? '';
  });
}

/** Grafana's util.JoinURLFragments. */
export function joinUrlFragments(a: string, b: string): string {
  if (b.length === 0) {
    return a;
  }
  const aSlash = a.endsWith('/');
  const bSlash = b.startsWith('/');
  if (aSlash && bSlash) {
    return a + b.slice(1);
  }
  if (!aSlash && !bSlash) {
    return `${a}/${b}`;
  }
  return a + b;
}

/** Where a proxied request goes, and with which added headers; or why it cannot go. */
export function decide(
  routes: PluginRoute[],
  settings: DataSourceSettings,
  method: string,
  proxyPath: string,
  search = ''
): ProxyDecision {
  const route = findRoute(routes, method, proxyPath);
  if (!route) {
    return { kind: 'refuse', status: 502, message: `no route of plugin.json matches ${method} ${proxyPath}` };
  }
  let target: URL;
  try {
    target = new URL(renderTemplate(route.url ?? '', settings));
  } catch {
    return { kind: 'refuse', status: 502, message: `the route url of ${route.path} does not render to a URL` };
  }
  if (!/^https?:$/.test(target.protocol) || target.host === '') {
    return { kind: 'refuse', status: 502, message: `the route url of ${route.path} does not render to a URL` };
  }
  const rest = proxyPath.startsWith(route.path) ? proxyPath.slice(route.path.length) : proxyPath;
  target.pathname = joinUrlFragments(target.pathname === '/' ? '' : target.pathname, rest);
  target.search = search;
  const headers = (route.headers ?? []).map((header): [string, string] => [
    header.name,
    renderTemplate(header.content, settings),
  ]);
  return { kind: 'forward', route, url: target.toString(), headers };
}

/** Request headers the browser sent that the proxy passes on (the rest stays behind, like cookies). */
const PASSED_ON = ['content-type', 'accept', 'x-grafana-org-id'];

export interface ProxyCall {
  method: string;
  proxyPath: string;
  route?: string;
  target?: string;
  status: number;
}

/**
 * Answers one browser request for `/api/datasources/proxy/uid/<uid>/<proxyPath>`,
 * forwarding it with fetch and writing the answer back.
 */
export async function proxyRequest(
  req: http.IncomingMessage,
  res: http.ServerResponse,
  routes: PluginRoute[],
  settings: DataSourceSettings,
  proxyPath: string,
  search: string
): Promise<ProxyCall> {
  const method = (req.method ?? 'GET').toUpperCase();
  const decision = decide(routes, settings, method, proxyPath, search);
  if (decision.kind === 'refuse') {
    res.writeHead(decision.status, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ message: decision.message }));
    return { method, proxyPath, status: decision.status };
  }
  const headers = new Headers();
  for (const name of PASSED_ON) {
    const value = req.headers[name];
    if (typeof value === 'string') {
      headers.set(name, value);
    }
  }
  headers.set('user-agent', 'Grafana data proxy stand-in');
  for (const [name, value] of decision.headers) {
    headers.append(name, value);
  }
  const body = method === 'GET' || method === 'HEAD' ? undefined : new Uint8Array(await readBody(req));
  const call = { method, proxyPath, route: decision.route.path, target: decision.url };
  let answer: Response;
  try {
    answer = await fetch(decision.url, { method, headers, body, redirect: 'manual' });
  } catch {
    res.writeHead(502);
    res.end();
    return { ...call, status: 502 };
  }
  if (answer.status === 401) {
    await answer.arrayBuffer();
    const text = 'Authentication to data source failed';
    res.writeHead(400, { 'content-type': 'text/plain; charset=utf-8' });
    res.end(text);
    return { ...call, status: 400 };
  }
  const payload = Buffer.from(await answer.arrayBuffer());
  const contentType = answer.headers.get('content-type');
  res.writeHead(answer.status, contentType ? { 'content-type': contentType } : {});
  res.end(payload);
  return { ...call, status: answer.status };
}

function readBody(req: http.IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}
