import {
  AnnotationQuery,
  CoreApp,
  DataQueryError,
  DataQueryRequest,
  DataQueryResponse,
  DataSourceApi,
  DataSourceInstanceSettings,
  ScopedVars,
  TestDataSourceResponse,
} from '@grafana/data';
import { BackendSrvRequest, getBackendSrv, getTemplateSrv, TemplateSrv } from '@grafana/runtime';
import { lastValueFrom } from 'rxjs';

import { AnnotationQueryEditor } from './components/AnnotationQueryEditor';
import { describeError } from './errors';
import { convertResponse } from './frames';
import { tr } from './i18n';
import { migrateQuery, toAnnotationQuery } from './migrate';
import { buildQueryBodies } from './request';
import {
  AgogDataSourceOptions,
  AgogQuery,
  DEFAULT_OPTIONS,
  DEFAULT_QUERY,
  SERVICE_ROUTES,
  ServiceRoute,
  QUERY_SCHEMA_VERSION,
  QueryRequestBody,
  QueryResponseBody,
  WhoAmI,
} from './types';
import { isRunnable } from './validate';
import { AgogVariableSupport } from './variables';

/** The seed's rule: the cache is stale when it is older than 10 minutes. */
export const CACHE_STALE_AFTER_SECONDS = 600;

export class DataSource extends DataSourceApi<AgogQuery, AgogDataSourceOptions> {
  readonly serviceUrl: string;
  private readonly proxyBase: string;
  private readonly templateSrv: TemplateSrv;

  constructor(instanceSettings: DataSourceInstanceSettings<AgogDataSourceOptions>, templateSrv?: TemplateSrv) {
    super(instanceSettings);
    this.serviceUrl = instanceSettings.jsonData?.serviceUrl ?? '';
    this.proxyBase = instanceSettings.url ?? '';
    this.templateSrv = templateSrv ?? getTemplateSrv();
    this.variables = new AgogVariableSupport(this);
    this.annotations = {
      QueryEditor: AnnotationQueryEditor,
      getDefaultQuery: () => ({
        ...DEFAULT_OPTIONS.annotations,
        queryType: 'annotations',
        schemaVersion: QUERY_SCHEMA_VERSION,
      }),
      prepareAnnotation: (json: AnnotationQuery<AgogQuery>) => ({ ...json, target: toAnnotationQuery(json.target) }),
    };
  }

  getDefaultQuery(_app: CoreApp): Partial<AgogQuery> {
    return DEFAULT_QUERY;
  }

  filterQuery(query: AgogQuery): boolean {
    return !query.hide && isRunnable(migrateQuery(query));
  }

  interpolateVariablesInQueries(queries: AgogQuery[], scopedVars: ScopedVars): AgogQuery[] {
    const replace = (value?: string) => (value === undefined ? undefined : this.templateSrv.replace(value, scopedVars));
    return queries.map((query) => ({
      ...query,
      endpoint: replace(query.endpoint),
      queryHash: replace(query.queryHash),
      resourceSource: replace(query.resourceSource),
      tenantId: replace(query.tenantId),
    }));
  }

  async query(request: DataQueryRequest<AgogQuery>): Promise<DataQueryResponse> {
    const bodies = buildQueryBodies(request, this.templateSrv);
    const answers = await Promise.all(
      bodies.map((body, index) =>
        this.runBody(body, bodies.length > 1 ? `${request.requestId}-${index}` : request.requestId)
      )
    );
    const errors = answers.flatMap((answer) => answer.errors);
    return {
      data: answers.flatMap((answer) => answer.data),
      ...(errors.length > 0 ? { errors } : {}),
    };
  }

  private async runBody(
    body: QueryRequestBody,
    requestId: string
  ): Promise<DataQueryResponse & { errors: DataQueryError[] }> {
    try {
      const answer = await this.fetch<QueryResponseBody>('query', { data: body, requestId });
      return convertResponse(answer, body.queries);
    } catch (err) {
      const { status, message } = describeError(err, this.serviceUrl);
      return { data: [], errors: body.queries.map(({ refId }) => ({ refId, message, status })) };
    }
  }

  /** Which tenant and scopes the configured token has, and how fresh the cache is. */
  async whoAmI(): Promise<WhoAmI> {
    return this.fetch<WhoAmI>('whoami');
  }

  /** One call through the data proxy route of that name (SERVICE_ROUTES, plugin.json). */
  private async fetch<T>(route: ServiceRoute, options: Omit<BackendSrvRequest, 'url' | 'method'> = {}): Promise<T> {
    const { method, path } = SERVICE_ROUTES[route];
    const response = await lastValueFrom(
      getBackendSrv().fetch<T>({ ...options, method, url: `${this.proxyBase}/${path}`, showErrorAlert: false })
    );
    return response.data;
  }

  async testDatasource(): Promise<TestDataSourceResponse> {
    if (!this.serviceUrl) {
      return { status: 'error', message: tr('testDatasource.noUrl') };
    }
    try {
      await this.fetch('health');
    } catch (err) {
      return { status: 'error', message: describeError(err, this.serviceUrl).message };
    }
    let whoami: WhoAmI;
    try {
      whoami = await this.whoAmI();
    } catch (err) {
      return { status: 'error', message: describeError(err, this.serviceUrl).message };
    }
    if (!whoami.admin && !whoami.scopes.includes('read')) {
      return { status: 'error', message: tr('errors.forbidden') };
    }
    const connected = whoami.admin
      ? tr('testDatasource.connectedAdmin', { url: this.serviceUrl })
      : tr('testDatasource.connected', { url: this.serviceUrl, tenant: whoami.tenantId ?? '?' });
    const { lastUpdated, stalenessSeconds } = whoami.cache;
    if (lastUpdated === null || stalenessSeconds === null) {
      return { status: 'warning', message: `${connected} ${tr('testDatasource.cacheEmpty')}` };
    }
    const age = formatAge(stalenessSeconds);
    if (stalenessSeconds > CACHE_STALE_AFTER_SECONDS) {
      return { status: 'warning', message: `${connected} ${tr('testDatasource.cacheStale', { age })}` };
    }
    return { status: 'success', message: `${connected} ${tr('testDatasource.cacheFresh', { age })}` };
  }
}

/** "45 s", "12 min", "3 h", "2 d": short, and the same in every language. */
export function formatAge(seconds: number): string {
  if (seconds < 60) {
    return `${Math.max(0, Math.round(seconds))} s`;
  }
  if (seconds < 3600) {
    return `${Math.round(seconds / 60)} min`;
  }
  if (seconds < 86400) {
    return `${Math.round(seconds / 3600)} h`;
  }
  return `${Math.round(seconds / 86400)} d`;
}
