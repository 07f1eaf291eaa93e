// OTLP/HTTP bodies → the few fields the mapping reads. Protobuf bodies are decoded by
// protobufjs with the vendored definitions (schema.ts); JSON bodies are parsed with
// JSON.parse and follow the OTLP/JSON rules (trace ids in hex, 64-bit integers as decimal
// strings or numbers, enums as integers). Both give objects with the same field names,
// so one walker reads both and checks the JSON's types on the way, naming the field of
// the first wrong one. Attributes the mapping does not read are skipped here: they are
// never copied out of the request.
//
// Protobuf traces, the bulk of the traffic, take a faster road: readTraceRequest walks
// the message with protobufjs's own Reader (varints, fixed64, length prefixes, skipping,
// bounds checks), with the field numbers taken from the loaded .proto definitions, and
// materializes only the fields the mapping reads. A full decode builds two objects per
// attribute of every span, most of which the mapping then drops; the benchmark's report
// (service/bench/reports/otlp.md) gives the rate this reaches. Both roads give the same
// spans; test/otlp.decode.test.ts checks them against each other.
import { gunzipSync } from 'node:zlib';
import protobuf from 'protobufjs';
import { ApiError } from '../http/errors';
import { otlpTypes, traceFieldNumbers, type TraceFieldNumbers } from './schema';

export type OtlpEncoding = 'protobuf' | 'json';
export type AttributeValue = string | number | boolean;

/** Most attributes one span, resource or data point may carry (the SDKs' default limit is 128). */
export const MAX_ATTRIBUTES = 1024;
/** Most spans, or data points, one request may carry. */
export const MAX_ITEMS_PER_REQUEST = 100_000;

export interface OtlpSpan {
  /** Where the span is in the request, for error messages: resourceSpans[r].scopeSpans[s].spans[i]. */
  path: string;
  /** 32 hexadecimal digits, or '' when the span has none. */
  traceId: string;
  /** SpanKind: 2 server, 3 client. */
  kind: number;
  name: string;
  /** Epoch milliseconds (fractional; a double holds nanoseconds since 1970 only to 256 ns). */
  startMs: number;
  endMs: number;
  /** End − start, computed exactly from the nanoseconds; negative when the span ends before it starts. */
  durationMs: number;
  /** The span's attributes the mapping reads, over its resource's. */
  attributes: Map<string, AttributeValue>;
}

export interface OtlpPoint {
  timeMs: number;
  value: number;
  attributes: Map<string, AttributeValue>;
}

export interface OtlpResourceMetrics {
  path: string;
  attributes: Map<string, AttributeValue>;
  /** Data points by metric name, for the metric names the mapping reads. */
  metrics: Map<string, OtlpPoint[]>;
  /** Data points of metrics the mapping does not read. */
  otherPoints: number;
}

export function mediaType(contentType: string | undefined): OtlpEncoding {
  const type = (contentType ?? '').split(';')[0]!.trim().toLowerCase();
  if (type === 'application/x-protobuf' || type === 'application/protobuf') return 'protobuf';
  if (type === 'application/json') return 'json';
  throw new ApiError(415, 'unsupported_media_type',
    `Content-Type must be application/x-protobuf or application/json, got "${type || '(none)'}"`, { field: 'Content-Type' });
}

