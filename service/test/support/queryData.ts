// Constructed measurements for the query API and optimizer tests, written into the raw
// logs with their rollup deltas as ingest writes them (writeLines), then merged by
// refreshRollups. Exact timestamps and values make the expected answers exact.
import { type Lines, writeRecords } from '../../src/db/ingestCopy';
import type { PoolClient } from 'pg';
import type { Pool } from '../../src/db/pool';
import { copyText } from '../../src/ingest/records';
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

const N = '\\N';
const text = (value: string | null | undefined) => (value === null || value === undefined ? N : copyText(value));
const number = (value: number | null | undefined) => (value === null || value === undefined ? N : String(value));

/**
 * Writes lines of the raw logs as ingest does (src/db/ingestCopy.ts writeRecords: COPY
 * and the rollup deltas, in one transaction), classified by the database's
 * performance_settings.
 */
export async function writeLines(target: Pool | PoolClient, lines: Partial<Lines>): Promise<void> {
  // A client is written on as it is (in the caller's transaction); a pool in one of its own.
  const own = !('release' in target);
  const client = own ? await (target as Pool).connect() : (target as PoolClient);
  try {
    const settings = (await client.query<{ apdex_target_ms: number; slow_query_threshold_ms: number }>(
      'SELECT apdex_target_ms, slow_query_threshold_ms FROM performance_settings')).rows[0]!;
    if (own) await client.query('BEGIN');
    await writeRecords(client, { api: [], query: [], resource: [], ...lines }, {
      apdexTargetMs: settings.apdex_target_ms, slowQueryThresholdMs: settings.slow_query_threshold_ms,
    });
    if (own) await client.query('COMMIT');
  } catch (err) {
    if (own) await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    if (own) client.release();
  }
}

const COPY_COLUMNS: Record<keyof Lines, string[]> = {
  api: ['timestamp', 'tenant_id', 'response_time_ms', 'request_size_bytes', 'response_size_bytes', 'status_code', 'method', 'endpoint', 'request_id', 'user_id'],
  query: ['timestamp', 'query_hash', 'tenant_id', 'execution_time_ms', 'rows_returned', 'endpoint', 'request_id', 'query_preview'],
  resource: ['timestamp', 'tenant_id', 'cpu_usage_percent', 'memory_used_mb', 'memory_total_mb', 'active_connections', 'pool_max', 'source'],
};
const KIND_OF_TABLE: Record<string, keyof Lines> = { api_performance_log: 'api', query_performance_log: 'query', system_resource_metrics: 'resource' };

/**
 * The rows of an `INSERT INTO <raw log> (columns) SELECT ... | VALUES ...` statement,
 * written as ingest writes them (writeLines) rather than by the INSERT, which would leave
 * them out of the rollups. Columns the statement does not name are NULL, except source
 * ('app', its default).
 */
export async function insertRows(target: Pool | PoolClient, statement: string, params: unknown[] = []): Promise<number> {
  const match = /^\s*INSERT INTO (\w+) \(([^)]*)\)\s*((?:SELECT|VALUES)[\s\S]*)$/i.exec(statement);
  const kind = match ? KIND_OF_TABLE[match[1]!] : undefined;
  if (!match || !kind) throw new Error(`insertRows: not an INSERT ... SELECT/VALUES into a raw log: ${statement.slice(0, 80)}`);
  const named = match[2]!.split(',').map((c) => c.trim().replace(/"/g, ''));
  const { rows } = await target.query<unknown[]>({ text: match[3]!, values: params, rowMode: 'array' });
  const at = COPY_COLUMNS[kind].map((column) => named.indexOf(column));
  const format = (value: unknown, column: string): string => {
    if (value === null || value === undefined) return column === 'source' ? 'app' : N;
    if (value instanceof Date) return value.toISOString();
    return typeof value === 'string' ? copyText(value) : String(value);
  };
  const lines = rows.map((row) => COPY_COLUMNS[kind].map((column, i) => format(at[i]! < 0 ? null : row[at[i]!], column)).join('\t') + '\n');
  await writeLines(target, { [kind]: [lines.join('')] });
  return rows.length;
}

export async function insertRequests(pool: Pool, tenantId: string, rows: RequestRow[]): Promise<void> {
  if (rows.length === 0) return;
  await writeLines(pool, {
    api: [rows.map((r) => `${r.at.toISOString()}\t${tenantId}\t${r.ms}\t${N}\t${N}\t${r.status ?? 200}\t${text(r.method ?? 'GET')}\t${text(r.endpoint)}\t${text(r.requestId)}\t${text(r.userId)}\n`).join('')],
  });
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
  await writeLines(pool, {
    query: [rows.map((r) => `${r.at.toISOString()}\t${r.hash}\t${tenantId}\t${r.ms}\t${r.rows ?? 1}\t${text(r.endpoint)}\t${text(r.requestId)}\t${text(r.preview)}\n`).join('')],
  });
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
  await writeLines(pool, {
    resource: [rows.map((r) => `${r.at.toISOString()}\t${tenantId}\t${r.cpu}\t${r.memoryMb}\t${number(r.memoryTotalMb)}\t${r.connections}\t${number(r.poolMax)}\t${text(r.source ?? 'app')}\n`).join('')],
  });
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
