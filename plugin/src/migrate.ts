/**
 * Brings a saved query from any earlier shape to the current model, so saved
 * dashboards keep working. Each old shape has a test in migrate.savedShapes.test.ts.
 *
 * Shapes before schemaVersion 1:
 * - an empty query (`{ refId }`), as Grafana stores a panel nobody edited;
 * - a query with only `queryType` and no options;
 * - a seed-style query, named after the old GraphQL API: `{ operation?, timeRange }`,
 *   e.g. `{ operation: 'performanceOverview', timeRange: 'LAST_24_HOURS' }`;
 * - percentiles saved as text ("50, 95, 99") and limits saved as text ("10").
 */
import { parsePercentiles } from './validate';
import {
  AgogQuery,
  DEFAULT_OPTIONS,
  DEFAULT_QUERY,
  QUERY_SCHEMA_VERSION,
  QUERY_TYPES,
  QueryType,
  WIRE_OPTIONS,
} from './types';

/** The seed's GraphQL operations and the query type that replaces each. */
const SEED_OPERATIONS: Record<string, QueryType> = {
  performanceOverview: 'overview',
  slowQueries: 'slowQueries',
  endpointPerformance: 'endpoints',
  resourceUtilization: 'resources',
  performanceTrends: 'healthSeries',
};

/** The seed's relative windows. The dashboard time range now decides, so they are dropped. */
const SEED_TIME_RANGES = ['LAST_HOUR', 'LAST_6_HOURS', 'LAST_24_HOURS', 'LAST_7_DAYS', 'LAST_30_DAYS'];

const LEGACY_FIELDS = ['timeRange', 'operation'] as const;

type SavedQuery = Partial<AgogQuery> & { refId: string } & Record<string, unknown>;

function isQueryType(value: unknown): value is QueryType {
  return typeof value === 'string' && (QUERY_TYPES as readonly string[]).includes(value);
}

function isSeedStyle(query: SavedQuery): boolean {
  return (
    (typeof query.timeRange === 'string' && SEED_TIME_RANGES.includes(query.timeRange)) ||
    (typeof query.operation === 'string' && query.operation in SEED_OPERATIONS)
  );
}

function legacyQueryType(query: SavedQuery): QueryType {
  if (isQueryType(query.queryType)) {
    return query.queryType;
  }
  if (isSeedStyle(query)) {
    return SEED_OPERATIONS[String(query.operation)] ?? 'overview';
  }
  return DEFAULT_QUERY.queryType;
}

function hasAnyOption(query: SavedQuery, queryType: QueryType): boolean {
  return WIRE_OPTIONS[queryType].some(([name]) => query[name] !== undefined);
}

export function needsMigration(query: Partial<AgogQuery>): boolean {
  return query.schemaVersion !== QUERY_SCHEMA_VERSION;
}

export function migrateQuery<Q extends Partial<AgogQuery> & { refId: string }>(saved: Q): AgogQuery & Q {
  if (!needsMigration(saved)) {
    return saved as AgogQuery & Q;
  }
  const query: SavedQuery = { ...saved };
  const queryType = legacyQueryType(query);

  if (typeof query.percentiles === 'string') {
    query.percentiles = parsePercentiles(query.percentiles) ?? DEFAULT_OPTIONS.latencyPercentiles.percentiles;
  }
  if (typeof query.limit === 'string' && query.limit !== '') {
    query.limit = Number(query.limit);
  }
  for (const field of LEGACY_FIELDS) {
    delete query[field];
  }

  const defaults = hasAnyOption(query, queryType) ? {} : DEFAULT_OPTIONS[queryType];
  return { ...defaults, ...query, queryType, schemaVersion: QUERY_SCHEMA_VERSION } as AgogQuery & Q;
}

/** The query of an annotation, whatever shape it was saved in. */
export function toAnnotationQuery(saved: Partial<AgogQuery> | undefined): AgogQuery {
  if (saved?.queryType === 'annotations' && saved.refId && !needsMigration(saved)) {
    return saved as AgogQuery;
  }
  return migrateQuery({ ...saved, refId: saved?.refId ?? 'Anno', queryType: 'annotations' });
}
