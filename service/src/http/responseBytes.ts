// A query answer written as UTF-8 bytes a frame at a time, the same bytes as
// JSON.stringify(answer).
//
// Why not one JSON.stringify: an answer with many series (latencyPercentiles by endpoint
// over a day) becomes one string above V8's largest ordinary object (128 KB), which V8
// allocates in its large-object space, and measuring that string (Buffer.byteLength) and
// writing it cost each such request noticeably more (bench/reports/query.md, case
// "latencyPercentiles by endpoint, 24 h"). Frames are small: each one's string stays
// ordinary, and the bytes go to the socket as one Buffer, with nothing left to encode.
import type { QueryResponse } from '../contract/query';

export function queryResponseBytes(response: QueryResponse): Buffer {
  const pieces: string[] = ['{"results":{'];
  let firstResult = true;
  for (const [refId, result] of Object.entries(response.results)) {
    if (result === undefined) continue;
    pieces.push(`${firstResult ? '' : ','}${JSON.stringify(refId)}:{`);
    firstResult = false;
    let firstKey = true;
    for (const [key, value] of Object.entries(result)) {
      if (key === 'frames' && Array.isArray(value)) {
        pieces.push(`${firstKey ? '' : ','}"frames":[`);
        value.forEach((frame, i) => pieces.push((i === 0 ? '' : ',') + (JSON.stringify(frame) ?? 'null')));
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
