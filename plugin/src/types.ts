/**
 * The query model of the plugin and the wire types of the service's query API.
 *
 * The wire types mirror service/src/contract/query.ts. A change there must be
 * reflected here; src/contract.drift.test.ts fails when the two drift apart.
 */
import { DataSourceJsonData } from '@grafana/data';
import { DataQuery } from '@grafana/schema';

// ---- values the service accepts (service/src/contract/query.ts) ----

export const QUERY_TYPES = [
  'overview',
  'healthSeries',
  'latencyPercentiles',
  'throughput',
  'slowQueries',
  'queryDetail',
  'endpoints',
  'resources',
  'storage',
  'recommendations',
  'annotations',
  'variable',
] as const;
export type QueryType = (typeof QUERY_TYPES)[number];

export const SLOW_QUERY_ORDERS = ['total', 'avg', 'p95', 'count'] as const;
export type SlowQueryOrder = (typeof SLOW_QUERY_ORDERS)[number];

export const ENDPOINT_ORDERS = ['p95', 'rps', 'errorRate', 'dbShare'] as const;
export type EndpointOrder = (typeof ENDPOINT_ORDERS)[number];

export const SEVERITIES = ['critical', 'warning', 'info'] as const;
export type Severity = (typeof SEVERITIES)[number];

export const RECOMMENDATION_KINDS = [
  'missingIndex',
  'nPlusOne',
  'slowEndpoint',
  'highErrorRate',
  'poolSaturation',
  'cpuPressure',
  'memoryPressure',
  'staleCache',
  'partitions',
  'unusedIndex',
  'duplicateIndex',
] as const;
export type RecommendationKind = (typeof RECOMMENDATION_KINDS)[number];

export const ANNOTATION_SOURCES = ['recommendations', 'healthThresholds'] as const;
export type AnnotationSource = (typeof ANNOTATION_SOURCES)[number];

export const VARIABLE_NAMES = ['endpoints', 'fingerprints', 'tenants'] as const;
export type VariableName = (typeof VARIABLE_NAMES)[number];

export const LIMIT = { min: 1, max: 100, default: 10 } as const;
export const DEFAULT_PERCENTILES = [50, 95, 99];
/** Percentiles lie strictly between 0 and 100; at most this many per query. */
export const MAX_PERCENTILES = 10;
/** A fingerprint: 16 hexadecimal digits. */
export const QUERY_HASH_PATTERN = /^[0-9a-f]{16}$/;
/** The service answers at most this many queries per request. */
export const MAX_QUERIES_PER_REQUEST = 50;

// ---- wire types: one request to POST /v1/query ----

/** Options of each query type, named as the service names them. */
export interface WireOptionsByType {
  overview: {};
  healthSeries: {};
  latencyPercentiles: { endpoint?: string; percentiles?: number[]; byEndpoint?: boolean };
  throughput: { endpoint?: string };
  slowQueries: { orderBy?: SlowQueryOrder; limit?: number; endpoint?: string };
  queryDetail: { queryHash: string };
  endpoints: { orderBy?: EndpointOrder; limit?: number };
  resources: { source?: string };
  storage: {};
  recommendations: { kind?: RecommendationKind; severity?: Severity; queryHash?: string; endpoint?: string };
  annotations: { source: AnnotationSource };
  variable: { variable: VariableName };
}

export type WireQuery = {
  [K in QueryType]: { refId: string; hide?: boolean; queryType: K } & WireOptionsByType[K];
}[QueryType];

export interface QueryRequestBody {
  range: { from: number | string; to: number | string };
  maxDataPoints?: number;
  intervalMs?: number;
  /** Admin tokens only. */
  tenantId?: string;
  queries: WireQuery[];
}

export interface ServiceError {
  code: string;
  message: string;
  details?: unknown;
}

export interface ErrorBody {
  error: ServiceError;
}

export type WireFieldType = 'time' | 'number' | 'string' | 'boolean' | 'other';

export interface WireFieldConfig {
  unit?: string;
  displayName?: string;
  decimals?: number;
  min?: number;
  max?: number;
  description?: string;
  thresholds?: { mode: 'absolute' | 'percentage'; steps: Array<{ value: number | null; color: string }> };
  links?: Array<{ title: string; url: string }>;
  /** On the time field of a series: its step in ms; Grafana draws gaps where points are further apart. */
  interval?: number;
}

export interface WireFrame {
  schema: {
    name?: string;
    refId?: string;
    meta?: {
      preferredVisualisationType?: string;
      notices?: Array<{ severity: 'info' | 'warning' | 'error'; text: string }>;
      custom?: Record<string, unknown>;
    };
    fields: Array<{ name: string; type: WireFieldType; config: WireFieldConfig; labels?: Record<string, string> }>;
  };
  data: { values: unknown[][] };
}

