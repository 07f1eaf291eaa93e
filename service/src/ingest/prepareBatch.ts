// One ingest body → COPY text, or an ApiError saying what is wrong with it. Pure and
// self-contained, so it runs the same inline or in a worker thread (ingestWorkers.ts).
import { ApiError } from '../http/errors';
import { decodeBody, parseRecords } from './parseBody';
import { BatchTexts, encodeRecord, type FieldError, type RecordKind } from './records';

/** Accepted timestamps: up to this far in the past ... */
export const MAX_PAST_MS = 400 * 86_400_000;
/** ... and this far in the future (clock skew). */
export const MAX_FUTURE_MS = 86_400_000;
const MAX_ERRORS_LISTED = 100;

export interface PrepareInput {
  kind: RecordKind;
  body: Uint8Array;
  contentType: string | undefined;
  contentEncoding: string | undefined;
  bodyLimitBytes: number;
  tenantId: string;
  nowMs: number;
  slowQueryThresholdMs: number;
  samplingRate: number;
}

export interface PreparedBatch {
  /** COPY text of the kept records, one line each. */
  copy: string;
  kept: number;
  sampledOut: number;
  received: number;
}

export function prepareBatch(input: PrepareInput, random: () => number = Math.random): PreparedBatch {
  const body = Buffer.isBuffer(input.body) ? input.body : Buffer.from(input.body.buffer, input.body.byteOffset, input.body.byteLength);
  const text = decodeBody(body, input.contentEncoding, input.bodyLimitBytes);
  const records = parseRecords(text, input.contentType);
  const errors: FieldError[] = [];
  const ctx = {
    tenantId: input.tenantId,
    limits: { minTimeMs: input.nowMs - MAX_PAST_MS, maxTimeMs: input.nowMs + MAX_FUTURE_MS },
    slowQueryThresholdMs: input.slowQueryThresholdMs,
  };
  const rate = input.samplingRate;
  const lines: string[] = [];
  const texts = new BatchTexts();
  let sampledOut = 0;
  for (let i = 0; i < records.length; i++) {
    const encoded = encodeRecord(input.kind, records[i], i, ctx, errors);
    if (!encoded || errors.length) continue;
    if (rate < 1 && !encoded.alwaysKeep && random() >= rate) {
      sampledOut++;
      continue;
    }
    lines.push(texts.line(encoded));
  }
  if (errors.length) {
    const invalidRecords = new Set(errors.map((e) => e.index)).size;
    throw new ApiError(400, 'invalid_records',
      `${invalidRecords} of ${records.length} records are invalid; nothing was stored (first: record ${errors[0]!.index}, ${errors[0]!.field} ${errors[0]!.reason})`,
      { errors: errors.slice(0, MAX_ERRORS_LISTED), errorCount: errors.length, received: records.length });
  }
  return { copy: lines.join(''), kept: lines.length, sampledOut, received: records.length };
}
