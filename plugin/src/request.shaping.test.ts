import { buildQueryBodies, chooseStepMs, MAX_STEP_MS, toWireQuery } from './request';
import { fakeTemplateSrv, queryRequest, RANGE_FROM, RANGE_TO } from './testing/fakes';
import { AgogQuery, QUERY_SCHEMA_VERSION } from './types';

const HOUR = 3_600_000;

function query(fields: Partial<AgogQuery> & Pick<AgogQuery, 'queryType'>): AgogQuery {
  return { refId: 'A', schemaVersion: QUERY_SCHEMA_VERSION, ...fields };
}

describe('chooseStepMs', () => {
  it('uses the interval when the range fits maxDataPoints at that interval', () => {
    expect(chooseStepMs(24 * HOUR, 60_000, 1440)).toBe(60_000);
  });

  it('widens the step so a long range yields no more than maxDataPoints', () => {
    const step = chooseStepMs(30 * 24 * HOUR, 60_000, 500);
    expect((30 * 24 * HOUR) / step).toBeLessThanOrEqual(500);
    expect(step).toBe(2 * HOUR);
  });

  it('rounds up to a step a person reads easily', () => {
    expect(chooseStepMs(HOUR, 47_000, undefined)).toBe(60_000);
  });

  it('never goes below one second or above the service limit', () => {
    expect(chooseStepMs(10_000, 1, 100_000)).toBe(1000);
    expect(chooseStepMs(400 * 24 * HOUR, 60_000, 2)).toBe(MAX_STEP_MS);
  });
});

describe('toWireQuery', () => {
  const templateSrv = fakeTemplateSrv({
    endpoint: '/api/orders',
    fingerprint: '0123456789abcdef',
    several: ['/a', '/b'],
  });

  it('sends only the options of the query type', () => {
    const saved = query({ queryType: 'throughput', endpoint: '/api/x', limit: 5, percentiles: [50] });
    expect(toWireQuery(saved, templateSrv, {})).toEqual({ refId: 'A', queryType: 'throughput', endpoint: '/api/x' });
  });

  it('interpolates template variables in text options', () => {
    const saved = query({ queryType: 'slowQueries', endpoint: '$endpoint', orderBy: 'p95', limit: 20 });
    expect(toWireQuery(saved, templateSrv, {})).toEqual({
      refId: 'A',
      queryType: 'slowQueries',
      endpoint: '/api/orders',
      orderBy: 'p95',
      limit: 20,
    });
  });

  it('prefers a repeated panel scoped variable over the dashboard value', () => {
    const saved = query({ queryType: 'queryDetail', queryHash: '${fingerprint}' });
    const scoped = { fingerprint: { text: 'x', value: 'fedcba9876543210' } };
    expect(toWireQuery(saved, templateSrv, scoped)).toMatchObject({ queryHash: 'fedcba9876543210' });
  });

  it('drops a filter whose variable has several values selected', () => {
    const saved = query({ queryType: 'throughput', endpoint: '$several' });
    expect(toWireQuery(saved, templateSrv, {})).toEqual({ refId: 'A', queryType: 'throughput' });
  });

  it('sends the saved endpointOrderBy and resourceSource under the service names', () => {
    expect(toWireQuery(query({ queryType: 'endpoints', endpointOrderBy: 'rps', limit: 3 }), templateSrv, {})).toEqual({
      refId: 'A',
      queryType: 'endpoints',
      orderBy: 'rps',
      limit: 3,
    });
    expect(toWireQuery(query({ queryType: 'resources', resourceSource: 'db-1' }), templateSrv, {})).toEqual({
      refId: 'A',
      queryType: 'resources',
      source: 'db-1',
    });
  });

  it('leaves out empty text options', () => {
    expect(toWireQuery(query({ queryType: 'throughput', endpoint: '  ' }), templateSrv, {})).toEqual({
      refId: 'A',
      queryType: 'throughput',
    });
  });
});

describe('buildQueryBodies', () => {
  const tenantA = '7c9e6679-7425-40de-944b-e07fc1f90ae7';
  const tenantB = '0f8fad5b-d9cb-469f-a165-70867728950e';
  const templateSrv = fakeTemplateSrv({ tenant: tenantB });

  it('sends the dashboard range as epoch milliseconds with maxDataPoints and the chosen step', () => {
    const bodies = buildQueryBodies(queryRequest([query({ queryType: 'healthSeries' })]), templateSrv);
    expect(bodies).toEqual([
      {
        range: { from: RANGE_FROM, to: RANGE_TO },
        maxDataPoints: 1000,
        intervalMs: 120_000,
        queries: [{ refId: 'A', queryType: 'healthSeries' }],
      },
    ]);
  });

  it('skips hidden queries and queries that fail validation', () => {
    const bodies = buildQueryBodies(
      queryRequest([
        query({ refId: 'A', queryType: 'overview' }),
        query({ refId: 'B', queryType: 'overview', hide: true }),
        query({ refId: 'C', queryType: 'queryDetail' }),
        query({ refId: 'D', queryType: 'slowQueries', limit: 500 }),
      ]),
      templateSrv
    );
    expect(bodies.flatMap((body) => body.queries.map((q) => q.refId))).toEqual(['A']);
  });

  it('migrates saved queries of older shapes before sending them', () => {
    const legacy = { refId: 'A', queryType: 'slowQueries' } as AgogQuery;
    const [body] = buildQueryBodies(queryRequest([legacy]), templateSrv);
    expect(body.queries).toEqual([{ refId: 'A', queryType: 'slowQueries', orderBy: 'total', limit: 10 }]);
  });

  it('sends one body per tenant, interpolating the tenant variable', () => {
    const bodies = buildQueryBodies(
      queryRequest([
        query({ refId: 'A', queryType: 'overview', tenantId: tenantA }),
        query({ refId: 'B', queryType: 'overview', tenantId: '$tenant' }),
        query({ refId: 'C', queryType: 'storage' }),
      ]),
      templateSrv
    );
    expect(bodies.map((body) => [body.tenantId, body.queries.map((q) => q.refId)])).toEqual([
      [tenantA, ['A']],
      [tenantB, ['B']],
      [undefined, ['C']],
    ]);
  });

  it('splits more than 50 queries over several bodies', () => {
    const targets = Array.from({ length: 51 }, (_, i) => query({ refId: `Q${i}`, queryType: 'overview' }));
    expect(buildQueryBodies(queryRequest(targets), templateSrv).map((body) => body.queries.length)).toEqual([50, 1]);
  });
});
