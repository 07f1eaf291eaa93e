// The HTTP server: framework set-up, body handling and the error shape. Routes live in
// src/http/*Routes.ts; wiring in src/service.ts.
import Fastify, { type FastifyInstance } from 'fastify';
import { ApiError, errorBody } from './http/errors';
import { isPoolExhausted } from './db/pool';
import { isConnectionError } from './ingest/groupCommit';

/**
 * The body limit of a route that sets none (the query API's, 404s). Ingest routes set
 * their own (INGEST_BODY_LIMIT_BYTES), so a 10 MB body is read only where one is expected.
 */
export const DEFAULT_BODY_LIMIT_BYTES = 256 * 1024;

export function createHttpServer({ bodyLimitBytes = DEFAULT_BODY_LIMIT_BYTES, log = () => undefined }: { bodyLimitBytes?: number; log?: (line: string) => void }): FastifyInstance {
  // return503OnClosing is off: requests arriving during shutdown get the service's own 503
  // (error shape, Retry-After, Connection: close) from the hook in service.ts.
  const app = Fastify({ logger: false, bodyLimit: bodyLimitBytes, forceCloseConnections: 'idle', return503OnClosing: false });
  // Bodies arrive as raw bytes; each route decodes (gzip) and parses them itself, so a
  // bad body always gets our error shape and gzip bodies are size-capped after inflation.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, body, done) => done(null, body));

  app.setErrorHandler((err, request, reply) => {
    if (err instanceof ApiError) {
      if (err.retryAfterSeconds) reply.header('Retry-After', String(err.retryAfterSeconds));
      return reply.code(err.status).send(errorBody(err.code, err.message, err.details));
    }
    if (isPoolExhausted(err)) {
      return reply.code(503).header('Retry-After', '1')
        .send(errorBody('database_busy', 'every database connection for this kind of request stayed busy; nothing was done, retry shortly'));
    }
    // PostgreSQL unreachable outside the ingest queue (a token lookup, a query): the
    // client should come back later, as ingest's own refusals say.
    if (isConnectionError(err)) {
      return reply.code(503).header('Retry-After', '2')
        .send(errorBody('database_unavailable', 'PostgreSQL is unreachable; nothing was done, retry later'));
    }
    const code = (err as { code?: string }).code;
    const status = (err as { statusCode?: number }).statusCode;
    if (code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
      const limit = request.routeOptions?.bodyLimit ?? bodyLimitBytes;
      // The rest of the body is not read: close the connection rather than drain it.
      reply.header('connection', 'close');
      return reply.code(413).send(errorBody('payload_too_large', `the body exceeds the limit of ${limit} bytes for ${request.method} ${request.url.split('?')[0]}`, { field: '(body)' }));
    }
    if (status && status >= 400 && status < 500) {
      return reply.code(status).send(errorBody('bad_request', (err as Error).message));
    }
    // The method, path and error only: bodies and headers (tokens) stay out of the log.
    log(`internal error on ${request.method} ${request.url.split('?')[0]}: ${(err as Error).stack ?? String(err)}`);
    return reply.code(500).send(errorBody('internal_error', 'the service failed to handle the request; it has been logged'));
  });
  app.setNotFoundHandler((request, reply) => {
    reply.code(404).send(errorBody('not_found', `no route ${request.method} ${request.url.split('?')[0]}`));
  });
  return app;
}
