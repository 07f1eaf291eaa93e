// The little of Grafana's HTTP API that `agog-perf dashboards pull` needs: one dashboard
// by uid (GET /api/dashboards/uid/:uid), authenticated with a service account token.
import { classicDashboardOf, CLASSIC_EXPORT_HINT, UnsupportedDashboardError } from './dashboardJson';

export class GrafanaApiError extends Error {
  override name = 'GrafanaApiError';
}

export interface PulledDashboard {
  dashboard: Record<string, unknown>;
  /** The file the dashboard was provisioned from, relative to the provider's folder, when Grafana says. */
  provisionedFile: string | undefined;
}

function messageOf(body: unknown): string {
  if (typeof body === 'object' && body !== null && typeof (body as { message?: unknown }).message === 'string') {
    return (body as { message: string }).message;
  }
  return typeof body === 'string' ? body.slice(0, 300) : '';
}

export async function fetchDashboard(baseUrl: string, token: string | undefined, uid: string): Promise<PulledDashboard> {
  const url = `${baseUrl.replace(/\/+$/, '')}/api/dashboards/uid/${encodeURIComponent(uid)}`;
  let response: Response;
  try {
    response = await fetch(url, {
      headers: { accept: 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
      signal: AbortSignal.timeout(15_000),
    });
  } catch (err) {
    throw new GrafanaApiError(`cannot reach Grafana at ${baseUrl}: ${(err as Error).message}`);
  }
  const text = await response.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // not JSON: keep the text for the message
  }
  const message = messageOf(body);
  if (response.status === 401 || response.status === 403) {
    throw new GrafanaApiError(
      `Grafana refused the request for "${uid}" (${response.status}${message ? `: ${message}` : ''}). ` +
        'Pass a service account token with at least the Viewer role: --token <token> or GRAFANA_TOKEN.',
    );
  }
  if (response.status === 404) throw new GrafanaApiError(`Grafana has no dashboard with uid "${uid}"`);
  // Grafana 12 answers the classic API with 406 for a dashboard stored in the v2 format.
  if (!response.ok && /\bv2|api ?version|apiVersion/i.test(message)) {
    throw new UnsupportedDashboardError(`dashboard "${uid}" is in Grafana's v2 dashboard format (${message}).\n${CLASSIC_EXPORT_HINT}`);
  }
  if (!response.ok) throw new GrafanaApiError(`Grafana answered ${response.status} for "${uid}"${message ? `: ${message}` : ''}`);
  const meta = typeof body === 'object' && body !== null ? (body as { meta?: { provisionedExternalId?: unknown } }).meta : undefined;
  return {
    dashboard: classicDashboardOf(body, `dashboard "${uid}"`),
    provisionedFile: typeof meta?.provisionedExternalId === 'string' && meta.provisionedExternalId ? meta.provisionedExternalId : undefined,
  };
}
