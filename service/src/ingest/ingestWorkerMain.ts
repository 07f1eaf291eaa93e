// Worker thread body: prepares ingest batches (decode, parse, validate, fingerprint,
// encode) off the main thread, and hands back the COPY bytes.
import { parentPort } from 'node:worker_threads';
import { ApiError } from '../http/errors';
import { loadParser } from './fingerprint';
import { prepareBatch, type PrepareInput } from './prepareBatch';

const ready = loadParser();

parentPort!.on('message', async (message: { id: number; input: PrepareInput }) => {
  await ready;
  try {
    const prepared = prepareBatch(message.input);
    const bytes = Buffer.from(prepared.copy, 'utf8');
    const copy = new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    parentPort!.postMessage(
      { id: message.id, ok: true, copy, kept: prepared.kept, sampledOut: prepared.sampledOut, received: prepared.received },
      bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength ? [bytes.buffer as ArrayBuffer] : [],
    );
  } catch (err) {
    const e = err instanceof ApiError ? err : new ApiError(500, 'internal_error', `preparing the batch failed: ${(err as Error).message}`);
    parentPort!.postMessage({ id: message.id, ok: false, error: { status: e.status, code: e.code, message: e.message, details: e.details } });
  }
});
