// Demo traffic: an ERP-like application's requests, queries and resource samples, with
// three planted problems the product should find:
//   - a missing index: /api/print-jobs/search runs a sequential scan on demo_print_jobs
//     (customer_ref has no index), taking about 1.5 s;
//   - an N+1: /api/orders/:id/lines reads each line's product with its own query;
//   - an error burst: /api/invoices/export answers 503 to a third of its calls during the
//     first two minutes of every ten.
// Query text carries literals on purpose: the service must strip them.

export interface DemoRecords {
  api: Record<string, unknown>[];
  query: Record<string, unknown>[];
  resource: Record<string, unknown>[];
}

interface EndpointModel {
  method: string;
  path: string;
  weight: number;
  baseMs: number;
  queries: (rng: () => number, requestId: string) => Array<{ sql: string; ms: number; rows: number }>;
  errorRate?: (minuteOfTen: number) => number;
}

/** Small deterministic generator, so a backfill with the same seed gives the same data. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0 || 1;
  return () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 4294967296;
  };
}

function jitter(rng: () => number, base: number, spread = 0.5): number {
  // Log-normal-ish: mostly near base, with a tail.
  const factor = Math.exp((rng() + rng() + rng() - 1.5) * spread);
  return Math.round(base * factor * 100) / 100;
}

const id = (rng: () => number, max: number) => 1 + Math.floor(rng() * max);

const ENDPOINTS: EndpointModel[] = [
  {
    method: 'GET', path: '/api/orders', weight: 20, baseMs: 35,
    queries: (rng) => [{ sql: `SELECT id, status, total FROM demo_orders WHERE customer_id = ${id(rng, 5000)} ORDER BY created_at DESC LIMIT 50`, ms: jitter(rng, 6), rows: 20 }],
  },
  {
    method: 'GET', path: '/api/orders/:id', weight: 25, baseMs: 15,
    queries: (rng) => [{ sql: `SELECT * FROM demo_orders WHERE id = ${id(rng, 200000)}`, ms: jitter(rng, 0.8), rows: 1 }],
  },
  {
    method: 'GET', path: '/api/orders/:id/lines', weight: 10, baseMs: 20,
    queries: (rng) => {
      const order = id(rng, 200000);
      const lines = 8 + Math.floor(rng() * 20);
      return [
        { sql: `SELECT * FROM demo_order_lines WHERE order_id = ${order}`, ms: jitter(rng, 1.5), rows: lines },
        ...Array.from({ length: lines }, () => ({ sql: `SELECT * FROM demo_products WHERE id = ${id(rng, 3000)}`, ms: jitter(rng, 3.5), rows: 1 })),
      ];
    },
  },
  {
    method: 'POST', path: '/api/print-jobs', weight: 8, baseMs: 45,
    queries: (rng) => [
      { sql: `INSERT INTO demo_print_jobs (customer_ref, pages, status) VALUES ('CUST-${id(rng, 5000)}', ${id(rng, 500)}, 'queued')`, ms: jitter(rng, 2.5), rows: 1 },
    ],
  },
  {
    method: 'GET', path: '/api/print-jobs/search', weight: 3, baseMs: 60,
    queries: (rng) => [{ sql: `SELECT * FROM demo_print_jobs WHERE customer_ref = 'CUST-${id(rng, 5000)}'`, ms: jitter(rng, 1500, 0.3), rows: 12 }],
  },
  {
    method: 'GET', path: '/api/customers/:id', weight: 15, baseMs: 12,
    queries: (rng) => [{ sql: `SELECT * FROM demo_customers WHERE id = ${id(rng, 5000)}`, ms: jitter(rng, 0.6), rows: 1 }],
  },
  {
    method: 'GET', path: '/api/invoices/export', weight: 5, baseMs: 280,
    queries: (rng) => [{ sql: `SELECT * FROM demo_orders WHERE status = 'invoiced' AND created_at >= now() - interval '30 days'`, ms: jitter(rng, 120), rows: 800 }],
    errorRate: (minuteOfTen) => (minuteOfTen < 2 ? 0.35 : 0.005),
  },
  {
    method: 'GET', path: '/api/reports/daily', weight: 2, baseMs: 150,
    queries: (rng) => [{ sql: `SELECT date_trunc('day', created_at), count(*), sum(total) FROM demo_orders WHERE created_at >= now() - interval '1 day' GROUP BY 1`, ms: jitter(rng, 420), rows: 1 }],
  },
  {
    method: 'POST', path: '/api/auth/session', weight: 12, baseMs: 25,
    queries: (rng) => [{ sql: `SELECT id, password_hash FROM demo_users WHERE email = 'user${id(rng, 900)}@example.com'`, ms: jitter(rng, 0.9), rows: 1 }],
  },
];

const TOTAL_WEIGHT = ENDPOINTS.reduce((sum, e) => sum + e.weight, 0);

function pickEndpoint(rng: () => number): EndpointModel {
  let roll = rng() * TOTAL_WEIGHT;
  for (const endpoint of ENDPOINTS) {
    roll -= endpoint.weight;
    if (roll <= 0) return endpoint;
  }
  return ENDPOINTS[0]!;
}

/**
 * The traffic of [startMs, endMs) at `ratePerSecond` requests a second, and one resource
 * sample per source every 15 s.
 */
