// Ingest bodies: a JSON array of records, or NDJSON (one record per line); optionally
// gzip-compressed (Content-Encoding: gzip). Decompression is capped, so a gzip bomb gets
// 413 instead of exhausting memory. Invalid UTF-8 is replaced (U+FFFD) when decoding.
import { gunzipSync } from 'node:zlib';
import { ApiError } from '../http/errors';

export const MAX_RECORDS_PER_BATCH = 100_000;

export function decodeBody(body: Buffer, contentEncoding: string | undefined, limitBytes: number): string {
  const encoding = (contentEncoding ?? 'identity').trim().toLowerCase();
  let bytes = body;
  if (encoding === 'gzip' || encoding === 'x-gzip') {
    try {
      bytes = gunzipSync(body, { maxOutputLength: limitBytes });
    } catch (err) {
      if ((err as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE' || /Cannot create a Buffer larger|buffer.*too large/i.test((err as Error).message)) {
        throw new ApiError(413, 'payload_too_large', `the decompressed body exceeds ${limitBytes} bytes`, { field: '(body)' });
      }
      throw new ApiError(400, 'invalid_gzip', `the body is not valid gzip: ${(err as Error).message}`, { field: '(body)' });
    }
  } else if (encoding !== 'identity') {
    throw new ApiError(415, 'unsupported_encoding', `Content-Encoding "${encoding}" is not supported; use gzip or none`, { field: 'Content-Encoding' });
  }
  return bytes.toString('utf8');
}

/**
 * The query API reads one JSON object, uncompressed (Grafana's data proxy sends no
 * Content-Encoding); anything else is refused before the body is parsed.
 */
export function requireJsonRequest(contentType: string | undefined, contentEncoding: string | undefined): void {
  const encoding = (contentEncoding ?? 'identity').trim().toLowerCase();
  if (encoding !== 'identity') {
    throw new ApiError(415, 'unsupported_encoding', `Content-Encoding "${encoding}" is not supported here; send the JSON uncompressed`, { field: 'Content-Encoding' });
  }
  const type = (contentType ?? '').split(';')[0]!.trim().toLowerCase();
  if (type !== 'application/json') {
    throw new ApiError(415, 'unsupported_media_type', `Content-Type must be application/json, got "${type || '(none)'}"`, { field: 'Content-Type' });
  }
}

export function parseRecords(text: string, contentType: string | undefined): unknown[] {
  const type = (contentType ?? '').split(';')[0]!.trim().toLowerCase();
  const isNdjson = type === 'application/x-ndjson' || type === 'application/ndjson' || type === 'application/jsonl';
  if (!isNdjson && type !== 'application/json') {
    throw new ApiError(415, 'unsupported_media_type',
      `Content-Type must be application/json (an array of records) or application/x-ndjson (one record per line), got "${type || '(none)'}"`,
      { field: 'Content-Type' });
  }
  let records: unknown[];
  if (isNdjson) {
    records = [];
    const lines = text.split('\n');
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i]!.trim();
      if (!line) continue;
      try {
        records.push(JSON.parse(line));
      } catch (err) {
        throw new ApiError(400, 'invalid_json', `line ${i + 1} of the body is not valid JSON: ${(err as Error).message}`, { line: i + 1, field: '(body)' });
      }
      if (records.length > MAX_RECORDS_PER_BATCH) break;
    }
  } else {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (err) {
      throw new ApiError(400, 'invalid_json', `the body is not valid JSON: ${(err as Error).message}`, { field: '(body)' });
    }
    if (!Array.isArray(parsed)) throw new ApiError(400, 'invalid_body', 'the body must be a JSON array of records', { field: '(body)' });
    records = parsed;
  }
  if (records.length === 0) throw new ApiError(400, 'empty_batch', 'the body holds no records', { field: '(body)' });
  if (records.length > MAX_RECORDS_PER_BATCH) {
    throw new ApiError(413, 'too_many_records', `the body holds more than ${MAX_RECORDS_PER_BATCH} records, the most one batch may hold`, { field: '(body)' });
  }
  return records;
}
