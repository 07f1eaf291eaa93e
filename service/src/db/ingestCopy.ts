// COPY of encoded ingest records into the raw logs, with their rollup deltas
// (src/ingest/rollupDeltas.ts). The column lists must match the encoders in
// src/ingest/records.ts.
import type { PoolClient } from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import type { RecordKind } from '../ingest/records';
import { type DeltaSettings, RollupDeltas } from '../ingest/rollupDeltas';

export const COPY_STATEMENTS: Record<RecordKind, string> = {
  api: `COPY api_performance_log ("timestamp", tenant_id, response_time_ms, request_size_bytes, response_size_bytes, status_code, method, endpoint, request_id, user_id) FROM STDIN`,
  query: `COPY query_performance_log ("timestamp", query_hash, tenant_id, execution_time_ms, rows_returned, endpoint, request_id, query_preview) FROM STDIN`,
  resource: `COPY system_resource_metrics ("timestamp", tenant_id, cpu_usage_percent, memory_used_mb, memory_total_mb, active_connections, pool_max, source) FROM STDIN`,
};

const CHUNK_CHARS = 1 << 20;

/**
 * Streams COPY text into one COPY on the client's open transaction. Each element holds
 * whole lines, each ending in \n: small strings are gathered into chunks of about 1 MB,
 * byte arrays (prepared by the ingest workers) are sent as they are.
 */
export async function copyLines(client: PoolClient, kind: RecordKind, lines: Array<string | Uint8Array>): Promise<void> {
  if (lines.length === 0) return;
  const stream = client.query(copyFrom(COPY_STATEMENTS[kind]));
  function* chunks(): Generator<string | Uint8Array> {
    let buffer = '';
    for (const piece of lines) {
      if (typeof piece !== 'string') {
        if (buffer) yield buffer;
        buffer = '';
        if (piece.byteLength) yield Buffer.from(piece.buffer, piece.byteOffset, piece.byteLength);
        continue;
      }
      buffer += piece;
      if (buffer.length >= CHUNK_CHARS) {
        yield buffer;
        buffer = '';
      }
    }
    if (buffer) yield buffer;
  }
  await pipeline(Readable.from(chunks()), stream);
}

/** COPY text per table: each element holds one or more whole lines (text or UTF-8 bytes). */
export type Lines = Record<RecordKind, Array<string | Uint8Array>>;

/**
 * Writes lines into the raw logs and their rollup deltas into the pending tables, on the
 * client's open transaction: the only way rows enter the logs, so the rollups see every
 * row the logs hold.
 */
export async function writeRecords(client: PoolClient, lines: Lines, settings: DeltaSettings): Promise<void> {
  const deltas = new RollupDeltas(settings);
  for (const kind of ['api', 'query', 'resource'] as const) {
    await copyLines(client, kind, lines[kind]);
    deltas.addLines(kind, lines[kind]);
  }
  await deltas.write(client);
}