function inflate(body: Buffer, contentEncoding: string | undefined, limitBytes: number): Buffer {
  const encoding = (contentEncoding ?? 'identity').trim().toLowerCase();
  if (encoding === 'identity') return body;
  if (encoding !== 'gzip' && encoding !== 'x-gzip') {
    throw new ApiError(415, 'unsupported_encoding', `Content-Encoding "${encoding}" is not supported; use gzip or none`, { field: 'Content-Encoding' });
  }
  try {
    return gunzipSync(body, { maxOutputLength: limitBytes });
  } catch (err) {
    if ((err as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE') {
      throw new ApiError(413, 'payload_too_large', `the decompressed body exceeds ${limitBytes} bytes`, { field: '(body)' });
    }
    throw new ApiError(400, 'invalid_gzip', `the body is not valid gzip: ${(err as Error).message}`, { field: '(body)' });
  }
}

function invalid(field: string, reason: string): ApiError {
  return new ApiError(400, 'invalid_otlp', `${field} ${reason}; nothing was stored`, { field, reason });
}

function parseMessage(signal: 'traces' | 'metrics', body: Buffer, encoding: OtlpEncoding, contentEncoding: string | undefined, limitBytes: number): Record<string, unknown> {
  const bytes = inflate(body, contentEncoding, limitBytes);
  if (encoding === 'json') {
    let parsed: unknown;
    try {
      parsed = JSON.parse(bytes.toString('utf8'));
    } catch (err) {
      throw new ApiError(400, 'invalid_json', `the body is not valid JSON: ${(err as Error).message}; nothing was stored`, { field: '(body)' });
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
      throw invalid('(body)', `must be a JSON object (an Export${signal === 'traces' ? 'Trace' : 'Metrics'}ServiceRequest)`);
    }
    return parsed as Record<string, unknown>;
  }
  const type = signal === 'traces' ? otlpTypes().traceRequest : otlpTypes().metricsRequest;
  try {
    return type.decode(bytes) as unknown as Record<string, unknown>;
  } catch (err) {
    throw new ApiError(400, 'invalid_protobuf',
      `the body is not a valid ${type.name} protobuf message: ${(err as Error).message}; nothing was stored`, { field: '(body)' });
  }
}

/** A repeated field: absent is empty; in JSON anything but an array is an error. */
function list(message: Record<string, unknown>, key: string, path: string): Array<Record<string, unknown>> {
  const value = message[key];
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) throw invalid(`${path}.${key}`, 'must be an array');
  return value as Array<Record<string, unknown>>;
}

function object(value: unknown, path: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw invalid(path, 'must be an object');
  return value as Record<string, unknown>;
}

/** A 64-bit integer: protobufjs gives a Long, OTLP/JSON a decimal string or a number. */
function int64(value: unknown, path: string): number {
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw invalid(path, 'must be a finite number');
    return value;
  }
  if (typeof value === 'string') {
    if (!/^-?\d{1,20}$/.test(value)) throw invalid(path, `must be a decimal integer, got "${value.slice(0, 40)}"`);
    return Number(value);
  }
  if (typeof value === 'object' && value !== null && 'low' in value && 'high' in value) {
    const long = value as { low: number; high: number; unsigned?: boolean };
    const high = long.unsigned ? long.high >>> 0 : long.high;
    return high * 4294967296 + (long.low >>> 0);
  }
  if (value === undefined || value === null) return 0;
  throw invalid(path, 'must be a decimal string or number');
}

function nanosToMs(value: unknown, path: string): number {
  const nanos = int64(value, path);
  if (nanos < 0) throw invalid(path, 'must not be negative');
  return nanos / 1e6;
}

/** A 64-bit integer already checked by int64(), exactly. */
function exactNanos(value: unknown): bigint {
  if (typeof value === 'string') return BigInt(value);
  if (typeof value === 'number') return BigInt(Math.round(value));
  if (typeof value === 'object' && value !== null && 'low' in value && 'high' in value) {
    const long = value as { low: number; high: number };
    return BigInt.asUintN(64, (BigInt(long.high >>> 0) << 32n) | BigInt(long.low >>> 0));
  }
  return 0n;
}

function traceIdOf(value: unknown, path: string): string {
  if (value === undefined || value === null) return '';
  // protobufjs leaves an unset bytes field as an empty array on the prototype.
  if (Array.isArray(value) && value.length === 0) return '';
  if (ArrayBuffer.isView(value)) {
    if (value.byteLength === 0) return '';
    if (value.byteLength !== 16) throw invalid(path, `must be 16 bytes, got ${value.byteLength}`);
    return Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('hex');
  }
  if (typeof value === 'string') {
    if (value === '') return '';
    if (!/^[0-9a-fA-F]{32}$/.test(value)) throw invalid(path, 'must be 32 hexadecimal digits');
    return value.toLowerCase();
  }
  throw invalid(path, 'must be a string of 32 hexadecimal digits');
}

