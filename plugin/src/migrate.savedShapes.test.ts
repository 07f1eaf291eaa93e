import { migrateQuery, needsMigration, toAnnotationQuery } from './migrate';
import { AgogQuery, DEFAULT_PERCENTILES, QUERY_SCHEMA_VERSION } from './types';

describe('migrateQuery', () => {
  it('leaves a query of the current version untouched, as the same object', () => {
    const current: AgogQuery = { refId: 'A', queryType: 'slowQueries', schemaVersion: QUERY_SCHEMA_VERSION, limit: 25 };
    expect(migrateQuery(current)).toBe(current);
    expect(needsMigration(current)).toBe(false);
  });

  it('turns an empty saved query into the default health series', () => {
    expect(migrateQuery({ refId: 'A' })).toEqual({
      refId: 'A',
      queryType: 'healthSeries',
      schemaVersion: QUERY_SCHEMA_VERSION,
    });
  });

  it('fills in the defaults of a query saved with only its queryType', () => {
    expect(migrateQuery({ refId: 'B', queryType: 'slowQueries' } as AgogQuery)).toEqual({
      refId: 'B',
      queryType: 'slowQueries',
      orderBy: 'total',
      limit: 10,
      schemaVersion: QUERY_SCHEMA_VERSION,
    });
  });

  it('keeps the options of a versionless query that already has some, adding no defaults over them', () => {
    const migrated = migrateQuery({ refId: 'C', queryType: 'slowQueries', limit: 5 } as AgogQuery);
    expect(migrated).toEqual({ refId: 'C', queryType: 'slowQueries', limit: 5, schemaVersion: QUERY_SCHEMA_VERSION });
  });

  it('maps a seed-style query with an operation and a timeRange to the matching query type', () => {
    const seed = { refId: 'D', operation: 'performanceOverview', timeRange: 'LAST_24_HOURS' };
    expect(migrateQuery(seed as unknown as AgogQuery)).toEqual({
      refId: 'D',
      queryType: 'overview',
      schemaVersion: QUERY_SCHEMA_VERSION,
    });
  });

  it('maps a seed-style query with only a timeRange to the overview, leaving the range to the dashboard', () => {
    const migrated = migrateQuery({ refId: 'E', timeRange: 'LAST_7_DAYS' } as unknown as AgogQuery);
    expect(migrated.queryType).toBe('overview');
    expect(migrated).not.toHaveProperty('timeRange');
  });

  it('maps the seed slow query operation to slow queries with their defaults', () => {
    const migrated = migrateQuery({
      refId: 'F',
      operation: 'slowQueries',
      timeRange: 'LAST_HOUR',
    } as unknown as AgogQuery);
    expect(migrated).toMatchObject({ queryType: 'slowQueries', orderBy: 'total', limit: 10 });
    expect(migrated).not.toHaveProperty('operation');
  });

  it('parses percentiles that were saved as text', () => {
    const saved = { refId: 'G', queryType: 'latencyPercentiles', percentiles: '50, 90, 99.9' };
    expect(migrateQuery(saved as unknown as AgogQuery).percentiles).toEqual([50, 90, 99.9]);
  });

  it('falls back to the default percentiles when the saved text does not parse', () => {
    const saved = { refId: 'H', queryType: 'latencyPercentiles', percentiles: 'fast' };
    expect(migrateQuery(saved as unknown as AgogQuery).percentiles).toEqual(DEFAULT_PERCENTILES);
  });

  it('turns a limit saved as text into a number', () => {
    const saved = { refId: 'I', queryType: 'endpoints', limit: '15' };
    expect(migrateQuery(saved as unknown as AgogQuery).limit).toBe(15);
  });

  it('replaces an unknown query type with the default one', () => {
    expect(migrateQuery({ refId: 'J', queryType: 'graphql' } as unknown as AgogQuery).queryType).toBe('healthSeries');
  });

  it('keeps Grafana fields such as datasource and hide', () => {
    const saved = { refId: 'K', hide: true, datasource: { type: 'agog-performance-datasource', uid: 'x' } };
    expect(migrateQuery(saved)).toMatchObject(saved);
  });
});

describe('toAnnotationQuery', () => {
  it('migrates an annotation saved with only a source', () => {
    expect(toAnnotationQuery({ source: 'healthThresholds' } as Partial<AgogQuery>)).toEqual({
      refId: 'Anno',
      queryType: 'annotations',
      source: 'healthThresholds',
      schemaVersion: QUERY_SCHEMA_VERSION,
    });
  });

  it('gives an annotation without a target the recommendations source', () => {
    expect(toAnnotationQuery(undefined)).toMatchObject({ queryType: 'annotations', source: 'recommendations' });
  });
});
