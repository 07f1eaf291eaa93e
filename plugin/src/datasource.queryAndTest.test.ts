import { DataSourceInstanceSettings } from '@grafana/data';
import { BackendSrvRequest } from '@grafana/runtime';
import { lastValueFrom, of, throwError } from 'rxjs';

import { DataSource, formatAge } from './datasource';
import pluginJson from './plugin.json';
import { matchRoute, PluginRoute } from './testing/dataProxy';
import { fakeTemplateSrv, queryRequest, RANGE_FROM, RANGE_TO } from './testing/fakes';
import { AgogDataSourceOptions, AgogQuery, QUERY_SCHEMA_VERSION, QueryResponseBody, WhoAmI } from './types';

const fetchMock = jest.fn();

jest.mock('@grafana/runtime', () => ({
  ...jest.requireActual('@grafana/runtime'),
  getBackendSrv: () => ({ fetch: fetchMock }),
}));

const SERVICE_URL = 'http://service:8080';
const TENANT = '7c9e6679-7425-40de-944b-e07fc1f90ae7';

function settings(jsonData: AgogDataSourceOptions = { serviceUrl: SERVICE_URL }) {
  return {
    id: 1,
    uid: 'agog',
    type: 'agog-performance-datasource',
    name: 'AGOG',
    url: '/api/datasources/proxy/uid/agog',
    jsonData,
    meta: {},
    readOnly: false,
    access: 'proxy',
  } as unknown as DataSourceInstanceSettings<AgogDataSourceOptions>;
}

function answer(data: unknown) {
  return of({ data, status: 200, ok: true });
}

function failure(status: number, data: unknown = {}) {
  return throwError(() => ({ status, data, statusText: '', config: {} }));
}

/** Answers by URL suffix, like the service behind the data proxy. */
function serviceAnswers(routes: Record<string, () => ReturnType<typeof answer>>) {
  fetchMock.mockImplementation((options: BackendSrvRequest) => {
    const match = Object.keys(routes).find((suffix) => options.url.endsWith(suffix));
    return match ? routes[match]() : failure(404);
  });
}

function whoami(overrides: Partial<WhoAmI> = {}): WhoAmI {
  return {
    tenantId: TENANT,
    admin: false,
    scopes: ['read'],
    cache: { lastUpdated: '2026-03-01T00:00:00Z', stalenessSeconds: 120 },
    ...overrides,
  };
}

const q = (fields: Partial<AgogQuery> & Pick<AgogQuery, 'queryType'>): AgogQuery => ({
  refId: 'A',
  schemaVersion: QUERY_SCHEMA_VERSION,
  ...fields,
});

beforeEach(() => fetchMock.mockReset());