const SPAN_KINDS: Record<string, number> = {
  SPAN_KIND_UNSPECIFIED: 0, SPAN_KIND_INTERNAL: 1, SPAN_KIND_SERVER: 2, SPAN_KIND_CLIENT: 3, SPAN_KIND_PRODUCER: 4, SPAN_KIND_CONSUMER: 5,
};

function kindOf(value: unknown, path: string): number {
  if (value === undefined || value === null) return 0;
  if (typeof value === 'number' && Number.isInteger(value)) return value;
  if (typeof value === 'string' && value in SPAN_KINDS) return SPAN_KINDS[value]!;
  throw invalid(path, 'must be a SpanKind integer (2 for a server span, 3 for a client span)');
}

function stringOf(value: unknown, path: string): string {
  if (value === undefined || value === null) return '';
  if (typeof value !== 'string') throw invalid(path, 'must be a string');
  return value;
}

/**
 * Whether a message sets a field. protobufjs keeps unset fields' defaults on the
 * prototype (a string field reads '' even when another member of its oneof is set), so
 * only own properties count; a parsed JSON object has only own properties.
 */
function has(message: Record<string, unknown>, key: string): boolean {
  return Object.prototype.hasOwnProperty.call(message, key) && message[key] !== null && message[key] !== undefined;
}

/** The value of an AnyValue the mapping reads; arrays, maps and bytes are not read. */
function anyValue(value: unknown, path: string): AttributeValue | undefined {
  if (value === undefined || value === null) return undefined;
  const v = object(value, path);
  if (has(v, 'stringValue')) return stringOf(v.stringValue, `${path}.stringValue`);
  if (has(v, 'intValue')) return int64(v.intValue, `${path}.intValue`);
  if (has(v, 'doubleValue')) return double(v.doubleValue, `${path}.doubleValue`);
  if (has(v, 'boolValue')) {
    if (typeof v.boolValue !== 'boolean') throw invalid(`${path}.boolValue`, 'must be true or false');
    return v.boolValue;
  }
  return undefined;
}

function double(value: unknown, path: string): number {
  if (typeof value === 'number') return value;
  // OTLP/JSON writes NaN and the infinities as strings.
  if (typeof value === 'string' && /^(NaN|-?Infinity|-?\d+(\.\d+)?([eE][-+]?\d+)?)$/.test(value)) return Number(value);
  throw invalid(path, 'must be a number');
}

/** Reads the wanted keys of a KeyValue list into `into`; checks the count and, in JSON, the types. */
function readAttributes(message: Record<string, unknown>, path: string, wanted: ReadonlySet<string>, into: Map<string, AttributeValue>): void {
  const attributes = list(message, 'attributes', path);
  if (attributes.length > MAX_ATTRIBUTES) {
    throw invalid(`${path}.attributes`, `holds ${attributes.length} attributes, more than the ${MAX_ATTRIBUTES} accepted`);
  }
  for (let a = 0; a < attributes.length; a++) {
    const kv = attributes[a]!;
    if (typeof kv !== 'object' || kv === null) throw invalid(`${path}.attributes[${a}]`, 'must be an object');
    const key = kv.key;
    if (typeof key !== 'string') throw invalid(`${path}.attributes[${a}].key`, 'must be a string');
    if (!wanted.has(key)) continue;
    const value = anyValue(kv.value, `${path}.attributes[${a}].value`);
    if (value !== undefined) into.set(key, value);
  }
}

