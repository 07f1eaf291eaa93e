// The OTLP message types, read by protobufjs from the opentelemetry-proto definitions
// vendored under ./proto (release v1.9.0, Apache-2.0, licence beside them). Loaded once,
// on first use; protobufjs then generates a decoder per message type.
import path from 'node:path';
import protobuf from 'protobufjs';

const PROTO_DIR = path.join(__dirname, 'proto');
const FILES = [
  'opentelemetry/proto/collector/trace/v1/trace_service.proto',
  'opentelemetry/proto/collector/metrics/v1/metrics_service.proto',
];

export interface OtlpTypes {
  traceRequest: protobuf.Type;
  traceResponse: protobuf.Type;
  metricsRequest: protobuf.Type;
  metricsResponse: protobuf.Type;
  /** google.rpc.Status, the body of an OTLP/HTTP error answer (code, message; no details). */
  status: protobuf.Type;
}

let types: OtlpTypes | undefined;
let root: protobuf.Root | undefined;

export function otlpTypes(): OtlpTypes {
  if (types) return types;
  root = new protobuf.Root();
  root.resolvePath = (_origin, target) => path.join(PROTO_DIR, target);
  root.loadSync(FILES);
  const status = new protobuf.Type('Status')
    .add(new protobuf.Field('code', 1, 'int32'))
    .add(new protobuf.Field('message', 2, 'string'));
  root.define('google.rpc').add(status);
  root.resolveAll();
  types = {
    traceRequest: root.lookupType('opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest'),
    traceResponse: root.lookupType('opentelemetry.proto.collector.trace.v1.ExportTraceServiceResponse'),
    metricsRequest: root.lookupType('opentelemetry.proto.collector.metrics.v1.ExportMetricsServiceRequest'),
    metricsResponse: root.lookupType('opentelemetry.proto.collector.metrics.v1.ExportMetricsServiceResponse'),
    status,
  };
  return types;
}

/** The field numbers readTraceRequest (decode.ts) walks by, read from the definitions. */
export interface TraceFieldNumbers {
  resourceSpans: number;
  resource: number;
  resourceAttributes: number;
  scopeSpans: number;
  spans: number;
  traceId: number;
  name: number;
  kind: number;
  startTimeUnixNano: number;
  endTimeUnixNano: number;
  attributes: number;
  key: number;
  value: number;
  stringValue: number;
  boolValue: number;
  intValue: number;
  doubleValue: number;
}

let numbers: TraceFieldNumbers | undefined;

export function traceFieldNumbers(): TraceFieldNumbers {
  if (numbers) return numbers;
  otlpTypes();
  const id = (type: string, field: string) => {
    const found = root!.lookupType(type).fields[field];
    if (!found) throw new Error(`the OTLP definitions have no field ${type}.${field}`);
    return found.id;
  };
  numbers = {
    resourceSpans: id('opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest', 'resourceSpans'),
    resource: id('opentelemetry.proto.trace.v1.ResourceSpans', 'resource'),
    resourceAttributes: id('opentelemetry.proto.resource.v1.Resource', 'attributes'),
    scopeSpans: id('opentelemetry.proto.trace.v1.ResourceSpans', 'scopeSpans'),
    spans: id('opentelemetry.proto.trace.v1.ScopeSpans', 'spans'),
    traceId: id('opentelemetry.proto.trace.v1.Span', 'traceId'),
    name: id('opentelemetry.proto.trace.v1.Span', 'name'),
    kind: id('opentelemetry.proto.trace.v1.Span', 'kind'),
    startTimeUnixNano: id('opentelemetry.proto.trace.v1.Span', 'startTimeUnixNano'),
    endTimeUnixNano: id('opentelemetry.proto.trace.v1.Span', 'endTimeUnixNano'),
    attributes: id('opentelemetry.proto.trace.v1.Span', 'attributes'),
    key: id('opentelemetry.proto.common.v1.KeyValue', 'key'),
    value: id('opentelemetry.proto.common.v1.KeyValue', 'value'),
    stringValue: id('opentelemetry.proto.common.v1.AnyValue', 'stringValue'),
    boolValue: id('opentelemetry.proto.common.v1.AnyValue', 'boolValue'),
    intValue: id('opentelemetry.proto.common.v1.AnyValue', 'intValue'),
    doubleValue: id('opentelemetry.proto.common.v1.AnyValue', 'doubleValue'),
  };
  return numbers;
}
