// Fault benchmark (not a test): one tenant floods the service with heavy query requests
// and poison ingest batches while another tenant's ingest goes on. Rounds alternate the
// victim alone and the victim under the flood, side by side in one run, and the report
// gives the victim's ingest latency (p50, p95), its answers, and the attacker's answers.
// Figures go to service/bench/reports/fault.md.
//
//   npm run bench -w service -- faultBench [--round-seconds 15] [--rounds 3]
import type { PoolClient } from 'pg';
import { spawn } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { writeRecords } from '../src/db/ingestCopy';
import { createPool } from '../src/db/pool';
import { refreshRollups } from '../src/db/rollups';
import { createToken } from '../src/db/tokens';
import { openBenchDatabase, percentile, startServiceProcess, writeReport } from './benchSupport';

/** The service's defaults (LATENCY_TARGET_MS, SLOW_QUERY_THRESHOLD_MS): how rows are classified in their deltas. */
const DELTAS = { apdexTargetMs: 100, slowQueryThresholdMs: 1000 };

/** One kind's lines into the raw logs with their rollup deltas, as the group commit writes them. */
function writeLines(client: PoolClient, kind: 'api' | 'query' | 'resource', lines: Array<string | Uint8Array>): Promise<void> {
  return writeRecords(client, { api: [], query: [], resource: [], [kind]: lines }, DELTAS);
}

const REPORT = path.resolve(__dirname, 'reports/fault.md');
const VICTIM = 'fa170000-0000-4000-8000-00000000000b';
const ATTACKER = 'fa170000-0000-4000-8000-00000000000a';
/** The victim: one batch of this many API records every VICTIM_INTERVAL_MS (open loop). */
const VICTIM_RECORDS = 200;
const VICTIM_INTERVAL_MS = 100;
/** The attacker: this many clients sending heavy query requests back to back ... */
const ATTACK_QUERY_CLIENTS = 30;
/** ... and this many sending poison batches back to back. */
const ATTACK_POISON_CLIENTS = 4;
/** Raw rows of the attacker's last hour, which its heavy requests read again and again. */
const ATTACKER_RAW_ROWS = 300_000;

const ENDPOINTS = ['/api/orders', '/api/orders/:id', '/api/customers/:id', '/api/invoices', '/api/jobs/:id/status', '/api/reports/daily'];

function log(line: string): void {
  process.stderr.write(line + '\n');
}

function victimBatch(): string {
  const now = Date.now();
  return JSON.stringify(Array.from({ length: VICTIM_RECORDS }, (_, i) => ({
    timestamp: new Date(now - i).toISOString(), endpoint: ENDPOINTS[i % ENDPOINTS.length], method: 'GET', statusCode: 200, responseTimeMs: 5 + (i % 40),
  })));
}

/** A batch with one value a real column cannot hold (and PostgreSQL would refuse). */
function poisonBatch(): string {
  const now = new Date().toISOString();
  return JSON.stringify([
    ...Array.from({ length: 50 }, () => ({ timestamp: now, endpoint: '/poison', method: 'GET', statusCode: 200, responseTimeMs: 3 })),
    { timestamp: now, endpoint: '/poison', method: 'GET', statusCode: 200, responseTimeMs: 1e-50 },
  ]);
}

/** Twenty series over the last hour at a 1 s step: every one read from raw rows. */
function heavyQuery(): string {
  const to = Date.now();
  const queries = Array.from({ length: 20 }, (_, i) => (i % 2 === 0
    ? { refId: `P${i}`, queryType: 'latencyPercentiles', percentiles: [50, 95, 99], byEndpoint: true }
    : { refId: `T${i}`, queryType: 'throughput' }));
  return JSON.stringify({ range: { from: to - 3_600_000, to }, intervalMs: 1000, maxDataPoints: 5000, queries });
}

/**
 * The attacker, in a process of its own (so that its clients do not delay the victim's in
 * the measuring process): floods until `seconds` have passed, then prints its answers.
 */