export function decodeTraces(
  body: Buffer, encoding: OtlpEncoding, contentEncoding: string | undefined, limitBytes: number, wanted: ReadonlySet<string>,
): OtlpSpan[] {
  if (encoding === 'protobuf') {
    const bytes = inflate(body, contentEncoding, limitBytes);
    try {
      return readTraceRequest(bytes, wanted);
    } catch (err) {
      if (err instanceof ApiError) throw err;
      throw new ApiError(400, 'invalid_protobuf',
        `the body is not a valid ExportTraceServiceRequest protobuf message: ${(err as Error).message}; nothing was stored`, { field: '(body)' });
    }
  }
  return tracesFromMessage(parseMessage('traces', body, encoding, contentEncoding, limitBytes), wanted);
}

function tooManySpans(): ApiError {
  return new ApiError(413, 'too_many_spans', `the request holds more than ${MAX_ITEMS_PER_REQUEST} spans, the most one request may hold; nothing was stored`, { field: '(body)' });
}

/** The spans of an ExportTraceServiceRequest given as an object: parsed JSON, or a protobufjs message. */
export function tracesFromMessage(request: Record<string, unknown>, wanted: ReadonlySet<string>): OtlpSpan[] {
  const spans: OtlpSpan[] = [];
  const resourceSpans = list(request, 'resourceSpans', '(body)');
  for (let r = 0; r < resourceSpans.length; r++) {
    const rPath = `resourceSpans[${r}]`;
    const rs = object(resourceSpans[r], rPath);
    const resourceAttributes = new Map<string, AttributeValue>();
    if (rs.resource !== undefined && rs.resource !== null) readAttributes(object(rs.resource, `${rPath}.resource`), `${rPath}.resource`, wanted, resourceAttributes);
    const scopeSpans = list(rs, 'scopeSpans', rPath);
    for (let s = 0; s < scopeSpans.length; s++) {
      const sPath = `${rPath}.scopeSpans[${s}]`;
      const scope = object(scopeSpans[s], sPath);
      const items = list(scope, 'spans', sPath);
      for (let i = 0; i < items.length; i++) {
        const path = `${sPath}.spans[${i}]`;
        const span = object(items[i], path);
        const attributes = new Map(resourceAttributes);
        readAttributes(span, path, wanted, attributes);
        spans.push({
          path,
          traceId: traceIdOf(span.traceId, `${path}.traceId`),
          kind: kindOf(span.kind, `${path}.kind`),
          name: stringOf(span.name, `${path}.name`),
          startMs: nanosToMs(span.startTimeUnixNano, `${path}.startTimeUnixNano`),
          endMs: nanosToMs(span.endTimeUnixNano, `${path}.endTimeUnixNano`),
          durationMs: Number(exactNanos(span.endTimeUnixNano) - exactNanos(span.startTimeUnixNano)) / 1e6,
          attributes,
        });
        if (spans.length > MAX_ITEMS_PER_REQUEST) throw tooManySpans();
      }
    }
  }
  return spans;
}

const LENGTH_DELIMITED = 2;

function varintLength(value: number): number {
  let bytes = 1;
  while (value >= 0x80) {
    value = Math.floor(value / 128);
    bytes++;
  }
  return bytes;
}
const VARINT = 0;
const FIXED64 = 1;

/** Reads a fixed64 as its two little-endian 32-bit halves, without building a Long. */
function fixed64(reader: protobuf.Reader, into: Float64Array, at: number): void {
  into[at] = reader.fixed32();
  into[at + 1] = reader.fixed32();
}

function expectWire(tag: number, wire: number, path: string): void {
  if ((tag & 7) !== wire) throw invalid(path, `has wire type ${tag & 7}, expected ${wire}`);
}

/** An int64 varint as a number; values under 2^28 (four bytes) are read without building a Long. */
function readInt64(reader: protobuf.Reader): number {
  const buf = reader.buf;
  const pos = reader.pos;
  if (pos + 3 < reader.len && (buf[pos]! < 0x80 || buf[pos + 1]! < 0x80 || buf[pos + 2]! < 0x80 || buf[pos + 3]! < 0x80)) return reader.uint32();
  const long = reader.int64() as unknown as { low: number; high: number };
  return long.high * 4294967296 + (long.low >>> 0);
}