export interface QueryResult {
  frames: WireFrame[];
  error?: ServiceError;
}

export interface QueryResponseBody {
  results: Record<string, QueryResult>;
}

export interface WhoAmI {
  tenantId: string | null;
  admin: boolean;
  scopes: Array<'read' | 'ingest' | 'admin'>;
  cache: { lastUpdated: string | null; stalenessSeconds: number | null };
}

// ---- the saved query ----

/** Bumped whenever the saved query shape changes; see migrate.ts. */
export const QUERY_SCHEMA_VERSION = 1;

/**
 * The saved query: one flat object, so switching the query type keeps what a
 * user typed (an endpoint stays an endpoint). Where two types give one wire
 * name different meanings, the saved names differ (`endpointOrderBy`,
 * `resourceSource`); WIRE_OPTIONS maps them back.
 */
export interface AgogQuery extends DataQuery {
  queryType: QueryType;
  schemaVersion: number;
  endpoint?: string;
  percentiles?: number[];
  byEndpoint?: boolean;
  orderBy?: SlowQueryOrder;
  endpointOrderBy?: EndpointOrder;
  limit?: number;
  queryHash?: string;
  kind?: RecommendationKind;
  severity?: Severity;
  source?: AnnotationSource;
  resourceSource?: string;
  variable?: VariableName;
  /** Admin tokens only: the tenant to read; template variables allowed. */
  tenantId?: string;
}

export type SavedOption = Exclude<keyof AgogQuery, keyof DataQuery | 'schemaVersion' | 'tenantId'>;

/** For each query type: the saved option and the wire name it is sent as. */
export const WIRE_OPTIONS: { [K in QueryType]: ReadonlyArray<[SavedOption, keyof WireOptionsByType[K]]> } = {
  overview: [],
  healthSeries: [],
  latencyPercentiles: [
    ['endpoint', 'endpoint'],
    ['percentiles', 'percentiles'],
    ['byEndpoint', 'byEndpoint'],
  ],
  throughput: [['endpoint', 'endpoint']],
  slowQueries: [
    ['orderBy', 'orderBy'],
    ['limit', 'limit'],
    ['endpoint', 'endpoint'],
  ],
  queryDetail: [['queryHash', 'queryHash']],
  endpoints: [
    ['endpointOrderBy', 'orderBy'],
    ['limit', 'limit'],
  ],
  resources: [['resourceSource', 'source']],
  storage: [],
  recommendations: [
    ['kind', 'kind'],
    ['severity', 'severity'],
    ['queryHash', 'queryHash'],
    ['endpoint', 'endpoint'],
  ],
  annotations: [['source', 'source']],
  variable: [['variable', 'variable']],
};

/** Defaults that make a new panel show data at once. */
export const DEFAULT_QUERY: Omit<AgogQuery, 'refId'> = {
  queryType: 'healthSeries',
  schemaVersion: QUERY_SCHEMA_VERSION,
};

/** The options a query type starts with when it is picked. */
export const DEFAULT_OPTIONS: { [K in QueryType]: Partial<Pick<AgogQuery, SavedOption>> } = {
  overview: {},
  healthSeries: {},
  latencyPercentiles: { percentiles: DEFAULT_PERCENTILES, byEndpoint: false },
  throughput: {},
  slowQueries: { orderBy: 'total', limit: LIMIT.default },
  queryDetail: {},
  endpoints: { endpointOrderBy: 'p95', limit: LIMIT.default },
  resources: {},
  storage: {},
  recommendations: {},
  annotations: { source: 'recommendations' },
  variable: { variable: 'endpoints' },
};

// ---- data source settings ----

/**
 * The data proxy routes of plugin.json, one per call the plugin makes. Grafana matches a
 * route by method and path prefix, strips the route path and appends the rest to the
 * route's url, so each route's url carries its own upstream path and no route is a prefix
 * of the ingest or admin APIs. plugin.json must list exactly these (plugin.json.rules.test.ts).
 */
export const SERVICE_ROUTES = {
  query: { method: 'POST', path: 'service/v1/query', upstream: '/v1/query', token: true },
  whoami: { method: 'GET', path: 'service/v1/whoami', upstream: '/v1/whoami', token: true },
  health: { method: 'GET', path: 'service/health', upstream: '/health', token: false },
} as const;

export type ServiceRoute = keyof typeof SERVICE_ROUTES;

/** Settings of one data source instance (jsonData). */
export interface AgogDataSourceOptions extends DataSourceJsonData {
  /** Base URL of the service as Grafana's server reaches it; the data proxy route points here. */
  serviceUrl?: string;
}

/** Secrets kept on the Grafana server; the browser only learns whether they are set. */
export interface AgogSecureJsonData {
  apiToken?: string;
}
