import { describeError } from './errors';

const URL = 'http://service:8080';

function fetchError(status: number, data: unknown = {}, statusText = '') {
  return { status, data, statusText, config: { url: '/x' } };
}

describe('describeError', () => {
  it('tells the user to set a valid token on 401', () => {
    expect(describeError(fetchError(401, { error: { code: 'unauthorized', message: 'bad token' } }), URL)).toEqual({
      status: 401,
      message: 'The API token is missing or invalid: set a valid token in the data source settings.',
    });
  });

  it("tells the user to set a valid token when Grafana's data proxy turned the service's 401 into 400", () => {
    // pkg/api/pluginproxy answers a data source's 401 as 400 with this text body.
    expect(describeError(fetchError(400, 'Authentication to data source failed', 'Bad Request'), URL)).toEqual({
      status: 400,
      message: 'The API token is missing or invalid: set a valid token in the data source settings.',
    });
  });

  it('says the token lacks the read scope on 403', () => {
    const described = describeError(
      fetchError(403, { error: { code: 'forbidden', message: 'scope read required' } }),
      URL
    );
    expect(described.message).toMatch(/^The token lacks the read scope/);
  });

  it('says an admin token is needed when the service asks for one', () => {
    const body = { error: { code: 'forbidden', message: 'tenantId needs an admin token' } };
    expect(describeError(fetchError(403, body), URL).message).toBe(
      'This needs an admin token: tenantId needs an admin token'
    );
  });

  it("passes the service's reason on for a rejected query", () => {
    const body = { error: { code: 'bad_request', message: 'range is longer than 400 days', details: {} } };
    expect(describeError(fetchError(400, body), URL).message).toBe(
      'The service rejected the query: range is longer than 400 days'
    );
  });

  it('names the service URL when the data proxy cannot reach the service', () => {
    expect(describeError(fetchError(502, 'Bad Gateway', 'Bad Gateway'), URL).message).toBe(
      'Service unreachable at http://service:8080: check the service URL and that the service is running.'
    );
  });

  it('treats a request that never got a status as unreachable', () => {
    expect(describeError(fetchError(0), URL).message).toMatch(/^Service unreachable at http:\/\/service:8080/);
  });

  it('says the URL points elsewhere on 404', () => {
    expect(describeError(fetchError(404), URL).message).toMatch(/has no such API/);
  });

  it("reports the service's own message for a server error", () => {
    const body = { error: { code: 'overloaded', message: 'ingest buffer full' } };
    expect(describeError(fetchError(503, body), URL).message).toBe('The service failed (503): ingest buffer full');
  });

  it('reports errors that are not HTTP errors by their message', () => {
    expect(describeError(new Error('boom'), URL).message).toBe('The request failed: boom');
  });
});