/** An AnyValue of a wanted attribute; arrays, maps and bytes are skipped. */
function readAnyValue(reader: protobuf.Reader, end: number, n: TraceFieldNumbers, path: string): AttributeValue | undefined {
  let value: AttributeValue | undefined;
  while (reader.pos < end) {
    const tag = reader.uint32();
    const field = tag >>> 3;
    if (field === n.stringValue) { expectWire(tag, LENGTH_DELIMITED, `${path}.stringValue`); value = reader.string(); }
    else if (field === n.intValue) { expectWire(tag, VARINT, `${path}.intValue`); value = readInt64(reader); }
    else if (field === n.doubleValue) { expectWire(tag, FIXED64, `${path}.doubleValue`); value = reader.double(); }
    else if (field === n.boolValue) { expectWire(tag, VARINT, `${path}.boolValue`); value = reader.bool(); }
    else reader.skipType(tag & 7);
  }
  return value;
}

const keyLengths = new WeakMap<ReadonlySet<string>, Set<number>>();

/** The UTF-8 lengths of the wanted keys: a key of another length is skipped unread. */
function wantedLengths(wanted: ReadonlySet<string>): Set<number> {
  let lengths = keyLengths.get(wanted);
  if (!lengths) {
    lengths = new Set([...wanted].map((key) => Buffer.byteLength(key)));
    keyLengths.set(wanted, lengths);
  }
  return lengths;
}

/** One KeyValue: stores it in `into` when its key is wanted. */
function readKeyValue(
  reader: protobuf.Reader, end: number, n: TraceFieldNumbers, wanted: ReadonlySet<string>, lengths: Set<number>, into: Map<string, AttributeValue>, path: string,
): void {
  let key: string | undefined;
  let valueAt = -1;
  let valueEnd = -1;
  while (reader.pos < end) {
    const tag = reader.uint32();
    const field = tag >>> 3;
    if (field === n.key && (tag & 7) === LENGTH_DELIMITED) {
      const length = reader.uint32();
      if (lengths.has(length)) {
        reader.pos -= varintLength(length);
        key = reader.string();
      } else {
        reader.skip(length);
        key = undefined;
      }
    } else if (field === n.value && (tag & 7) === LENGTH_DELIMITED) {
      // The value may precede the key on the wire: remember where it is, read it once the key is known.
      const length = reader.uint32();
      valueAt = reader.pos;
      valueEnd = valueAt + length;
      reader.skip(length);
    } else reader.skipType(tag & 7);
  }
  if (key === undefined || valueAt < 0 || !wanted.has(key)) return;
  const after = reader.pos;
  reader.pos = valueAt;
  const value = readAnyValue(reader, valueEnd, n, `${path}.value`);
  reader.pos = after;
  if (value !== undefined) into.set(key, value);
}

