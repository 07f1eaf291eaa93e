// One trace export request → mapped spans, or an ApiError saying what is wrong with it.
// Pure and self-contained, so it runs the same inline or in a worker thread
// (traceWorkers.ts); linkAcrossRequests (traces.ts) finishes it on the main thread.
import { MAX_FUTURE_MS, MAX_PAST_MS } from '../ingest/prepareBatch';
import { decodeTraces, type OtlpEncoding } from './decode';
import { mapSpans, TRACE_ATTRIBUTES, type MappedSpans } from './traces';

export interface TraceInput {
  body: Uint8Array;
  encoding: OtlpEncoding;
  contentEncoding: string | undefined;
  bodyLimitBytes: number;
  tenantId: string;
  nowMs: number;
  slowQueryThresholdMs: number;
  samplingRate: number;
}

export function prepareTraces(input: TraceInput): MappedSpans {
  const body = Buffer.isBuffer(input.body) ? input.body : Buffer.from(input.body.buffer, input.body.byteOffset, input.body.byteLength);
  const spans = decodeTraces(body, input.encoding, input.contentEncoding, input.bodyLimitBytes, TRACE_ATTRIBUTES);
  return mapSpans(spans, {
    tenantId: input.tenantId,
    limits: { minTimeMs: input.nowMs - MAX_PAST_MS, maxTimeMs: input.nowMs + MAX_FUTURE_MS },
    slowQueryThresholdMs: input.slowQueryThresholdMs,
    samplingRate: input.samplingRate,
  });
}
