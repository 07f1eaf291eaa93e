// Starts the real service in-process on a free port against a test database.
import { loadConfig, type Config } from '../../src/config';
import { createToken, type Scope } from '../../src/db/tokens';
import { startService, type RunningService, type ServiceOptions } from '../../src/service';
import type { TestDatabase } from './db';

export async function startTestService(
  db: TestDatabase,
  env: Record<string, string> = {},
  options: ServiceOptions = {},
): Promise<{ service: RunningService; url: string; config: Config }> {
  const config = loadConfig({ PORT: '0', RESOURCE_SAMPLE_INTERVAL_MS: '0', METRICS_FLUSH_INTERVAL_MS: '5', ...env });
  const service = await startService(config, db.url, { startScheduler: false, log: () => undefined, ...options });
  return { service, url: service.url, config };
}

export async function tokenFor(db: TestDatabase, tenantId: string | null, scopes: Scope[]): Promise<string> {
  return (await createToken(db.pool, { tenantId, scopes })).token;
}

export async function post(url: string, token: string | undefined, body: unknown, headers: Record<string, string> = {}): Promise<{ status: number; body: any; headers: Headers }> {
  const response = await fetch(url, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...headers,
    },
    body: typeof body === 'string' || Buffer.isBuffer(body) ? (body as string) : JSON.stringify(body),
  });
  const text = await response.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // not JSON
  }
  return { status: response.status, body: parsed, headers: response.headers };
}

export function apiRecord(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return { timestamp: new Date().toISOString(), endpoint: '/api/orders', method: 'GET', statusCode: 200, responseTimeMs: 12.5, ...overrides };
}

export function queryRecord(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return { timestamp: Date.now(), query: "SELECT * FROM orders WHERE customer_email = 'jane@example.com'", executionTimeMs: 4, endpoint: '/api/orders', ...overrides };
}

export function resourceRecord(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return { timestamp: new Date().toISOString(), cpuUsagePercent: 35, memoryUsedMb: 900, memoryTotalMb: 4096, activeConnections: 7, poolMax: 30, ...overrides };
}
