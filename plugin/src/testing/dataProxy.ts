/**
 * How Grafana 12.4's data proxy picks a plugin route and builds the upstream URL, written
 * out for tests (pkg/api/pluginproxy/ds_proxy.go validateRequest and ApplyRoute, as read
 * in Grafana's source): a route matches when its method is empty, "*" or the request's,
 * and its cleaned path is a prefix of the cleaned request path; the first match wins. The
 * route path is then cut from the raw request path and the rest appended to the route url.
 * A request no route matches goes to the data source's own url without the route headers.
 */
import path from 'path';

export interface PluginRoute {
  path: string;
  method?: string;
  url: string;
  headers?: Array<{ name: string; content: string }>;
}

/** Grafana's CleanRelativePath: resolves "." and "..", never climbs above the root, no leading "/". */
export function cleanRelativePath(relative: string): string {
  const cleaned = path.posix.normalize('/' + relative).replace(/^\/+/, '');
  return cleaned === '.' ? '' : cleaned.replace(/\/$/, '');
}

export function matchRoute(routes: PluginRoute[], method: string, proxyPath: string): PluginRoute | undefined {
  return routes.find(
    (route) =>
      (!route.method || route.method === '*' || route.method === method) &&
      cleanRelativePath(proxyPath).startsWith(cleanRelativePath(route.path))
  );
}

/** Grafana's JoinURLFragments. */
function joinUrlFragments(a: string, b: string): string {
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

/** The path the service receives for proxyPath on route, with serviceUrl in jsonData. */
export function upstreamPath(route: PluginRoute, proxyPath: string, serviceUrl = 'http://service:8080'): string {
  const rest = proxyPath.startsWith(route.path) ? proxyPath.slice(route.path.length) : proxyPath;
  const base = new URL(route.url.replace('{{ .JsonData.serviceUrl }}', serviceUrl));
  return joinUrlFragments(base.pathname, rest);
}
