// Constructed measurements for the query API and optimizer tests, written straight into
// the raw logs (the statement triggers record the rollup deltas, as with ingest), then
// merged by refreshRollups. Exact timestamps and values make the expected answers exact.
import type { Pool } from '../../src/db/pool';
import { post } from './service';

export interface RequestRow {
  at: Date;
  endpoint: string;
  ms: number;
  status?: number;
  method?: string;
  requestId?: string | null;
  userId?: string | null;
}

export async function insertRequests(pool: Pool, tenantId: string, rows: RequestRow[]): Promise<void> {
  if (rows.length === 0) return;
  await pool.query(
    `INSERT INTO api_performance_log ("timestamp", tenant_id, response_time_ms, status_code, method, endpoint, request_id, user_id)
     SELECT t, $1::uuid, ms, status, method, endpoint, request_id, user_id
       FROM unnest($2::timestamptz[], $3::real[], $4::smallint[], $5::text[], $6::text[], $7::text[], $8::text[])
            AS r(t, ms, status, method, endpoint, request_id, user_id)`,
    [
      tenantId,
      rows.map((r) => r.at),
      rows.map((r) => r.ms),
      rows.map((r) => r.status ?? 200),
      rows.map((r) => r.method ?? 'GET'),
      rows.map((r) => r.endpoint),
      rows.map((r) => r.requestId ?? null),
      rows.map((r) => r.userId ?? null),
    ],
  );
}

export interface QueryRow {
  at: Date;
  /** Decimal query_hash. */
  hash: string;
  preview: string;
  ms: number;
  endpoint?: string | null;
  requestId?: string | null;
  rows?: number;
}

export async function insertQueries(pool: Pool, tenantId: string, rows: QueryRow[]): Promise<void> {
  if (rows.length === 0) return;
  await pool.query(
    `INSERT INTO query_performance_log ("timestamp", query_hash, tenant_id, execution_time_ms, rows_returned, endpoint, request_id, query_preview)
     SELECT t, hash, $1::uuid, ms, rows_returned, endpoint, request_id, preview
       FROM unnest($2::timestamptz[], $3::bigint[], $4::real[], $5::integer[], $6::text[], $7::text[], $8::text[])
            AS q(t, hash, ms, rows_returned, endpoint, request_id, preview)`,
    [
      tenantId,
      rows.map((r) => r.at),
      rows.map((r) => r.hash),
      rows.map((r) => r.ms),
      rows.map((r) => r.rows ?? 1),
      rows.map((r) => r.endpoint ?? null),
      rows.map((r) => r.requestId ?? null),
      rows.map((r) => r.preview),
    ],
  );
}

export interface ResourceRow {
  at: Date;
  cpu: number;
  memoryMb: number;
  memoryTotalMb?: number | null;
  connections: number;
  poolMax?: number | null;
  source?: string;
}

export async function insertResources(pool: Pool, tenantId: string, rows: ResourceRow[]): Promise<void> {
  if (rows.length === 0) return;
  await pool.query(
    `INSERT INTO system_resource_metrics ("timestamp", tenant_id, cpu_usage_percent, memory_used_mb, memory_total_mb, active_connections, pool_max, source)
     SELECT t, $1::uuid, cpu, memory, total, connections, pool_max, source
       FROM unnest($2::timestamptz[], $3::real[], $4::real[], $5::real[], $6::integer[], $7::integer[], $8::text[])
            AS s(t, cpu, memory, total, connections, pool_max, source)`,
    [
      tenantId,
      rows.map((r) => r.at),
      rows.map((r) => r.cpu),
      rows.map((r) => r.memoryMb),
      rows.map((r) => r.memoryTotalMb ?? null),
      rows.map((r) => r.connections),
      rows.map((r) => r.poolMax ?? null),
      rows.map((r) => r.source ?? 'app'),
    ],
  );
}

/** n timestamps from `start`, `stepMs` apart. */
export function times(start: Date, n: number, stepMs: number): Date[] {
  return Array.from({ length: n }, (_, i) => new Date(start.getTime() + i * stepMs));
}

/**
 * Three days from `start` of requests on two endpoints ('/a', '/b') and queries of two
 * fingerprints ('71', '72'), every 7 minutes from 3 minutes in, with latencies that vary,
 * written to the raw logs (roll them up with the refresh, so every resolution is built
 * from the same rows).
 */
export async function insertThreeDays(pool: Pool, tenantId: string, start: number): Promise<void> {
  const moments = times(new Date(start + 3 * MINUTE), Math.floor((3 * 24 * HOUR) / (7 * MINUTE)), 7 * MINUTE);
  await insertRequests(pool, tenantId, moments.map((m, i) => ({ at: m, endpoint: i % 3 === 0 ? '/a' : '/b', ms: 1 + ((i * 37) % 400) })));
  await insertQueries(pool, tenantId, moments.map((m, i) => ({ at: m, hash: i % 4 === 0 ? '71' : '72', preview: 'SELECT 1', ms: 0.5 + ((i * 13) % 90) })));
}

export const HOUR = 3_600_000;
export const MINUTE = 60_000;

/** The start of the hour `hoursAgo` hours before the current one (UTC). */
export function hourStart(hoursAgo: number, now = Date.now()): Date {
  return new Date(Math.floor(now / HOUR) * HOUR - hoursAgo * HOUR);
}

export interface Frame {
  schema: { name?: string; refId?: string; meta?: { custom?: Record<string, unknown>; notices?: Array<{ text: string }> }; fields: Array<{ name: string; type: string; config: Record<string, unknown>; labels?: Record<string, string> }> };
  data: { values: unknown[][] };
}

/** POST /v1/query with one query; the frames of refId A, or the error answer. */
export async function queryOne(
  url: string,
  token: string,
  query: Record<string, unknown>,
  { from, to, intervalMs, maxDataPoints, tenantId }: { from: number; to: number; intervalMs?: number; maxDataPoints?: number; tenantId?: string },
): Promise<{ status: number; frames: Frame[]; body: any }> {
  const response = await post(`${url}/v1/query`, token, {
    range: { from, to },
    ...(intervalMs ? { intervalMs } : {}),
    ...(maxDataPoints ? { maxDataPoints } : {}),
    ...(tenantId ? { tenantId } : {}),
    queries: [{ refId: 'A', ...query }],
  });
  return { status: response.status, frames: response.body?.results?.A?.frames ?? [], body: response.body };
}

/** The values of a field of a frame, by name. */
export function column(frame: Frame | undefined, name: string): unknown[] {
  if (!frame) throw new Error(`no frame to read ${name} from`);
  const index = frame.schema.fields.findIndex((f) => f.name === name);
  if (index < 0) throw new Error(`frame ${frame.schema.name} has no field ${name} (fields: ${frame.schema.fields.map((f) => f.name).join(', ')})`);
  return frame.data.values[index]!;
}
