// The two roads of protobuf trace decoding give the same spans: readTraceRequest (the
// selective walk the receiver uses) and a full protobufjs decode read by the same walker
// as JSON bodies. No database: this is about the bytes.
import protobuf from 'protobufjs';
import { readTraceRequest, tracesFromMessage } from '../src/otlp/decode';
import { otlpTypes } from '../src/otlp/schema';
import { TRACE_ATTRIBUTES } from '../src/otlp/traces';

const wanted = TRACE_ATTRIBUTES;

function encode(request: object): Uint8Array {
  const type = otlpTypes().traceRequest;
  return type.encode(type.fromObject(request)).finish();
}

function bothRoads(bytes: Uint8Array) {
  const full = tracesFromMessage(otlpTypes().traceRequest.decode(bytes) as unknown as Record<string, unknown>, wanted);
  const selective = readTraceRequest(bytes, wanted);
  return { full, selective };
}

const id = (byte: number, length: number) => Buffer.alloc(length, byte);

describe('protobuf trace decoding', () => {
  it('reads the same spans as a full decode: ids, kinds, names, times, wanted attributes of every value type, resource attributes', () => {
    const bytes = encode({
      resourceSpans: [
        {
          resource: { attributes: [{ key: 'service.name', value: { stringValue: 'shop' } }, { key: 'http.route', value: { stringValue: '/from-resource' } }] },
          scopeSpans: [
            {
              scope: { name: 'a', version: '1' },
              spans: [
                {
                  traceId: id(1, 16), spanId: id(2, 8), parentSpanId: id(3, 8), name: 'GET /x', kind: 2,
                  startTimeUnixNano: '1765000000123456789', endTimeUnixNano: '1765000000223456789',
                  attributes: [
                    { key: 'http.route', value: { stringValue: '/x/:id' } },
                    { key: 'http.response.status_code', value: { intValue: 503 } },
                    { key: 'http.request.body.size', value: { doubleValue: 12.5 } },
                    { key: 'graphql.operation.name', value: { boolValue: true } },
                    { key: 'unmapped', value: { arrayValue: { values: [{ stringValue: 'x' }] } } },
                    { key: 'db.statement', value: { bytesValue: Buffer.from('ignored') } },
                  ],
                  events: [{ name: 'e', timeUnixNano: '1' }],
                  status: { code: 2, message: 'boom' },
                },
                { name: 'no ids', kind: 1 },
              ],
            },
            { spans: [{ traceId: id(9, 16), kind: 3, startTimeUnixNano: '5', endTimeUnixNano: '4', attributes: [{ key: 'db.system', value: { stringValue: 'postgresql' } }] }] },
          ],
        },
        { scopeSpans: [{ spans: [{ traceId: id(10, 16), kind: 'SPAN_KIND_SERVER' }] }] },
      ],
    });
    const { full, selective } = bothRoads(bytes);
    expect(selective).toEqual(full);
    expect(selective).toHaveLength(4);
    expect(selective[0]).toEqual({
      path: 'resourceSpans[0].scopeSpans[0].spans[0]', traceId: '01'.repeat(16), kind: 2, name: 'GET /x',
      startMs: 1765000000123.4568, endMs: 1765000000223.4568, durationMs: 100,
      attributes: new Map<string, unknown>([['http.route', '/x/:id'], ['http.response.status_code', 503], ['http.request.body.size', 12.5], ['graphql.operation.name', true]]),
    });
    expect(selective[1]!.attributes).toEqual(new Map([['http.route', '/from-resource']]));
    // Durations come exactly from the nanoseconds, which a double holds only to 256 ns.
    expect(selective[2]!.durationMs).toBe(-0.000001);
  });

  it('reads a KeyValue whose value comes before its key on the wire', () => {
    const n = (type: string, field: string) => otlpTypes().traceRequest.root.lookupType(type).fields[field]!.id;
    const anyValue = protobuf.Writer.create().uint32((n('opentelemetry.proto.common.v1.AnyValue', 'stringValue') << 3) | 2).string('/reordered').finish();
    const keyValue = protobuf.Writer.create()
      .uint32((n('opentelemetry.proto.common.v1.KeyValue', 'value') << 3) | 2).bytes(anyValue)
      .uint32((n('opentelemetry.proto.common.v1.KeyValue', 'key') << 3) | 2).string('http.route')
      .finish();
    const span = protobuf.Writer.create()
      .uint32((n('opentelemetry.proto.trace.v1.Span', 'attributes') << 3) | 2).bytes(keyValue)
      .uint32((n('opentelemetry.proto.trace.v1.Span', 'kind') << 3) | 0).int32(2)
      .finish();
    const scope = protobuf.Writer.create().uint32((n('opentelemetry.proto.trace.v1.ScopeSpans', 'spans') << 3) | 2).bytes(span).finish();
    const resource = protobuf.Writer.create().uint32((n('opentelemetry.proto.trace.v1.ResourceSpans', 'scopeSpans') << 3) | 2).bytes(scope).finish();
    const bytes = protobuf.Writer.create().uint32((1 << 3) | 2).bytes(resource).finish();
    const { full, selective } = bothRoads(bytes);
    expect(selective).toEqual(full);
    expect(selective[0]!.attributes.get('http.route')).toBe('/reordered');
  });

  it('refuses every truncation of a body, as a full decode does', () => {
    const bytes = encode({
      resourceSpans: [{ scopeSpans: [{ spans: [{ traceId: id(1, 16), kind: 2, name: 'n', startTimeUnixNano: '10', endTimeUnixNano: '20', attributes: [{ key: 'http.route', value: { stringValue: '/r' } }] }] }] }],
    });
    let refused = 0;
    for (let cut = 1; cut < bytes.length; cut++) {
      const truncated = bytes.subarray(0, cut);
      let fullFailed = false;
      try {
        otlpTypes().traceRequest.decode(truncated);
      } catch {
        fullFailed = true;
      }
      if (!fullFailed) continue;
      expect(() => readTraceRequest(truncated, wanted)).toThrow();
      refused++;
    }
    expect(refused).toBeGreaterThan(bytes.length / 2);
  });

  it('refuses a trace id of the wrong length', () => {
    const bytes = encode({ resourceSpans: [{ scopeSpans: [{ spans: [{ traceId: id(1, 5), kind: 2 }] }] }] });
    expect(() => readTraceRequest(bytes, wanted)).toThrow(/traceId must be 16 bytes, got 5/);
  });
});