async function attack(url: string, readToken: string, ingestToken: string, seconds: number): Promise<void> {
  const end = Date.now() + seconds * 1000;
  const post = async (pathName: string, token: string, body: string): Promise<number> => {
    const response = await fetch(`${url}${pathName}`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body });
    await response.arrayBuffer();
    return response.status;
  };
  const queryStatuses: number[] = [];
  const queryMs: number[] = [];
  const poisonStatuses: number[] = [];
  const clients: Promise<void>[] = [];
  for (let c = 0; c < ATTACK_QUERY_CLIENTS; c++) {
    clients.push((async () => {
      while (Date.now() < end) {
        const started = process.hrtime.bigint();
        const status = await post('/v1/query', readToken, heavyQuery()).catch(() => 0);
        queryStatuses.push(status);
        if (status === 200) queryMs.push(Number(process.hrtime.bigint() - started) / 1e6);
      }
    })());
  }
  for (let c = 0; c < ATTACK_POISON_CLIENTS; c++) {
    clients.push((async () => {
      while (Date.now() < end) poisonStatuses.push(await post('/v1/ingest/api-requests', ingestToken, poisonBatch()).catch(() => 0));
    })());
  }
  await Promise.all(clients);
  process.stdout.write(JSON.stringify({ queryStatuses, queryMs, poisonStatuses }) + '\n');
}