describe('DataSource.query', () => {
  const ds = new DataSource(settings(), fakeTemplateSrv({ endpoint: '/api/orders' }));

  it('posts the typed queries to the service through the data proxy route', async () => {
    const body: QueryResponseBody = {
      results: {
        A: {
          frames: [
            {
              schema: {
                fields: [
                  { name: 'time', type: 'time', config: {} },
                  { name: 'p95', type: 'number', config: {} },
                ],
              },
              data: { values: [[RANGE_FROM], [42]] },
            },
          ],
        },
      },
    };
    fetchMock.mockReturnValue(answer(body));

    const response = await ds.query(
      queryRequest([q({ queryType: 'latencyPercentiles', endpoint: '$endpoint', percentiles: [95] })])
    );

    expect(fetchMock).toHaveBeenCalledTimes(1);
    const sent = fetchMock.mock.calls[0][0] as BackendSrvRequest;
    expect(sent).toMatchObject({
      method: 'POST',
      url: '/api/datasources/proxy/uid/agog/service/v1/query',
      requestId: 'req-1',
    });
    expect(sent.data).toEqual({
      range: { from: RANGE_FROM, to: RANGE_TO },
      maxDataPoints: 1000,
      intervalMs: 120_000,
      queries: [{ refId: 'A', queryType: 'latencyPercentiles', endpoint: '/api/orders', percentiles: [95] }],
    });
    expect(response.data).toHaveLength(1);
    expect(response.data[0].refId).toBe('A');
    expect(response.data[0].fields[1].config.unit).toBe('ms');
    expect(response.errors).toBeUndefined();
  });

  it('sends nothing when no query is runnable', async () => {
    const response = await ds.query(queryRequest([q({ queryType: 'queryDetail' })]));
    expect(fetchMock).not.toHaveBeenCalled();
    expect(response.data).toEqual([]);
  });

  it('maps an HTTP failure to a message on every query of the request', async () => {
    fetchMock.mockReturnValue(failure(401, { error: { code: 'unauthorized', message: 'no token' } }));
    const response = await ds.query(
      queryRequest([q({ refId: 'A', queryType: 'overview' }), q({ refId: 'B', queryType: 'storage' })])
    );
    expect(response.errors?.map((error) => [error.refId, error.status])).toEqual([
      ['A', 401],
      ['B', 401],
    ]);
    expect(response.errors?.[0].message).toMatch(/API token is missing or invalid/);
  });

  it('keeps the frames of one tenant when another tenant fails', async () => {
    const other = '0f8fad5b-d9cb-469f-a165-70867728950e';
    fetchMock.mockImplementation((options: BackendSrvRequest) =>
      options.data.tenantId === other
        ? failure(403, { error: { code: 'forbidden', message: 'tenantId needs an admin token' } })
        : answer({ results: { A: { frames: [{ schema: { fields: [] }, data: { values: [] } }] } } })
    );
    const response = await ds.query(
      queryRequest([
        q({ refId: 'A', queryType: 'overview' }),
        q({ refId: 'B', queryType: 'overview', tenantId: other }),
      ])
    );
    expect(fetchMock).toHaveBeenCalledTimes(2);
    expect(response.data.map((frame) => frame.refId)).toEqual(['A']);
    expect(response.errors).toEqual([
      { refId: 'B', status: 403, message: 'This needs an admin token: tenantId needs an admin token' },
    ]);
  });

  it('runs saved queries with migrated shapes but skips hidden ones in filterQuery', () => {
    expect(ds.filterQuery({ refId: 'A' } as AgogQuery)).toBe(true);
    expect(ds.filterQuery(q({ queryType: 'overview', hide: true }))).toBe(false);
    expect(ds.filterQuery(q({ queryType: 'slowQueries', limit: 0 }))).toBe(false);
  });

  it('offers a health series as the default query of a new panel', () => {
    expect(ds.getDefaultQuery('dashboard' as never)).toEqual({
      queryType: 'healthSeries',
      schemaVersion: QUERY_SCHEMA_VERSION,
    });
  });

  it('interpolates variables for Explore and query inspection', () => {
    const [interpolated] = ds.interpolateVariablesInQueries(
      [q({ queryType: 'throughput', endpoint: '$endpoint' })],
      {}
    );
    expect(interpolated.endpoint).toBe('/api/orders');
  });
});

describe('DataSource.testDatasource', () => {
  it('asks for the service URL when none is set', async () => {
    const ds = new DataSource(settings({}), fakeTemplateSrv());
    const result = await ds.testDatasource();
    expect(result).toEqual({ status: 'error', message: expect.stringMatching(/^Set the service URL/) });
    expect(fetchMock).not.toHaveBeenCalled();
  });

  it('reports the service unreachable at its URL', async () => {
    serviceAnswers({ '/health': () => failure(502, 'Bad Gateway') });
    const result = await new DataSource(settings(), fakeTemplateSrv()).testDatasource();
    expect(result.status).toBe('error');
    expect(result.message).toBe(
      'Service unreachable at http://service:8080: check the service URL and that the service is running.'
    );
  });

  it('reports an invalid token', async () => {
    serviceAnswers({ '/health': () => answer({ status: 'ok' }), '/v1/whoami': () => failure(401) });
    const result = await new DataSource(settings(), fakeTemplateSrv()).testDatasource();
    expect(result).toMatchObject({ status: 'error', message: expect.stringMatching(/token is missing or invalid/) });
  });

  it('reports a token that lacks the read scope', async () => {
    serviceAnswers({ '/health': () => answer({}), '/v1/whoami': () => answer(whoami({ scopes: ['ingest'] })) });
    const result = await new DataSource(settings(), fakeTemplateSrv()).testDatasource();
    expect(result).toMatchObject({
      status: 'error',
      message: expect.stringMatching(/^The token lacks the read scope/),
    });
  });

  it('succeeds with the tenant and the age of a fresh cache', async () => {
    serviceAnswers({ '/health': () => answer({}), '/v1/whoami': () => answer(whoami()) });
    const result = await new DataSource(settings(), fakeTemplateSrv()).testDatasource();
    expect(result).toEqual({
      status: 'success',
      message: `Connected to the service at ${SERVICE_URL} as tenant ${TENANT}. The cache was updated 2 min ago.`,
    });
  });

  it('warns about a cache older than 10 minutes and says what to do', async () => {
    const stale = whoami({ cache: { lastUpdated: '2026-03-01T00:00:00Z', stalenessSeconds: 3 * 3600 } });
    serviceAnswers({ '/health': () => answer({}), '/v1/whoami': () => answer(stale) });
    const result = await new DataSource(settings(), fakeTemplateSrv()).testDatasource();
    expect(result.status).toBe('warning');
    expect(result.message).toContain('The cache is stale: last updated 3 h ago');
    expect(result.message).toContain('npx agog-perf refresh');
  });

  it('warns about an empty cache and accepts an admin token', async () => {
    const admin = whoami({
      tenantId: null,
      admin: true,
      scopes: ['admin'],
      cache: { lastUpdated: null, stalenessSeconds: null },
    });
    serviceAnswers({ '/health': () => answer({}), '/v1/whoami': () => answer(admin) });
    const result = await new DataSource(settings(), fakeTemplateSrv()).testDatasource();
    expect(result.status).toBe('warning');
    expect(result.message).toMatch(/with an admin token \(all tenants\)\. The cache is empty/);
  });
});

