/**
 * Turns failures into messages that say what to do. The service answers errors
 * as `{ error: { code, message, details } }` (service/src/contract/query.ts);
 * Grafana's data proxy answers 502 when it cannot reach the service.
 */
import { isFetchError } from '@grafana/runtime';

import { tr } from './i18n';
import { ErrorBody, ServiceError } from './types';

export interface DescribedError {
  status?: number;
  message: string;
}

function serviceError(data: unknown): ServiceError | undefined {
  const error = (data as Partial<ErrorBody> | undefined)?.error;
  return error && typeof error.message === 'string' ? error : undefined;
}

/**
 * Grafana's data proxy answers a data source's 401 as 400 with this text
 * (pkg/api/pluginproxy), so that the user is not signed out of Grafana.
 */
const PROXY_AUTHENTICATION_FAILED = 'Authentication to data source failed';

function proxyAuthenticationFailed(data: unknown): boolean {
  return typeof data === 'string' && data.includes(PROXY_AUTHENTICATION_FAILED);
}

function mentionsAdmin(error: ServiceError | undefined): boolean {
  return /admin/i.test(`${error?.code ?? ''} ${error?.message ?? ''}`);
}

export function describeError(err: unknown, serviceUrl: string): DescribedError {
  if (!isFetchError(err)) {
    const message = err instanceof Error ? err.message : String(err);
    return { message: tr('errors.unknown', { message }) };
  }
  const status = err.status;
  const body = serviceError(err.data);
  const url = serviceUrl || '?';
  switch (true) {
    case status === 401 || (status === 400 && !body && proxyAuthenticationFailed(err.data)):
      return { status, message: tr('errors.unauthorized') };
    case status === 403:
      return {
        status,
        message: mentionsAdmin(body) ? tr('errors.forbiddenAdmin', { message: body?.message }) : tr('errors.forbidden'),
      };
    case status === 400:
      return { status, message: tr('errors.badRequest', { message: body?.message ?? err.statusText ?? '' }) };
    case status === 404:
      return { status, message: tr('errors.notFound', { url }) };
    case status === 502 || status === 504 || !status || (status === 503 && !body):
      return { status, message: tr('errors.unreachable', { url }) };
    default:
      return {
        status,
        message: tr('errors.server', { status, message: body?.message ?? err.statusText ?? '' }),
      };
  }
}

/** An error reported inside a 200 answer, for one query. */
export function describeResultError(error: ServiceError): string {
  return tr('errors.badRequest', { message: error.message });
}