function readSpan(reader: protobuf.Reader, end: number, n: TraceFieldNumbers, wanted: ReadonlySet<string>, lengths: Set<number>, path: string): OtlpSpan {
  const span: OtlpSpan = { path, traceId: '', kind: 0, name: '', startMs: 0, endMs: 0, durationMs: 0, attributes: new Map() };
  // start low, start high, end low, end high
  const times = new Float64Array(4);
  let attributeCount = 0;
  while (reader.pos < end) {
    const tag = reader.uint32();
    const field = tag >>> 3;
    if (field === n.traceId) {
      expectWire(tag, LENGTH_DELIMITED, `${path}.traceId`);
      const length = reader.uint32();
      const start = reader.pos;
      reader.skip(length);
      if (length !== 0 && length !== 16) throw invalid(`${path}.traceId`, `must be 16 bytes, got ${length}`);
      span.traceId = length ? (reader.buf as Buffer).toString('hex', start, start + length) : '';
    } else if (field === n.kind) {
      expectWire(tag, VARINT, `${path}.kind`);
      span.kind = reader.int32();
    } else if (field === n.name) {
      expectWire(tag, LENGTH_DELIMITED, `${path}.name`);
      span.name = reader.string();
    } else if (field === n.startTimeUnixNano) {
      expectWire(tag, FIXED64, `${path}.startTimeUnixNano`);
      fixed64(reader, times, 0);
    } else if (field === n.endTimeUnixNano) {
      expectWire(tag, FIXED64, `${path}.endTimeUnixNano`);
      fixed64(reader, times, 2);
    } else if (field === n.attributes) {
      expectWire(tag, LENGTH_DELIMITED, `${path}.attributes`);
      if (++attributeCount > MAX_ATTRIBUTES) {
        // Count the rest for the message, without reading them.
        reader.skipType(LENGTH_DELIMITED);
        while (reader.pos < end) {
          const t = reader.uint32();
          if (t >>> 3 === n.attributes) attributeCount++;
          reader.skipType(t & 7);
        }
        throw invalid(`${path}.attributes`, `holds ${attributeCount} attributes, more than the ${MAX_ATTRIBUTES} accepted`);
      }
      const length = reader.uint32();
      readKeyValue(reader, reader.pos + length, n, wanted, lengths, span.attributes, `${path}.attributes[${attributeCount - 1}]`);
    } else reader.skipType(tag & 7);
  }
  span.startMs = (times[1]! * 4294967296 + times[0]!) / 1e6;
  span.endMs = (times[3]! * 4294967296 + times[2]!) / 1e6;
  span.durationMs = ((times[3]! - times[1]!) * 4294967296 + (times[2]! - times[0]!)) / 1e6;
  return span;
}

/** ExportTraceServiceRequest bytes → spans, reading only what the mapping uses. */
export function readTraceRequest(bytes: Uint8Array, wanted: ReadonlySet<string>): OtlpSpan[] {
  const n = traceFieldNumbers();
  const lengths = wantedLengths(wanted);
  const reader = protobuf.Reader.create(bytes);
  const spans: OtlpSpan[] = [];
  let r = 0;
  while (reader.pos < reader.len) {
    const tag = reader.uint32();
    if (tag >>> 3 !== n.resourceSpans || (tag & 7) !== LENGTH_DELIMITED) {
      reader.skipType(tag & 7);
      continue;
    }
    const rPath = `resourceSpans[${r++}]`;
    const rEnd = reader.uint32() + reader.pos;
    if (rEnd > reader.len) throw new RangeError(`${rPath} runs past the end of the body`);
    const resourceAttributes = new Map<string, AttributeValue>();
    const first = spans.length;
    let s = 0;
    while (reader.pos < rEnd) {
      const rTag = reader.uint32();
      const rField = rTag >>> 3;
      if (rField === n.resource && (rTag & 7) === LENGTH_DELIMITED) {
        const resEnd = reader.uint32() + reader.pos;
        let a = 0;
        while (reader.pos < resEnd) {
          const aTag = reader.uint32();
          if (aTag >>> 3 === n.resourceAttributes && (aTag & 7) === LENGTH_DELIMITED) {
            if (++a > MAX_ATTRIBUTES) throw invalid(`${rPath}.resource.attributes`, `holds more than the ${MAX_ATTRIBUTES} attributes accepted`);
            const length = reader.uint32();
            readKeyValue(reader, reader.pos + length, n, wanted, lengths, resourceAttributes, `${rPath}.resource.attributes[${a - 1}]`);
          } else reader.skipType(aTag & 7);
        }
      } else if (rField === n.scopeSpans && (rTag & 7) === LENGTH_DELIMITED) {
        const sPath = `${rPath}.scopeSpans[${s++}]`;
        const sEnd = reader.uint32() + reader.pos;
        let i = 0;
        while (reader.pos < sEnd) {
          const sTag = reader.uint32();
          if (sTag >>> 3 === n.spans && (sTag & 7) === LENGTH_DELIMITED) {
            const length = reader.uint32();
            const spanEnd = reader.pos + length;
            if (spanEnd > sEnd) throw new RangeError(`${sPath}.spans[${i}] runs past the end of its scope`);
            spans.push(readSpan(reader, spanEnd, n, wanted, lengths, `${sPath}.spans[${i++}]`));
            if (spans.length > MAX_ITEMS_PER_REQUEST) throw tooManySpans();
          } else reader.skipType(sTag & 7);
        }
      } else reader.skipType(rTag & 7);
    }
    // Span attributes win over the resource's, as in tracesFromMessage.
    if (resourceAttributes.size) {
      for (let k = first; k < spans.length; k++) {
        const own = spans[k]!.attributes;
        const merged = new Map(resourceAttributes);
        for (const [key, value] of own) merged.set(key, value);
        spans[k]!.attributes = merged;
      }
    }
  }
  if (reader.pos !== reader.len) throw new RangeError('the last field runs past the end of the body');
  return spans;
}

