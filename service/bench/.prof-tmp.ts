// Scratch: alternate one panel request between implementations (PROF_DIRS), in process.
import http from 'node:http';
const K = process.env.K!;
const DIRS = (process.env.PROF_DIRS ?? '/work/main').split(',');
const N = Number(process.env.N ?? 40);
const T = 'a0000000-0000-4000-8000-000000000001';
const BODY = JSON.parse(process.env.BODY ?? 'null') ?? null;
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
function post(port: number, token: string, body: unknown): Promise<number> {
  const payload = JSON.stringify(body);
  const t0 = process.hrtime.bigint();
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path: '/v1/query', method: 'POST', agent,
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) } }, (res) => {
      let n = 0; let text = '';
      res.on('data', (c) => { n += c.length; if (res.statusCode !== 200) text += c; });
      res.on('end', () => { if (res.statusCode !== 200) reject(new Error(`status ${res.statusCode} ${text}`)); else resolve(Number(process.hrtime.bigint() - t0) / 1e6); });
    });
    req.on('error', reject);
    req.end(payload);
  });
}
async function main() {
  const services: Array<{ dir: string; port: number; token: string; stop: () => Promise<void>; ms: number[] }> = [];
  let port = 47100;
  for (const dir of DIRS) {
    const { startService } = require(`${dir}/service/src/service`);
    const { loadConfig } = require(`${dir}/service/src/config`);
    const { createToken } = require(`${dir}/service/src/db/tokens`);
    const config = loadConfig({ ...process.env, DATABASE_URL: K, PORT: String(++port), SCHEDULER_ENABLED: 'false', LOG_LEVEL: 'warn' });
    const s = await startService(config, K, { log: () => undefined });
    const token = (await createToken(s.pool, { tenantId: T, scopes: ['read'], name: 'prof' })).token;
    services.push({ dir, port, token, stop: () => s.stop(), ms: [] });
  }
  const end = Date.parse(process.env.END ?? '2026-12-07T19:37:00Z');
  const days = Number(process.env.DAYS ?? 30);
  const body = BODY ?? { range: { from: end - days * 86400e3, to: end }, intervalMs: Number(process.env.INTERVAL ?? 1800000), maxDataPoints: Number(process.env.POINTS ?? 1800),
    queries: [{ refId: 'A', queryType: 'latencyPercentiles', byEndpoint: true, percentiles: [95] }], tenantId: T };
  for (let i = 0; i < N + 3; i++) {
    for (const s of services) { const ms = await post(s.port, s.token, body); if (i >= 3) s.ms.push(ms); }
  }
  for (const s of services) {
    const sorted = [...s.ms].sort((a, b) => a - b);
    console.log(`${s.dir}: p50 ${sorted[Math.floor(sorted.length / 2)]!.toFixed(1)} p95 ${sorted[Math.floor(sorted.length * 0.95)]!.toFixed(1)} min ${sorted[0]!.toFixed(1)}`);
  }
  for (const s of services) await s.stop();
  agent.destroy();
}
main().catch((e) => { console.error(e); process.exit(1); });
