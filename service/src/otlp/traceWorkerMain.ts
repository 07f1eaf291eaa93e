// Worker thread body: decodes and maps trace export requests off the main thread.
import { parentPort } from 'node:worker_threads';
import { ApiError } from '../http/errors';
import { loadParser } from '../ingest/fingerprint';
import { prepareTraces, type TraceInput } from './prepare';

const ready = loadParser();

parentPort!.on('message', async (message: { id: number; input: TraceInput }) => {
  await ready;
  try {
    parentPort!.postMessage({ id: message.id, ok: true, mapped: prepareTraces(message.input) });
  } catch (err) {
    const e = err instanceof ApiError ? err : new ApiError(500, 'internal_error', `preparing the spans failed: ${(err as Error).message}`);
    parentPort!.postMessage({ id: message.id, ok: false, error: { status: e.status, code: e.code, message: e.message, details: e.details } });
  }
});
