// A query answer written as UTF-8 bytes a frame at a time, the same bytes as
// JSON.stringify(answer).
//
// Why not one JSON.stringify: an answer with many series (latencyPercentiles by endpoint
// over a day) becomes one string above V8's largest ordinary object (128 KB), which V8
// allocates in its large-object space, and measuring that string (Buffer.byteLength) and
// writing it cost each such request noticeably more (bench/reports/query.md, case
// "latencyPercentiles by endpoint, 24 h"). Frames are small: each one's string stays
// ordinary, and the bytes go to the socket as one Buffer, with nothing left to encode.
//
// A column that several frames share (the series per endpoint all hold the same array
// of step times) is written once and its text reused: 20 frames of 720 steps wrote the
// same timestamps 20 times, a large part of such an answer's cost
// (bench/reports/grafana-panels.md, "p95 latency per endpoint", 30 d).
import type { QueryResponse } from '../contract/query';

export function queryResponseBytes(response: QueryResponse): Buffer {
  const pieces: string[] = ['{"results":{'];
  const columns = new Map<unknown, string>();
  let firstResult = true;
  for (const [refId, result] of Object.entries(response.results)) {
    if (result === undefined) continue;
    pieces.push(`${firstResult ? '' : ','}${JSON.stringify(refId)}:{`);
    firstResult = false;
    let firstKey = true;
    for (const [key, value] of Object.entries(result)) {
      if (key === 'frames' && Array.isArray(value)) {
        pieces.push(`${firstKey ? '' : ','}"frames":[`);
        value.forEach((frame, i) => pieces.push((i === 0 ? '' : ',') + frameText(frame, columns)));
        pieces.push(']');
        firstKey = false;
        continue;
      }
      const text = JSON.stringify(value);
      // As JSON.stringify does: a key whose value has no JSON form (undefined) is left out.
      if (text === undefined) continue;
      pieces.push(`${firstKey ? '' : ','}${JSON.stringify(key)}:${text}`);
      firstKey = false;
    }
    pieces.push('}');
  }
  pieces.push('}}');
  let size = 0;
  for (const piece of pieces) size += Buffer.byteLength(piece);
  const bytes = Buffer.allocUnsafe(size);
  let offset = 0;
  for (const piece of pieces) offset += bytes.write(piece, offset);
  return bytes;
}

/**
 * JSON.stringify(frame), with the text of each column array kept in `columns` and reused
 * when another frame holds the same array. Only for a frame as src/query/frames.ts builds
 * it (keys schema and data, data's only key values, an array); any other shape is
 * stringified whole.
 */
function frameText(frame: unknown, columns: Map<unknown, string>): string {
  if (frame === null || typeof frame !== 'object') return JSON.stringify(frame) ?? 'null';
  const keys = Object.keys(frame);
  const { schema, data } = frame as { schema?: unknown; data?: { values?: unknown } };
  if (keys.length !== 2 || keys[0] !== 'schema' || keys[1] !== 'data' || schema === undefined || data === null || typeof data !== 'object'
    || Object.keys(data).length !== 1 || !Array.isArray(data.values) || typeof (frame as { toJSON?: unknown }).toJSON === 'function'
    || typeof (data as { toJSON?: unknown }).toJSON === 'function') {
    return JSON.stringify(frame) ?? 'null';
  }
  const texts: string[] = [];
  for (const column of data.values as unknown[]) {
    let text = columns.get(column);
    if (text === undefined) {
      text = JSON.stringify(column) ?? 'null';
      if (Array.isArray(column)) columns.set(column, text);
    }
    texts.push(text);
  }
  return `{"schema":${JSON.stringify(schema)},"data":{"values":[${texts.join(',')}]}}`;
}
