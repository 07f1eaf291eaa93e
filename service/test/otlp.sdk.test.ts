// A real Express + pg application, instrumented by the OpenTelemetry Node SDK and
// configured only through OTEL_EXPORTER_OTLP_ENDPOINT and OTEL_EXPORTER_OTLP_HEADERS,
// exports to the service over OTLP/HTTP: with the protobuf exporter, the JSON exporter,
// and the protobuf exporter with gzip. What arrives is checked in PostgreSQL.
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { createTestDatabase, type TestDatabase } from './support/db';
import { startTestService, tokenFor } from './support/service';
import { findingsOf, optimizerSettings } from './support/optimizer';
import { optimizeJob } from '../src/optimizer/engine';
import type { RunningService } from '../src/service';

jest.setTimeout(120_000);

const APP = path.join(__dirname, 'fixtures', 'otlpApp.js');

interface RunningApp {
  url: string;
  child: ChildProcess;
  stderr: () => string;
}

function startApp(env: Record<string, string>): Promise<RunningApp> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [APP], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stderr!.on('data', (chunk) => (stderr += chunk));
    child.stdout!.on('data', (chunk) => {
      stdout += chunk;
      const match = /listening on (\d+)/.exec(stdout);
      if (match) resolve({ url: `http://127.0.0.1:${match[1]}`, child, stderr: () => stderr });
    });
    child.on('exit', (code) => reject(new Error(`the application exited with code ${code}: ${stderr}`)));
  });
}

async function stopApp(app: RunningApp): Promise<void> {
  if (app.child.exitCode !== null) return;
  const exited = new Promise((resolve) => app.child.once('exit', resolve));
  app.child.kill('SIGTERM');
  await exited;
}

/** Traffic with known routes and statuses: 3 N+1 list requests, 2 found and 1 missing customer, 1 server error. */
async function driveTraffic(appUrl: string): Promise<void> {
  for (let i = 0; i < 3; i++) expect((await fetch(`${appUrl}/orders`)).status).toBe(200);
  expect((await fetch(`${appUrl}/customers/customer1@example.com`)).status).toBe(200);
  expect((await fetch(`${appUrl}/customers/customer2@example.com`)).status).toBe(200);
  expect((await fetch(`${appUrl}/customers/jane.doe@example.com`)).status).toBe(404);
  expect((await fetch(`${appUrl}/orders/7/cancel`, { method: 'POST' })).status).toBe(500);
  const flushed = await fetch(`${appUrl}/__flush`);
  expect(flushed.status).toBe(200);
}

const CASES: Array<{ name: string; tenant: string; env: Record<string, string> }> = [
  { name: 'the protobuf exporter', tenant: '27270001-0000-4000-8000-000000000001', env: { OTLP_PROTOCOL: 'protobuf' } },
  { name: 'the JSON exporter', tenant: '27270002-0000-4000-8000-000000000002', env: { OTLP_PROTOCOL: 'json' } },
  { name: 'the protobuf exporter with gzip', tenant: '27270003-0000-4000-8000-000000000003', env: { OTLP_PROTOCOL: 'protobuf', OTEL_EXPORTER_OTLP_COMPRESSION: 'gzip' } },
];