function startAttacker(url: string, readToken: string, ingestToken: string, seconds: number): Promise<{ queryStatuses: number[]; queryMs: number[]; poisonStatuses: number[] }> {
  const child = spawn(process.execPath, [path.resolve(__dirname, '../bin/run-ts.js'), __filename, '--attacker', url, readToken, ingestToken, String(seconds)], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  return new Promise((resolve, reject) => child.once('exit', (code) => (code === 0 ? resolve(JSON.parse(out.trim().split('\n').at(-1)!)) : reject(new Error(`attacker exited with ${code}`)))));
}

export async function main(argv: string[] = []): Promise<number> {
  if (argv[0] === '--attacker') {
    await attack(argv[1]!, argv[2]!, argv[3]!, Number(argv[4]));
    return 0;
  }
  const arg = (name: string, fallback: number) => (argv.includes(name) ? Number(argv[argv.indexOf(name) + 1]) : fallback);
  const roundSeconds = arg('--round-seconds', 15);
  const rounds = arg('--rounds', 3);
  const loadAtStart = os.loadavg()[0]!;
  const database = await openBenchDatabase('fault', log);
  const pool = createPool(database.url, { max: 2 });
  try {
    log(`loading ${ATTACKER_RAW_ROWS} raw request rows of the attacker's last hour`);
    const now = Date.now();
    const client = await pool.connect();
    try {
      for (let start = 0; start < ATTACKER_RAW_ROWS; start += 50_000) {
        const lines: string[] = [];
        for (let i = start; i < Math.min(start + 50_000, ATTACKER_RAW_ROWS); i++) {
          const at = new Date(now - Math.floor((i / ATTACKER_RAW_ROWS) * 3_500_000)).toISOString();
          lines.push(`${at}\t${ATTACKER}\t${1 + (i % 300)}\t\\N\t\\N\t200\tGET\t${ENDPOINTS[i % ENDPOINTS.length]}\t\\N\t\\N\n`);
        }
        await client.query('BEGIN');
        await writeLines(client, 'api', lines);
        await client.query('COMMIT');
      }
    } finally {
      client.release();
    }
    await refreshRollups(pool);
    const victimToken = (await createToken(pool, { tenantId: VICTIM, scopes: ['ingest'] })).token;
    const attackerRead = (await createToken(pool, { tenantId: ATTACKER, scopes: ['read'] })).token;
    const attackerIngest = (await createToken(pool, { tenantId: ATTACKER, scopes: ['ingest'] })).token;
    const service = await startServiceProcess(database.url, { SCHEDULER_ENABLED: 'false', RESOURCE_SAMPLE_INTERVAL_MS: '0' });

    const post = async (pathName: string, token: string, body: string): Promise<number> => {
      const response = await fetch(`${service.url}${pathName}`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body });
      await response.arrayBuffer();
      return response.status;
    };
    const count = (statuses: number[]) => {
      const counts: Record<string, number> = {};
      for (const s of statuses) counts[s] = (counts[s] ?? 0) + 1;
      return Object.entries(counts).map(([s, n]) => `${s}: ${n}`).join(', ') || 'none';
    };

    interface Round { loaded: boolean; victimMs: number[]; victimStatuses: number[]; queryStatuses: number[]; queryMs: number[]; poisonStatuses: number[] }
    const results: Round[] = [];
    try {
      // Warm-up: tokens looked up, connections opened.
      for (let i = 0; i < 5; i++) await post('/v1/ingest/api-requests', victimToken, victimBatch());
      await post('/v1/query', attackerRead, heavyQuery());
      for (let r = 0; r < rounds * 2; r++) {
        const round: Round = { loaded: r % 2 === 1, victimMs: [], victimStatuses: [], queryStatuses: [], queryMs: [], poisonStatuses: [] };
        log(`round ${r + 1} of ${rounds * 2}: ${round.loaded ? 'under the flood' : 'alone'}`);
        const end = Date.now() + roundSeconds * 1000;
        const attacker = round.loaded ? startAttacker(service.url, attackerRead, attackerIngest, roundSeconds) : undefined;
        const victims: Promise<void>[] = [];
        while (Date.now() < end) {
          const body = victimBatch();
          const started = process.hrtime.bigint();
          victims.push(post('/v1/ingest/api-requests', victimToken, body).catch(() => 0).then((status) => {
            round.victimStatuses.push(status);
            if (status === 200) round.victimMs.push(Number(process.hrtime.bigint() - started) / 1e6);
          }));
          await new Promise((resolve) => setTimeout(resolve, VICTIM_INTERVAL_MS));
        }
        await Promise.all(victims);
        if (attacker) Object.assign(round, await attacker);
        results.push(round);
      }
    } finally {
      await service.stop();
    }

    const stored = Number((await pool.query(`SELECT count(*) AS n FROM api_performance_log WHERE tenant_id = $1::uuid`, [VICTIM])).rows[0].n);
    const poisonStored = Number((await pool.query(`SELECT count(*) AS n FROM api_performance_log WHERE endpoint = '/poison'`)).rows[0].n);
    const sorted = (xs: number[]) => [...xs].sort((a, b) => a - b);
    const pooled = (loaded: boolean, pick: (r: Round) => number[]) => sorted(results.filter((r) => r.loaded === loaded).flatMap(pick));
    const alone = pooled(false, (r) => r.victimMs);
    const flooded = pooled(true, (r) => r.victimMs);
    const ms = (x: number) => x.toFixed(1);
    const ratio = percentile(flooded, 95) / percentile(alone, 95);
    const lines = [
      '# Fault benchmark',
      '',
      `Run ${new Date().toISOString()} on ${os.cpus().length} cores (${os.cpus()[0]?.model.trim() ?? 'unknown'}), Node ${process.version}, PostgreSQL ${database.version}` +
        `${database.embedded ? ' (embedded, default settings)' : ''}. Load average (1 min) at the start and the end: ${loadAtStart.toFixed(2)} and ${os.loadavg()[0]!.toFixed(2)}.`,
      '',
      'The service in its own process with its default settings. The victim tenant sends one batch of ' +
        `${VICTIM_RECORDS} API records every ${VICTIM_INTERVAL_MS} ms (open loop). In the flooded rounds the attacker tenant ` +
        `runs, in a process of its own, ${ATTACK_QUERY_CLIENTS} clients sending, back to back, query requests of 20 series over its last hour at a 1 s step ` +
        `(raw rows: ${ATTACKER_RAW_ROWS} in that hour), and ${ATTACK_POISON_CLIENTS} clients sending batches that hold one value ` +
        `a real column cannot hold (1e-50). ${rounds} rounds of each kind, ${roundSeconds} s each, alternating; figures pooled per kind.`,
      '',
      '| round | attacker | victim batches (answers) | victim p50 ms | victim p95 ms | attacker query answers | attacker poison answers |',
      '|---|---|---|---|---|---|---|',
      ...results.map((r, i) => {
        const v = sorted(r.victimMs);
        return `| ${i + 1} | ${r.loaded ? 'flooding' : 'idle'} | ${count(r.victimStatuses)} | ${ms(percentile(v, 50))} | ${ms(percentile(v, 95))} | ${count(r.queryStatuses)} | ${count(r.poisonStatuses)} |`;
      }),
      '',
      `Victim ingest, pooled: alone p50 **${ms(percentile(alone, 50))} ms**, p95 **${ms(percentile(alone, 95))} ms**; ` +
        `under the flood p50 **${ms(percentile(flooded, 50))} ms**, p95 **${ms(percentile(flooded, 95))} ms**. ` +
        `p95 under the flood / alone: **${ratio.toFixed(2)}** (target ≤ 2).`,
      '',
      `Victim batches answered other than 200: **${results.flatMap((r) => r.victimStatuses).filter((s) => s !== 200).length}** of ${results.flatMap((r) => r.victimStatuses).length}. ` +
        `Victim rows stored: ${stored} (warm-up included); poison rows stored: ${poisonStored}.`,
      `Attacker query requests answered 200 took p50 ${ms(percentile(pooled(true, (r) => r.queryMs), 50))} ms; the others were refused with 429 (more than QUERY_TENANT_CONCURRENCY running and QUERY_TENANT_QUEUE waiting) or 503.`,
      '',
    ];
    writeReport(REPORT, lines, log);
    return 0;
  } finally {
    await pool.end();
    await database.close();
  }
}

