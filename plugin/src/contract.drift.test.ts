/**
 * The plugin's types.ts mirrors service/src/contract/query.ts. This test reads
 * the service's zod schemas and fails when the two have drifted apart: the
 * values the plugin offers, and the requests it builds, must be what the
 * service accepts. The type assertions at the end are checked by `npm run typecheck`.
 */
import * as contract from '../../service/src/contract/query';
import { buildQueryBodies, MAX_STEP_MS } from './request';
import { fakeTemplateSrv, queryRequest } from './testing/fakes';
import * as plugin from './types';
import { AgogQuery, QUERY_SCHEMA_VERSION } from './types';

const sorted = (values: readonly unknown[]) => [...values].map(String).sort();

describe('the plugin offers the values the service accepts', () => {
  it.each([
    ['query types', plugin.QUERY_TYPES, contract.QUERY_TYPES],
    ['slow query orders', plugin.SLOW_QUERY_ORDERS, contract.SLOW_QUERY_ORDERS],
    ['endpoint orders', plugin.ENDPOINT_ORDERS, contract.ENDPOINT_ORDERS],
    ['severities', plugin.SEVERITIES, contract.SEVERITIES],
    ['recommendation kinds', plugin.RECOMMENDATION_KINDS, contract.RECOMMENDATION_KINDS],
    ['annotation sources', plugin.ANNOTATION_SOURCES, contract.ANNOTATION_SOURCES],
    ['variable names', plugin.VARIABLE_NAMES, contract.VARIABLE_NAMES],
  ])('%s', (_, ours, theirs) => {
    expect(sorted(ours)).toEqual(sorted(theirs));
  });

  it('lists the query types in the service order', () => {
    expect([...plugin.QUERY_TYPES]).toEqual([...contract.QUERY_TYPES]);
  });

  it('shares the limits and defaults', () => {
    expect(plugin.LIMIT.max).toBe(contract.MAX_LIMIT);
    expect(plugin.LIMIT.default).toBe(contract.DEFAULT_LIMIT);
    expect(plugin.DEFAULT_PERCENTILES).toEqual(contract.DEFAULT_PERCENTILES);
  });

  it('never chooses a step longer than the service takes', () => {
    expect(contract.queryRequest.shape.intervalMs.safeParse(MAX_STEP_MS).success).toBe(true);
    expect(contract.queryRequest.shape.intervalMs.safeParse(MAX_STEP_MS + 1).success).toBe(false);
  });
});

/** A query of every type with every option set, as a user could save it. */
const EVERY_QUERY: AgogQuery[] = [
  { queryType: 'overview' },
  { queryType: 'healthSeries' },
  { queryType: 'latencyPercentiles', endpoint: '/api/orders', percentiles: [50, 99.9], byEndpoint: true },
  { queryType: 'throughput', endpoint: '$endpoint' },
  { queryType: 'slowQueries', orderBy: 'p95', limit: 100, endpoint: '/api/orders' },
  { queryType: 'queryDetail', queryHash: '$fingerprint' },
  { queryType: 'endpoints', endpointOrderBy: 'dbShare', limit: 1 },
  { queryType: 'resources', resourceSource: 'db-1' },
  { queryType: 'storage' },
  {
    queryType: 'recommendations',
    kind: 'missingIndex',
    severity: 'critical',
    queryHash: '0123456789abcdef',
    endpoint: '/x',
  },
  { queryType: 'annotations', source: 'healthThresholds' },
  { queryType: 'variable', variable: 'tenants' },
].map((fields, index) => ({ refId: `Q${index}`, schemaVersion: QUERY_SCHEMA_VERSION, ...fields }) as AgogQuery);

describe('the requests the plugin builds pass the service schemas', () => {
  const templateSrv = fakeTemplateSrv({
    endpoint: '/api/orders',
    fingerprint: 'fedcba9876543210',
    tenant: '7c9e6679-7425-40de-944b-e07fc1f90ae7',
  });

  it('covers every query type', () => {
    expect(sorted(EVERY_QUERY.map((query) => query.queryType))).toEqual(sorted(contract.QUERY_TYPES));
  });

  it.each(EVERY_QUERY.map((query) => [query.queryType, query] as const))('%s with every option', (_, query) => {
    const [body] = buildQueryBodies(queryRequest([query]), templateSrv);
    expect(contract.queryRequest.safeParse(body).error).toBeUndefined();
    expect(contract.query.safeParse(body.queries[0]).error).toBeUndefined();
  });

  it.each(plugin.QUERY_TYPES.map((queryType) => [queryType]))('%s as a new panel picks it', (queryType) => {
    const query = {
      refId: 'A',
      schemaVersion: QUERY_SCHEMA_VERSION,
      queryType,
      ...plugin.DEFAULT_OPTIONS[queryType],
    } as AgogQuery;
    const bodies = buildQueryBodies(queryRequest([query]), templateSrv);
    // A query detail has no fingerprint yet, so the plugin holds it back rather than send what the service refuses.
    for (const body of bodies) {
      expect(contract.queryRequest.safeParse(body).error).toBeUndefined();
      body.queries.forEach((wire) => expect(contract.query.safeParse(wire).error).toBeUndefined());
    }
    expect(bodies.length).toBe(queryType === 'queryDetail' ? 0 : 1);
  });

  it('a tenant picked with a variable, as an admin sends it', () => {
    const [body] = buildQueryBodies(queryRequest([{ ...EVERY_QUERY[0], tenantId: '$tenant' }]), templateSrv);
    expect(contract.queryRequest.safeParse(body).error).toBeUndefined();
  });
});

// ---- type-level checks, run by `npm run typecheck` ----

type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const assertType = <T extends true>(): T => true as T;

export const typeChecks = [
  assertType<Same<plugin.QueryType, contract.QueryType>>(),
  assertType<Same<plugin.WireQuery, contract.Query>>(),
  assertType<Same<plugin.WhoAmI, contract.WhoAmI>>(),
  assertType<Same<plugin.QueryResponseBody, contract.QueryResponse>>(),
  assertType<Same<plugin.ErrorBody, contract.ApiErrorBody>>(),
  assertType<Same<plugin.WireFrame, contract.DataFrameJSON>>(),
  assertType<Same<plugin.QueryRequestBody, contract.QueryRequest>>(),
];

it('type checks compile to true', () => {
  expect(typeChecks.every(Boolean)).toBe(true);
});