const POINT_KINDS = ['gauge', 'sum'] as const;

export function decodeMetrics(
  body: Buffer, encoding: OtlpEncoding, contentEncoding: string | undefined, limitBytes: number,
  wantedMetrics: ReadonlySet<string>, wantedAttributes: ReadonlySet<string>,
): OtlpResourceMetrics[] {
  const request = parseMessage('metrics', body, encoding, contentEncoding, limitBytes);
  const out: OtlpResourceMetrics[] = [];
  let points = 0;
  const resourceMetrics = list(request, 'resourceMetrics', '(body)');
  for (let r = 0; r < resourceMetrics.length; r++) {
    const rPath = `resourceMetrics[${r}]`;
    const rm = object(resourceMetrics[r], rPath);
    const resource: OtlpResourceMetrics = { path: rPath, attributes: new Map(), metrics: new Map(), otherPoints: 0 };
    if (rm.resource !== undefined && rm.resource !== null) readAttributes(object(rm.resource, `${rPath}.resource`), `${rPath}.resource`, wantedAttributes, resource.attributes);
    const scopeMetrics = list(rm, 'scopeMetrics', rPath);
    for (let s = 0; s < scopeMetrics.length; s++) {
      const sPath = `${rPath}.scopeMetrics[${s}]`;
      const metrics = list(object(scopeMetrics[s], sPath), 'metrics', sPath);
      for (let m = 0; m < metrics.length; m++) {
        const mPath = `${sPath}.metrics[${m}]`;
        const metric = object(metrics[m], mPath);
        const name = stringOf(metric.name, `${mPath}.name`);
        for (const kind of POINT_KINDS) {
          const data = metric[kind];
          if (data === undefined || data === null) continue;
          const dataPoints = list(object(data, `${mPath}.${kind}`), 'dataPoints', `${mPath}.${kind}`);
          points += dataPoints.length;
          if (points > MAX_ITEMS_PER_REQUEST) {
            throw new ApiError(413, 'too_many_points', `the request holds more than ${MAX_ITEMS_PER_REQUEST} data points, the most one request may hold; nothing was stored`, { field: '(body)' });
          }
          if (!wantedMetrics.has(name)) {
            resource.otherPoints += dataPoints.length;
            continue;
          }
          const into = resource.metrics.get(name) ?? [];
          resource.metrics.set(name, into);
          for (let p = 0; p < dataPoints.length; p++) {
            const pPath = `${mPath}.${kind}.dataPoints[${p}]`;
            const point = object(dataPoints[p], pPath);
            let value: number;
            if (has(point, 'asDouble')) {
              value = double(point.asDouble, `${pPath}.asDouble`);
              if (!Number.isFinite(value)) throw invalid(`${pPath}.asDouble`, 'must be a finite number');
            } else {
              value = int64(point.asInt, `${pPath}.asInt`);
            }
            const attributes = new Map<string, AttributeValue>();
            readAttributes(point, pPath, wantedAttributes, attributes);
            into.push({ timeMs: nanosToMs(point.timeUnixNano, `${pPath}.timeUnixNano`), value, attributes });
          }
        }
      }
    }
    out.push(resource);
  }
  return out;
}