describe('OTLP ingestion from an application instrumented by the OpenTelemetry Node SDK', () => {
  let db: TestDatabase;
  let service: RunningService;
  let url: string;

  beforeAll(async () => {
    db = await createTestDatabase('otlp_sdk');
    ({ service, url } = await startTestService(db));
  });
  afterAll(async () => {
    await service.stop();
    await db.drop();
  });

  describe.each(CASES)('with $name', ({ tenant, env }) => {
    let app: RunningApp;

    beforeAll(async () => {
      const token = await tokenFor(db, tenant, ['ingest']);
      app = await startApp({
        ...env,
        DATABASE_URL: db.url,
        OTEL_EXPORTER_OTLP_ENDPOINT: url,
        OTEL_EXPORTER_OTLP_HEADERS: `authorization=Bearer%20${token}`,
      });
      await driveTraffic(app.url);
    });
    afterAll(async () => {
      if (app) await stopApp(app);
    });

    it('stores every request by its route, with its method and status', async () => {
      const rows = await db.pool.query<{ endpoint: string; method: string; status_code: number; n: number }>(
        `SELECT endpoint, method, status_code, count(*)::int AS n FROM api_performance_log
          WHERE tenant_id = $1 AND endpoint <> '/__flush' GROUP BY 1, 2, 3 ORDER BY 1, 2, 3`, [tenant]);
      expect(rows.rows).toEqual([
        { endpoint: '/customers/:email', method: 'GET', status_code: 200, n: 2 },
        { endpoint: '/customers/:email', method: 'GET', status_code: 404, n: 1 },
        { endpoint: '/orders', method: 'GET', status_code: 200, n: 3 },
        { endpoint: '/orders/:id/cancel', method: 'POST', status_code: 500, n: 1 },
      ]);
      const ids = await db.pool.query(`SELECT request_id FROM api_performance_log WHERE tenant_id = $1`, [tenant]);
      for (const row of ids.rows) expect(row.request_id).toMatch(/^[0-9a-f]{32}$/);
    });

    it('stores the queries normalized, with no literal left, and linked to their endpoint', async () => {
      const rows = await db.pool.query<{ preview: string; endpoint: string | null; n: number }>(
        // Fast rows leave query_preview NULL once their fingerprint's text is on another row.
        `SELECT (SELECT max(p.query_preview) FROM query_performance_log p WHERE p.tenant_id = q.tenant_id AND p.query_hash = q.query_hash) AS preview,
                q.endpoint, count(*)::int AS n
           FROM query_performance_log q WHERE q.tenant_id = $1 GROUP BY q.tenant_id, q.query_hash, q.endpoint ORDER BY 1, 2`, [tenant]);
      const all = rows.rows.map((r) => r.preview).join('\n');
      expect(all).not.toMatch(/example\.com|jane|order_id = \d/);
      const lines = rows.rows.find((r) => /FROM app_order_lines WHERE order_id = \$1/.test(r.preview));
      expect(lines).toEqual({ preview: expect.any(String), endpoint: '/orders', n: 24 });
      const customers = rows.rows.find((r) => /FROM app_orders WHERE customer_email = \$1/.test(r.preview));
      expect(customers).toEqual({ preview: expect.any(String), endpoint: '/customers/:email', n: 3 });
      // A query's request_id is the trace id of the request that ran it: 3 × (1 + 8) on
      // /orders and 3 on /customers/:email (the start-up queries ran outside any request).
      const linked = await db.pool.query(
        `SELECT count(*)::int AS n FROM query_performance_log q
          WHERE q.tenant_id = $1 AND EXISTS (SELECT 1 FROM api_performance_log a WHERE a.tenant_id = q.tenant_id AND a.request_id = q.request_id AND a.endpoint = q.endpoint)`,
        [tenant]);
      expect(linked.rows[0].n).toBe(30);
    });

    it('finds the N+1 pattern of one route and recommends a fix for it', async () => {
      await optimizeJob(db.pool, optimizerSettings({ nPlusOneMinTotalMs: 0 }));
      const findings = await findingsOf(db.pool, tenant, 'nPlusOne');
      expect(findings.map((f) => f.endpoint)).toEqual(['/orders']);
      expect(findings[0]!.evidence.avgQueriesPerRequest).toBe(8);
      expect(findings[0]!.evidence.query).toMatch(/order_id = \$1/);
    });

    it('stores the process metrics and the pool of the application as a resource sample', async () => {
      const rows = await db.pool.query(
        `SELECT source, cpu_usage_percent, memory_used_mb, active_connections, pool_max FROM system_resource_metrics WHERE tenant_id = $1`, [tenant]);
      expect(rows.rows).toHaveLength(1);
      const [row] = rows.rows;
      expect(row.source).toMatch(/^orders-app\/pid-\d+$/);
      expect(row.cpu_usage_percent).toBeGreaterThanOrEqual(0);
      expect(row.memory_used_mb).toBeGreaterThan(10);
      expect(row.active_connections).toBeGreaterThanOrEqual(0);
      expect(row.pool_max).toBe(4);
    });
  });
});
