// Bodies are read only after the token is checked, and each route reads at most its own
// limit: a request is answered while its body is still being sent.
import http from 'node:http';
import type { RunningService } from '../src/service';
import { createTestDatabase, type TestDatabase } from './support/db';
import { startTestService, tokenFor } from './support/service';

const TENANT = 'efefefef-efef-4fef-8fef-efefefefefef';

/**
 * Sends the headers and the first 64 KiB of a body announced as `announcedBytes`, and
 * resolves with the answer, which must come before the rest of the body (never sent).
 */
function answerBeforeBody(url: string, path: string, headers: Record<string, string>, announcedBytes: number): Promise<{ status: number; body: any }> {
  return new Promise((resolve, reject) => {
    const target = new URL(path, url);
    const request = http.request(target, { method: 'POST', headers: { 'content-type': 'application/json', 'content-length': String(announcedBytes), ...headers } });
    request.on('response', (response) => {
      let text = '';
      response.setEncoding('utf8');
      response.on('data', (chunk) => (text += chunk));
      response.on('end', () => {
        request.destroy();
        resolve({ status: response.statusCode!, body: JSON.parse(text) });
      });
    });
    request.on('error', (err) => {
      // The server may close the connection after answering; the answer came first.
      if ((err as { code?: string }).code !== 'ECONNRESET' && (err as { code?: string }).code !== 'EPIPE') reject(err);
    });
    request.write(Buffer.alloc(64 * 1024, 0x20));
  });
}

describe('body limits per route, after authentication', () => {
  let db: TestDatabase;
  let service: RunningService;
  let url: string;
  let ingest: string;
  let read: string;

  beforeAll(async () => {
    db = await createTestDatabase('body_limits');
    ({ service, url } = await startTestService(db, { INGEST_BODY_LIMIT_BYTES: String(8 * 1024 * 1024) }));
    ingest = await tokenFor(db, TENANT, ['ingest']);
    read = await tokenFor(db, TENANT, ['read']);
  });
  afterAll(async () => {
    await service.stop();
    await db.drop();
  });

  it.each(['/v1/ingest/api-requests', '/v1/query'])('answers 401 on %s without reading a body of 4 MiB', async (path) => {
    const answer = await answerBeforeBody(url, path, {}, 4 * 1024 * 1024);
    expect(answer.status).toBe(401);
    expect(answer.body.error.code).toBe('unauthorized');
  });

  it('answers 403 for a token without the ingest scope before reading the body', async () => {
    const answer = await answerBeforeBody(url, '/v1/ingest/queries', { authorization: `Bearer ${read}` }, 4 * 1024 * 1024);
    expect(answer.status).toBe(403);
  });

  it("answers 413 on /v1/query for a body over the query API's 256 KiB, without reading it, even with a valid token", async () => {
    const answer = await answerBeforeBody(url, '/v1/query', { authorization: `Bearer ${read}` }, 4 * 1024 * 1024);
    expect(answer.status).toBe(413);
    expect(answer.body.error).toMatchObject({ code: 'payload_too_large', details: { field: '(body)' } });
    expect(answer.body.error.message).toContain(String(256 * 1024));
  });

  it('answers 413 on ingest for a body over INGEST_BODY_LIMIT_BYTES, naming that limit', async () => {
    const answer = await answerBeforeBody(url, '/v1/ingest/api-requests', { authorization: `Bearer ${ingest}` }, 9 * 1024 * 1024);
    expect(answer.status).toBe(413);
    expect(answer.body.error.message).toContain(String(8 * 1024 * 1024));
  });

  it('still accepts an ingest body between the query limit and the ingest limit', async () => {
    const records = Array.from({ length: 4000 }, (_, i) => ({ timestamp: new Date().toISOString(), endpoint: `/limits/${i}`, method: 'GET', statusCode: 200, responseTimeMs: 3 }));
    const body = JSON.stringify(records);
    expect(body.length).toBeGreaterThan(256 * 1024);
    const res = await fetch(`${url}/v1/ingest/api-requests`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${ingest}` }, body });
    expect(res.status).toBe(200);
  });
});
