// The query API contract, shared with the Grafana plugin (plugin/src/types.ts mirrors
// these types; plugin/src/contract.drift.test.ts fails when the two drift apart).
// A change here must be reflected in the plugin's types and in the README's API section.
//
// POST /v1/query   body: QueryRequest    answer: QueryResponse
// GET  /v1/whoami  answer: WhoAmI
import { z } from 'zod';

/** Query types, in the order the plugin's picker lists them. */
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
export const ENDPOINT_ORDERS = ['p95', 'rps', 'errorRate', 'dbShare'] as const;
export const SEVERITIES = ['critical', 'warning', 'info'] as const;
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
export const ANNOTATION_SOURCES = ['recommendations', 'healthThresholds'] as const;
export const VARIABLE_NAMES = ['endpoints', 'fingerprints', 'tenants'] as const;

/** Largest time range one query may cover. */
export const MAX_RANGE_DAYS = 400;
/** Largest "top N". */
export const MAX_LIMIT = 100;
export const DEFAULT_LIMIT = 10;
export const DEFAULT_PERCENTILES = [50, 95, 99];

/** A fingerprint as the API shows it: 16 hexadecimal digits. */
const queryHash = z.string().regex(/^[0-9a-f]{16}$/, 'must be 16 hexadecimal digits (a query fingerprint)');
/** PostgreSQL text cannot hold NUL, so a filter with one could never match: refuse it. */
const NO_NUL = /^[^\u0000]*$/;
const endpoint = z.string().min(1).max(500).regex(NO_NUL, 'must not contain NUL bytes');
const limit = z.number().int().min(1).max(MAX_LIMIT);

const base = { refId: z.string().min(1).max(64), hide: z.boolean().optional() };

export const overviewQuery = z.object({ ...base, queryType: z.literal('overview') }).strict();
export const healthSeriesQuery = z.object({ ...base, queryType: z.literal('healthSeries') }).strict();
export const latencyPercentilesQuery = z
  .object({
    ...base,
    queryType: z.literal('latencyPercentiles'),
    endpoint: endpoint.optional(),
    percentiles: z.array(z.number().gt(0).lt(100)).min(1).max(10).optional(),
    byEndpoint: z.boolean().optional(),
  })
  .strict();
export const throughputQuery = z
  .object({ ...base, queryType: z.literal('throughput'), endpoint: endpoint.optional() })
  .strict();
export const slowQueriesQuery = z
  .object({
    ...base,
    queryType: z.literal('slowQueries'),
    orderBy: z.enum(SLOW_QUERY_ORDERS).optional(),
    limit: limit.optional(),
    endpoint: endpoint.optional(),
  })
  .strict();
export const queryDetailQuery = z
  .object({ ...base, queryType: z.literal('queryDetail'), queryHash })
  .strict();
export const endpointsQuery = z
  .object({
    ...base,
    queryType: z.literal('endpoints'),
    orderBy: z.enum(ENDPOINT_ORDERS).optional(),
    limit: limit.optional(),
  })
  .strict();
export const resourcesQuery = z
  .object({ ...base, queryType: z.literal('resources'), source: z.string().min(1).max(128).regex(NO_NUL, 'must not contain NUL bytes').optional() })
  .strict();
export const storageQuery = z.object({ ...base, queryType: z.literal('storage') }).strict();
export const recommendationsQuery = z
  .object({
    ...base,
    queryType: z.literal('recommendations'),
    kind: z.enum(RECOMMENDATION_KINDS).optional(),
    severity: z.enum(SEVERITIES).optional(),
    queryHash: queryHash.optional(),
    endpoint: endpoint.optional(),
  })
  .strict();
export const annotationsQuery = z
  .object({ ...base, queryType: z.literal('annotations'), source: z.enum(ANNOTATION_SOURCES) })
  .strict();
export const variableQuery = z
  .object({ ...base, queryType: z.literal('variable'), variable: z.enum(VARIABLE_NAMES) })
  .strict();

export const query = z.discriminatedUnion('queryType', [
  overviewQuery,
  healthSeriesQuery,
  latencyPercentilesQuery,
  throughputQuery,
  slowQueriesQuery,
  queryDetailQuery,
  endpointsQuery,
  resourcesQuery,
  storageQuery,
  recommendationsQuery,
  annotationsQuery,
  variableQuery,
]);
export type Query = z.infer<typeof query>;
export type QueryOf<T extends QueryType> = Extract<Query, { queryType: T }>;

/** ISO 8601 text or epoch milliseconds. */
export const timestamp = z.union([z.string().min(1).max(64), z.number().finite()]);

export const queryRequest = z
  .object({
    range: z.object({ from: timestamp, to: timestamp }).strict(),
    maxDataPoints: z.number().int().min(1).max(100_000).optional(),
    intervalMs: z.number().int().min(1).max(31 * 24 * 3_600_000).optional(),
    /** Admin tokens only: the tenant to answer for. Ignored-with-403 for tenant tokens. */
    tenantId: z.string().uuid().optional(),
    queries: z.array(z.unknown()).min(1).max(50),
  })
  .strict();
export type QueryRequest = Omit<z.infer<typeof queryRequest>, 'queries'> & { queries: Query[] };

// ---- Answers: Grafana data frames in JSON, as /api/ds/query returns them ----------

export type FieldType = 'time' | 'number' | 'string' | 'boolean' | 'other';

export interface FieldConfig {
  unit?: string;
  displayName?: string;
  decimals?: number;
  min?: number;
  max?: number;
  description?: string;
  thresholds?: { mode: 'absolute' | 'percentage'; steps: Array<{ value: number | null; color: string }> };
  links?: Array<{ title: string; url: string }>;
  /**
   * On the time field of a series: its step in ms. Grafana draws a gap (inserts a null)
   * where consecutive points are further apart than this, and sizes bars by it.
   */
  interval?: number;
}

export interface FieldSchema {
  name: string;
  type: FieldType;
  config: FieldConfig;
  labels?: Record<string, string>;
}

export interface DataFrameJSON {
  schema: {
    name?: string;
    refId?: string;
    meta?: { preferredVisualisationType?: string; notices?: Array<{ severity: 'info' | 'warning' | 'error'; text: string }>; custom?: Record<string, unknown> };
    fields: FieldSchema[];
  };
  data: { values: unknown[][] };
}

export interface ApiErrorBody {
  error: { code: string; message: string; details?: unknown };
}

export interface QueryResult {
  frames: DataFrameJSON[];
  error?: ApiErrorBody['error'];
}

export interface QueryResponse {
  results: Record<string, QueryResult>;
}

export interface WhoAmI {
  tenantId: string | null;
  admin: boolean;
  scopes: Array<'read' | 'ingest' | 'admin'>;
  cache: { lastUpdated: string | null; stalenessSeconds: number | null };
}