export function generateTraffic(startMs: number, endMs: number, ratePerSecond: number, rng: () => number, requestPrefix = 'demo'): DemoRecords {
  const records: DemoRecords = { api: [], query: [], resource: [] };
  const requests = Math.max(0, Math.round(((endMs - startMs) / 1000) * ratePerSecond));
  for (let i = 0; i < requests; i++) {
    const at = startMs + Math.floor(((endMs - startMs) * i) / Math.max(1, requests));
    const endpoint = pickEndpoint(rng);
    const requestId = `${requestPrefix}-${at.toString(36)}-${i.toString(36)}-${Math.floor(rng() * 1e6).toString(36)}`;
    const queries = endpoint.queries(rng, requestId);
    let dbMs = 0;
    let offset = 0;
    for (const q of queries) {
      records.query.push({ timestamp: at + Math.floor(offset), query: q.sql, executionTimeMs: q.ms, rows: q.rows, endpoint: endpoint.path, requestId });
      dbMs += q.ms;
      offset += q.ms;
    }
    const minuteOfTen = Math.floor(at / 60_000) % 10;
    const failed = rng() < (endpoint.errorRate?.(minuteOfTen) ?? 0.002);
    records.api.push({
      timestamp: new Date(at).toISOString(),
      endpoint: endpoint.path,
      method: endpoint.method,
      statusCode: failed ? 503 : rng() < 0.02 ? 404 : endpoint.method === 'POST' ? 201 : 200,
      responseTimeMs: Math.round((jitter(rng, endpoint.baseMs) + dbMs) * 100) / 100,
      responseSizeBytes: 200 + Math.floor(rng() * 20_000),
      requestId,
      userId: `user-${id(rng, 900)}`,
    });
  }
  const firstSample = Math.ceil(startMs / 15_000) * 15_000;
  for (let at = firstSample; at < endMs; at += 15_000) {
    for (const source of ['api-1', 'api-2']) {
      const load = 0.5 + 0.5 * Math.sin(at / 3_600_000);
      records.resource.push({
        timestamp: new Date(at).toISOString(),
        cpuUsagePercent: Math.min(100, Math.round((25 + 35 * load + rng() * 10) * 10) / 10),
        memoryUsedMb: Math.round(1400 + 900 * load + rng() * 100),
        memoryTotalMb: 4096,
        activeConnections: Math.min(30, Math.round(6 + 14 * load + rng() * 4)),
        poolMax: 30,
        source,
      });
    }
  }
  return records;
}