describe('the calls through the data proxy', () => {
  it('each go to exactly one route of plugin.json, with that route\'s method', async () => {
    serviceAnswers({
      '/health': () => answer({}),
      '/v1/whoami': () => answer(whoami()),
      '/v1/query': () => answer({ results: {} }),
    });
    const ds = new DataSource(settings(), fakeTemplateSrv());
    await ds.testDatasource();
    await ds.query(queryRequest([q({ queryType: 'overview' })]));
    const routes = (pluginJson as { routes: PluginRoute[] }).routes;
    const calls = fetchMock.mock.calls.map(([options]: [BackendSrvRequest]) => [options.method ?? '', options.url] as const);
    expect(calls).toEqual([
      ['GET', '/api/datasources/proxy/uid/agog/service/health'],
      ['GET', '/api/datasources/proxy/uid/agog/service/v1/whoami'],
      ['POST', '/api/datasources/proxy/uid/agog/service/v1/query'],
    ]);
    for (const [method, url] of calls) {
      const proxyPath = url.slice('/api/datasources/proxy/uid/agog/'.length);
      expect(matchRoute(routes, method, proxyPath)?.path).toBe(proxyPath);
    }
  });
});

describe('variables and annotations', () => {
  const ds = new DataSource(settings(), fakeTemplateSrv());

  it('runs a variable query saved as a plain string as a variable query', async () => {
    fetchMock.mockReturnValue(
      answer({
        results: {
          variable: {
            frames: [
              {
                schema: {
                  fields: [
                    { name: 'text', type: 'string', config: {} },
                    { name: 'value', type: 'string', config: {} },
                  ],
                },
                data: { values: [['/api/orders'], ['/api/orders']] },
              },
            ],
          },
        },
      })
    );
    const variables = ds.variables as unknown as {
      query: (r: unknown) => import('rxjs').Observable<{ data: unknown[] }>;
    };
    const response = await lastValueFrom(variables.query(queryRequest(['fingerprints' as unknown as AgogQuery])));
    expect(fetchMock.mock.calls[0][0].data.queries).toEqual([
      { refId: 'variable', queryType: 'variable', variable: 'fingerprints' },
    ]);
    expect(response.data).toHaveLength(1);
  });

  it('prepares a saved annotation by migrating its target', () => {
    const prepared = ds.annotations!.prepareAnnotation!({
      name: 'Advice',
      enable: true,
      iconColor: 'red',
      target: { source: 'healthThresholds' },
    } as never);
    expect(prepared.target).toEqual({
      refId: 'Anno',
      queryType: 'annotations',
      source: 'healthThresholds',
      schemaVersion: QUERY_SCHEMA_VERSION,
    });
  });

  it('starts a new annotation on recommendations', () => {
    expect(ds.annotations!.getDefaultQuery!()).toEqual({
      queryType: 'annotations',
      source: 'recommendations',
      schemaVersion: QUERY_SCHEMA_VERSION,
    });
  });
});

describe('formatAge', () => {
  it.each([
    [5, '5 s'],
    [600, '10 min'],
    [7200, '2 h'],
    [172800, '2 d'],
  ])('shows %d seconds as %s', (seconds, shown) => {
    expect(formatAge(seconds)).toBe(shown);
  });
});
