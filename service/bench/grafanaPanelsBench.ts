// The query benchmark made of the requests the provisioned dashboards make: for every
// panel of every file in dashboards/, the bodies the plugin sends (its own request
// shaping, with the interval Grafana 12.4 computes) for ranges of 1 h, 6 h, 24 h, 7 d and
// 30 d and for panels 600 and 1800 points wide; and each dashboard opened at once, all of
// its panels' requests sent together. Per case: p50 and p95 through HTTP, and the work the
// database did per request from pg_stat_statements (statements, rows, shared buffers hit
// or read), which does not move with the machine's load. Per volume: bytes on disk per
// record ingested, raw logs and derived tables apart, after the background jobs ran.
// Writes service/bench/reports/grafana-panels.md. Not a test: it never fails on a number.
//
//   node service/bin/run-ts.js service/bench/grafanaPanelsBench.ts [--volumes 1m,10m]
//        [--samples 30] [--dashboards TEXT] [--keep-data DIR]
//
// --volumes    rows per log, in millions ("1m", "10m", "0.05m"); several are measured side
//              by side, the requests alternating between them. Default 1m.
// --samples    measured requests per case and volume (after WARM_UP_REQUESTS).
// --dashboards only the dashboards whose file name contains TEXT (a trial run).
// --keep-data  the embedded cluster lives in DIR and is kept; a volume loaded by an
//              earlier run is reused (a trial run: its report goes to DIR).
//
// The data (bench/queryData.ts): 30 days ending at the hour the load began, and the 2 hours
// before them (so that a 30-day range begins inside the data), 5 tenants,
// 40 endpoints and 200 fingerprints per tenant, skewed. Ranges end 23 minutes before the
// end of the data, as a range ending "now" ends off any rollup boundary.
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { createDatabaseIfMissing, dropDatabase } from '../src/db/admin';
import { startEmbeddedPostgres, type EmbeddedServer } from '../src/db/embedded';
import { migrate } from '../src/db/migrate';
import { createPool, withDatabase, type Pool } from '../src/db/pool';
import { createToken } from '../src/db/tokens';
import { freePort, makeScratchDir } from '../src/localResources';
import { loadConfig } from '../src/config';
import { runOptimizer } from '../src/optimizer/engine';
import { optimizerSettings } from '../src/service';
import { startServiceProcess, writeReport, type ServiceProcess } from './benchSupport';
import { grafanaIntervalMs, loadDashboards, panelBodies, type Dashboard, type QueryBody, type VariableValues } from './grafanaRequests';
import { BENCH_TENANTS, DAYS, LEAD_HOURS, loadBenchData } from './queryData';
import { quantile } from './ratioInterval';

const REPORT = path.resolve(__dirname, 'reports/grafana-panels.md');
const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
const TENANT = BENCH_TENANTS[0]!;
const QUERY_END_BEFORE_DATA_END_MS = 23 * MINUTE;
const WARM_UP_REQUESTS = 3;

export const RANGES: ReadonlyArray<readonly [string, number]> = [['1h', HOUR], ['6h', 6 * HOUR], ['24h', DAY], ['7d', 7 * DAY], ['30d', 30 * DAY]];
export const WIDTHS = [600, 1800] as const;

/** The issue's targets: every panel request, and a whole dashboard, at p95. */
const PANEL_TARGET_MS = 50;
const DASHBOARD_TARGET_MS = 250;
const BYTES_TARGET = 200;

/** Raw logs: everything else in the schema is derived from them (or is bookkeeping). */
const RAW_TABLES = ['api_performance_log', 'query_performance_log', 'system_resource_metrics'];

/** The embedded cluster: the query bench's settings, with pg_stat_statements loaded. */
const EMBEDDED_SETTINGS = {
  shared_buffers: `${Math.max(128, Math.floor(os.totalmem() / 4 / 2 ** 20))}MB`,
  max_wal_size: '8GB',
  checkpoint_timeout: '30min',
  fsync: 'off',
  full_page_writes: 'off',
  shared_preload_libraries: 'pg_stat_statements',
  'pg_stat_statements.max': '10000',
};

interface Args {
  volumes: number[];
  samples: number;
  dashboards: string | null;
  keepData: string | null;
}

function parseArgs(argv: string[]): Args {
  const args: Args = { volumes: [1], samples: 30, dashboards: null, keepData: null };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--volumes') {
      args.volumes = argv[++i]!.split(',').map((v) => {
        const n = Number(v.trim().replace(/m$/i, ''));
        if (!Number.isFinite(n) || n <= 0) throw new Error(`--volumes: ${JSON.stringify(v)} is not a number of millions of rows such as 1m or 10m`);
        return n;
      });
    } else if (a === '--samples') {
      args.samples = Number(argv[++i]);
      if (!Number.isInteger(args.samples) || args.samples < 1) throw new Error('--samples must be a whole number of at least 1');
    } else if (a === '--dashboards') args.dashboards = argv[++i]!;
    else if (a === '--keep-data') args.keepData = path.resolve(argv[++i]!);
  }
  return args;
}

interface Work {
  statements: number;
  rows: number;
  buffers: number;
}

interface Measured {
  p50: number;
  p95: number;
  /** Per request (a whole dashboard: per opening). */
  work: Work;
  answerRows: number;
  /** The step the service chose (frames' meta.custom.stepMs), when the answer has one. */
  stepMs: number | null;
}

/** One request body (or, for a dashboard, all of them) measured once per volume. */
interface Case {
  key: string;
  bodies: QueryBody[];
}

interface PanelCase {
  dashboard: string;
  panel: string;
  range: string;
  width: number;
  intervalMs: number;
  /** What the plugin sent as intervalMs (its own rounding of Grafana's). */
  sentIntervalMs: number;
  caseKey: string;
  /** The first panel with the same request, whose figures these are. */
  sameAs: string | null;
}

interface DashboardCase {
  dashboard: string;
  range: string;
  width: number;
  requests: number;
  caseKey: string;
}

interface Volume {
  millions: number;
  name: string;
  url: string;
  pool: Pool;
  dataEnd: Date;
  token: string;
  service: ServiceProcess | null;
  /** This volume's data end less the first volume's (whole hours): how far its ranges move. */
  shiftMs: number;
  loadSeconds: number;
  reused: boolean;
  storage: Storage;
  results: Map<string, Measured>;
}

interface Storage {
  records: number;
  rawBytes: number;
  derivedBytes: number;
  tables: Array<{ table: string; bytes: number; raw: boolean }>;
}

/** One kept-alive connection for panel requests; up to 6 for a dashboard, as a browser opens to one host. */
const ONE = new http.Agent({ keepAlive: true, maxSockets: 1 });
const SIX = new http.Agent({ keepAlive: true, maxSockets: 6 });

function post(url: string, token: string, body: QueryBody, agent: http.Agent): Promise<{ ms: number; answer: any }> {
  const payload = JSON.stringify(body);
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const request = http.request(`${url}/v1/query`, {
      method: 'POST', agent,
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) },
    }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (c: Buffer) => chunks.push(c));
      response.on('end', () => {
        const ms = performance.now() - started;
        const text = Buffer.concat(chunks).toString('utf8');
        if (response.statusCode !== 200) reject(new Error(`POST /v1/query answered ${response.statusCode}: ${text.slice(0, 300)}`));
        else resolve({ ms, answer: JSON.parse(text) });
      });
      response.on('error', reject);
    });
    request.on('error', reject);
    request.end(payload);
  });
}

/** Rows in the answer's frames, and the step the service reports; errors of a query are thrown. */
function inspect(answer: any): { rows: number; stepMs: number | null } {
  let rows = 0;
  let stepMs: number | null = null;
  for (const [refId, result] of Object.entries<any>(answer.results)) {
    if (result.error) throw new Error(`query ${refId}: ${result.error.message ?? JSON.stringify(result.error)}`);
    for (const f of result.frames ?? []) {
      rows += f.data.values[0]?.length ?? 0;
      const step = f.schema.meta?.custom?.stepMs;
      if (typeof step === 'number') stepMs = step;
    }
  }
  return { rows, stepMs };
}

/**
 * The case's bodies for a volume: cases are built on the first volume, and a volume whose
 * data ends at another hour is asked the same ranges moved by whole hours to its own end.
 */
function bodiesFor(v: Volume, c: Case): QueryBody[] {
  if (v.shiftMs === 0) return c.bodies;
  return c.bodies.map((b) => ({ ...b, range: { from: b.range.from + v.shiftMs, to: b.range.to + v.shiftMs } }));
}

/** Sends the case's bodies: one after the other for one body, all at once for several. */
async function send(v: Volume, c: Case): Promise<{ ms: number; rows: number; stepMs: number | null }> {
  const bodies = bodiesFor(v, c);
  if (bodies.length === 1) {
    const { ms, answer } = await post(v.service!.url, v.token, bodies[0]!, ONE);
    return { ms, ...inspect(answer) };
  }
  const started = performance.now();
  const answers = await Promise.all(bodies.map((b) => post(v.service!.url, v.token, b, SIX)));
  const ms = performance.now() - started;
  return { ms, rows: answers.reduce((n, a) => n + inspect(a.answer).rows, 0), stepMs: null };
}

/** pg_stat_statements of one database, summed (read and reset from the postgres database). */
async function statementWork(admin: Pool, database: string): Promise<Work> {
  const row = (await admin.query<{ calls: string; rows: string; buffers: string }>(
    `SELECT coalesce(sum(calls), 0) AS calls, coalesce(sum(rows), 0) AS rows,
            coalesce(sum(shared_blks_hit + shared_blks_read), 0) AS buffers
       FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid
      WHERE d.datname = $1`, [database])).rows[0]!;
  return { statements: Number(row.calls), rows: Number(row.rows), buffers: Number(row.buffers) };
}

async function resetStatements(admin: Pool): Promise<void> {
  await admin.query('SELECT pg_stat_statements_reset()');
}

/**
 * Each case at every volume: warm-up requests, then the measured ones alternating between
 * the volumes; the database work is counted over the measured requests alone.
 */
async function measure(volumes: Volume[], cases: Case[], samples: number, admin: Pool, log: (line: string) => void): Promise<void> {
  let done = 0;
  for (const c of cases) {
    for (const v of volumes) for (let i = 0; i < WARM_UP_REQUESTS; i++) await send(v, c);
    const times = volumes.map(() => [] as number[]);
    const last = volumes.map(() => ({ rows: 0, stepMs: null as number | null }));
    await resetStatements(admin);
    for (let i = 0; i < samples; i++) {
      const order = i % 2 === 0 ? [...volumes.keys()] : [...volumes.keys()].reverse();
      for (const k of order) {
        const r = await send(volumes[k]!, c);
        times[k]!.push(r.ms);
        last[k] = { rows: r.rows, stepMs: r.stepMs };
      }
    }
    for (const [k, v] of volumes.entries()) {
      const work = await statementWork(admin, v.name);
      const sorted = [...times[k]!].sort((a, b) => a - b);
      v.results.set(c.key, {
        p50: quantile(sorted, 0.5), p95: quantile(sorted, 0.95),
        work: { statements: work.statements / samples, rows: work.rows / samples, buffers: work.buffers / samples },
        answerRows: last[k]!.rows, stepMs: last[k]!.stepMs,
      });
    }
    done++;
    if (done % 10 === 0 || done === cases.length) log(`  ${done}/${cases.length} cases measured`);
  }
}

/** Bytes on disk (tables, indexes, TOAST) per table of the schema, partitions counted in their parent. */
async function storage(pool: Pool): Promise<Storage> {
  const tables = (await pool.query<{ table: string; bytes: string }>(
    `SELECT coalesce(pg_partition_root(c.oid), c.oid)::regclass::text AS table, sum(pg_total_relation_size(c.oid)) AS bytes
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE c.relkind IN ('r', 'm') AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%'
      GROUP BY 1 ORDER BY 2 DESC`)).rows.map((r) => ({ table: r.table, bytes: Number(r.bytes), raw: RAW_TABLES.includes(r.table.replace(/^.*\./, '')) }));
  let records = 0;
  for (const t of RAW_TABLES) records += Number((await pool.query(`SELECT count(*) AS n FROM ${t}`)).rows[0].n);
  const sum = (raw: boolean) => tables.filter((t) => t.raw === raw).reduce((n, t) => n + t.bytes, 0);
  return { records, rawBytes: sum(true), derivedBytes: sum(false), tables };
}

/** Loads (or reuses) one volume, runs the background jobs' work over it, and serves it. */
async function prepareVolume(serverUrl: string, millions: number, keep: boolean, log: (line: string) => void): Promise<Volume> {
  const name = `agog_gbench_${String(millions).replace('.', '_')}m${keep ? '' : `_${process.pid}`}`;
  const admin = createPool(serverUrl, { max: 1 });
  const comment = keep
    ? (await admin.query<{ c: string | null }>(`SELECT shobj_description(oid, 'pg_database') AS c FROM pg_database WHERE datname = $1`, [name])).rows[0]?.c ?? null
    : null;
  await admin.end();
  const loaded = comment ? (JSON.parse(comment) as { seconds: number; end: string }) : null;
  if (!loaded) {
    await dropDatabase(serverUrl, name);
    await createDatabaseIfMissing(serverUrl, name);
  }
  const url = withDatabase(serverUrl, name);
  await migrate(url);
  const pool = createPool(url, { max: 2, applicationName: 'agog-perf grafana bench' });
  let loadSeconds = loaded?.seconds ?? 0;
  let dataEnd = loaded ? new Date(loaded.end) : new Date();
  if (!loaded) {
    const rows = Math.round(millions * 1_000_000);
    log(`${millions} M: loading ${rows.toLocaleString('en')} rows into each log (${DAYS} days and ${LEAD_HOURS} hours, 5 tenants), refreshing each day`);
    const started = Date.now();
    dataEnd = await loadBenchData(pool, rows, (p) => {
      if (p.day % 5 === 0) log(`  day ${p.day}/${DAYS}, ${p.seconds.toFixed(0)} s`);
    });
    log(`${millions} M: VACUUM ANALYZE, the optimization engine once (job optimize)`);
    await pool.query('VACUUM ANALYZE');
    loadSeconds = (Date.now() - started) / 1000;
    await runOptimizer(pool, { ...optimizerSettings(loadConfig({})), windowMinutes: 24 * 60 });
    if (keep) await pool.query(`COMMENT ON DATABASE ${name} IS '${JSON.stringify({ seconds: loadSeconds, end: dataEnd.toISOString() })}'`);
  }
  const token = (await createToken(pool, { tenantId: TENANT, scopes: ['read'], name: 'grafana bench' })).token;
  return {
    millions, name, url, pool, dataEnd, token, service: null, shiftMs: 0, loadSeconds, reused: Boolean(loaded),
    storage: await storage(pool), results: new Map(),
  };
}

/** A dashboard's variables as Grafana fills them on opening: tenant and fingerprint their first option, "All" for endpoint where it is the default. */
async function variablesOf(v: Volume, dashboard: Dashboard, range: { from: number; to: number }): Promise<VariableValues> {
  const values: VariableValues = {};
  for (const variable of dashboard.json.templating?.list ?? []) {
    if (variable.type !== 'query') continue;
    const [body] = panelBodies([variable.query], values, range, 1000);
    const { answer } = await post(v.service!.url, v.token, body!, ONE);
    const frame = answer.results[variable.query.refId].frames[0];
    const index = Math.max(0, frame.schema.fields.findIndex((f: any) => f.name === 'value'));
    const options: string[] = (frame.data.values[index] ?? []).map(String);
    values[variable.name] = variable.includeAll && variable.current?.value === '$__all' ? options : options[0] ?? '';
  }
  return values;
}

/** Every panel case and dashboard case, and the distinct requests behind them. */
async function buildCases(v: Volume, dashboards: Dashboard[]): Promise<{ panels: PanelCase[]; dashboards: DashboardCase[]; cases: Case[] }> {
  const to = v.dataEnd.getTime() - QUERY_END_BEFORE_DATA_END_MS;
  const cases = new Map<string, Case>();
  const firstPanel = new Map<string, string>();
  const panels: PanelCase[] = [];
  const dashboardCases: DashboardCase[] = [];
  for (const d of dashboards) {
    const values = await variablesOf(v, d, { from: to - 30 * DAY, to });
    for (const [rangeName, rangeMs] of RANGES) {
      for (const width of WIDTHS) {
        const range = { from: to - rangeMs, to };
        const all: QueryBody[] = [];
        for (const p of d.panels) {
          const bodies = panelBodies(p.targets, values, range, width);
          all.push(...bodies);
          const key = JSON.stringify(bodies);
          if (!cases.has(key)) cases.set(key, { key, bodies });
          const label = `${p.title}`;
          const same = firstPanel.get(key);
          if (!same) firstPanel.set(key, label);
          panels.push({
            dashboard: d.file, panel: label, range: rangeName, width, intervalMs: grafanaIntervalMs(rangeMs, width),
            sentIntervalMs: bodies[0]?.intervalMs ?? 0, caseKey: key, sameAs: same && same !== label ? same : null,
          });
        }
        const key = `dashboard ${d.file} ${rangeName} ${width}`;
        cases.set(key, { key, bodies: all });
        dashboardCases.push({ dashboard: d.file, range: rangeName, width, requests: all.length, caseKey: key });
      }
    }
  }
  return { panels, dashboards: dashboardCases, cases: [...cases.values()] };
}

function duration(ms: number): string {
  if (ms % DAY === 0) return `${ms / DAY} d`;
  if (ms % HOUR === 0) return `${ms / HOUR} h`;
  if (ms % MINUTE === 0) return `${ms / MINUTE} min`;
  return `${ms / 1000} s`;
}

const fmt = (v: number) => (v < 10 ? v.toFixed(2) : v < 100 ? v.toFixed(1) : v.toFixed(0));
const count = (v: number) => (v < 100 ? String(Math.round(v * 10) / 10) : Math.round(v).toLocaleString('en'));

function gitCommit(): string {
  try {
    const head = execFileSync('git', ['rev-parse', '--short=12', 'HEAD'], { cwd: __dirname, encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], { cwd: __dirname, encoding: 'utf8' }).trim();
    return dirty ? `${head} with uncommitted changes` : head;
  } catch {
    return 'unknown';
  }
}

function report(volumes: Volume[], built: { panels: PanelCase[]; dashboards: DashboardCase[] }, meta: {
  version: string; settings: string; samples: number; startedAt: Date; seconds: number; load: [number, number]; commit: string; trial: boolean;
}): string[] {
  const vol = (v: Volume) => `${v.millions.toLocaleString('en')} M`;
  const lines: string[] = [];
  lines.push('# Grafana panel benchmark', '');
  if (meta.trial) lines.push('**A trial run (some dashboards, or data kept from an earlier run): not a report of record.**', '');
  lines.push(`- Run ${meta.startedAt.toISOString()} at commit ${meta.commit}, ${Math.round(meta.seconds / 60)} minutes in all`);
  lines.push(`- Machine: ${os.cpus().length} cores (${os.cpus()[0]?.model.trim() ?? 'unknown CPU'}), ${Math.round(os.totalmem() / 2 ** 30)} GiB RAM, shared with other work; load average (1 min) ${meta.load[0].toFixed(2)} at the start, ${meta.load[1].toFixed(2)} at the end`);
  lines.push(`- PostgreSQL ${meta.version}; ${meta.settings}`);
  lines.push(`- Node.js ${process.version}; the service runs as its own process (\`agog-perf serve\`, one per volume)`);
  lines.push('- Command: `node service/bin/run-ts.js service/bench/grafanaPanelsBench.ts' + (volumes.length ? ` --volumes ${volumes.map((v) => `${v.millions}m`).join(',')}` : '') + ` --samples ${meta.samples}\` (\`npm run bench\` runs it at 1m)`, '');
  lines.push('## What is asked', '');
  lines.push('For every panel of every dashboard in `dashboards/`, the bodies the plugin sends (plugin/src/request.ts, loaded from its source) for ranges of 1 h, 6 h, 24 h, 7 d and 30 d, in panels 600 and 1800 points wide (maxDataPoints). intervalMs is what Grafana computes (the range over maxDataPoints rounded to its nice intervals; no minimum interval is set); the plugin then rounds it to its own steps and sends that. Variables are filled as Grafana fills them on opening: the tenant and the fingerprint take their first option, the endpoint its default "All" (no endpoint filter). Ranges end 23 minutes before the end of the data. Panels whose request is the same as another panel\'s (the overview\'s stat panels all send the same overview query) are measured once and say so.', '');
  lines.push(`Per case: ${WARM_UP_REQUESTS} warm-up requests, then ${meta.samples} measured requests per volume, one at a time over one kept-alive connection, timed from sending to the answer's last byte; volumes alternate request by request. "Whole dashboard": all of a dashboard's panel requests sent at once over up to 6 connections (as a browser opens to one host), timed until the last answer. Work per request, from pg_stat_statements over the measured requests: statements run, rows they returned, and shared buffers hit or read (blocks of 8 kB). Unlike times, these do not move with the machine's load; a figure that grows from one volume to the next is a read that grows with the data.`, '');
  lines.push('## Data and storage', '');
  lines.push(`${DAYS} days ending at the hour the load began, and the ${LEAD_HOURS} hours before them (so that a 30-day range begins inside the data, as for an application that has run longer)` + ', 5 tenants, 40 endpoints and 200 fingerprints per tenant (skewed: a few take most of the traffic), one resource sample per tenant every 30 s (bench/queryData.ts); each day refreshed into the rollups and the rollups vacuumed before the next (as the scheduled refresh and autovacuum would have done within the day); then VACUUM ANALYZE and the job `optimize` once. Requests are for one tenant (a fifth of the rows).', '');
  lines.push('| rows per log | load + jobs | records ingested | raw logs, bytes per record | derived, bytes per record | all, bytes per record | target ≤ 200 |');
  lines.push('|---|---|---|---|---|---|---|');
  for (const v of volumes) {
    const s = v.storage;
    const all = (s.rawBytes + s.derivedBytes) / s.records;
    lines.push(`| ${vol(v)}${v.reused ? ' (loaded by an earlier run)' : ''} | ${Math.round(v.loadSeconds)} s | ${s.records.toLocaleString('en')} | ${(s.rawBytes / s.records).toFixed(0)} | ${(s.derivedBytes / s.records).toFixed(0)} | ${all.toFixed(0)} | ${all <= BYTES_TARGET ? 'met' : 'not met'} |`);
  }
  lines.push('', 'Records are the rows of the three raw logs (requests, queries, resource samples). Bytes are tables with their indexes and TOAST, partitions counted in their parent. Largest tables:', '');
  lines.push(`| table | kind | ${volumes.map((v) => `MB at ${vol(v)}`).join(' | ')} |`, `|---|---|${volumes.map(() => '---').join('|')}|`);
  const names = volumes[volumes.length - 1]!.storage.tables.filter((t) => t.bytes >= 1 << 20).map((t) => t.table);
  for (const name of names) {
    const raw = RAW_TABLES.includes(name.replace(/^.*\./, ''));
    lines.push(`| ${name} | ${raw ? 'raw' : 'derived'} | ${volumes.map((v) => ((v.storage.tables.find((t) => t.table === name)?.bytes ?? 0) / 2 ** 20).toFixed(1)).join(' | ')} |`);
  }
  lines.push('');

  const cells = (key: string, withStep: boolean) => volumes.flatMap((v) => {
    const m = v.results.get(key);
    if (!m) return withStep ? ['–', '–', '–', '–', '–', '–'] : ['–', '–', '–', '–', '–'];
    const out = [fmt(m.p50), fmt(m.p95), count(m.work.statements), count(m.work.rows), count(m.work.buffers)];
    return out;
  });
  const volHeader = volumes.flatMap((v) => [`p50 ${vol(v)}`, `p95 ${vol(v)}`, `statements ${vol(v)}`, `rows ${vol(v)}`, `buffers ${vol(v)}`]);

  lines.push('## Against the targets', '');
  for (const v of volumes) {
    const panelP95 = built.panels.map((p) => ({ p, m: v.results.get(p.caseKey)! })).filter((x) => x.m);
    const over = panelP95.filter((x) => x.m.p95 >= PANEL_TARGET_MS);
    const worst = panelP95.reduce((a, b) => (b.m.p95 > a.m.p95 ? b : a));
    const dash = built.dashboards.map((d) => ({ d, m: v.results.get(d.caseKey)! })).filter((x) => x.m);
    const dashOver = dash.filter((x) => x.m.p95 >= DASHBOARD_TARGET_MS);
    const dashWorst = dash.reduce((a, b) => (b.m.p95 > a.m.p95 ? b : a));
    const s = v.storage;
    lines.push(`- ${vol(v)}: panel requests p95 < ${PANEL_TARGET_MS} ms: ${panelP95.length - over.length} of ${panelP95.length} panel cases met; the slowest is ${worst.p.dashboard} "${worst.p.panel}", ${worst.p.range} at ${worst.p.width} points, p95 ${fmt(worst.m.p95)} ms.`);
    lines.push(`- ${vol(v)}: whole dashboard p95 < ${DASHBOARD_TARGET_MS} ms: ${dash.length - dashOver.length} of ${dash.length} met; the slowest is ${dashWorst.d.dashboard}, ${dashWorst.d.range} at ${dashWorst.d.width} points, p95 ${fmt(dashWorst.m.p95)} ms.`);
    lines.push(`- ${vol(v)}: everything on disk per record ingested ≤ ${BYTES_TARGET} bytes: ${((s.rawBytes + s.derivedBytes) / s.records).toFixed(0)} (raw ${(s.rawBytes / s.records).toFixed(0)}, derived ${(s.derivedBytes / s.records).toFixed(0)}): ${(s.rawBytes + s.derivedBytes) / s.records <= BYTES_TARGET ? 'met' : 'not met'}.`);
  }
  const overList = built.panels.filter((p) => volumes.some((v) => (v.results.get(p.caseKey)?.p95 ?? 0) >= PANEL_TARGET_MS) && !p.sameAs);
  if (overList.length) {
    lines.push('', `Panel cases at or over ${PANEL_TARGET_MS} ms p95 at some volume (distinct requests):`, '');
    for (const p of overList) lines.push(`- ${p.dashboard} "${p.panel}", ${p.range} at ${p.width} points: ${volumes.map((v) => `${fmt(v.results.get(p.caseKey)!.p95)} ms at ${vol(v)}`).join(', ')}`);
  }
  lines.push('');

  lines.push('## Whole dashboards (ms; work summed over the dashboard\'s requests)', '');
  lines.push(`| dashboard | range | points | requests | ${volHeader.join(' | ')} |`, `|---|---|---|---|${volHeader.map(() => '---').join('|')}|`);
  for (const d of built.dashboards) lines.push(`| ${d.dashboard} | ${d.range} | ${d.width} | ${d.requests} | ${cells(d.caseKey, false).join(' | ')} |`);
  lines.push('');

  lines.push('## Panels (ms; work per request)', '');
  lines.push('"interval": Grafana\'s intervalMs; "sent": what the plugin sends; "step": the step the service answered in (series only).', '');
  const head = ['dashboard', 'panel', 'range', 'points', 'interval', 'sent', 'step', ...volHeader, 'rows in answer'];
  lines.push(`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`);
  for (const p of built.panels) {
    const last = volumes[volumes.length - 1]!.results.get(p.caseKey);
    const step = last?.stepMs ? duration(last.stepMs) : '–';
    const vals = p.sameAs ? volumes.flatMap(() => ['″', '″', '″', '″', '″']) : cells(p.caseKey, false);
    lines.push(`| ${p.dashboard} | ${p.panel}${p.sameAs ? ` (same request as "${p.sameAs}")` : ''} | ${p.range} | ${p.width} | ${duration(p.intervalMs)} | ${p.sentIntervalMs ? duration(p.sentIntervalMs) : '–'} | ${step} | ${vals.join(' | ')} | ${last?.answerRows ?? ''} |`);
  }
  lines.push('', 'Numbers from a shared 2-core machine vary by about ±20 % from run to run; compare figures of the same run, and the work figures across runs.', '');
  return lines;
}

export async function main(argv: string[] = []): Promise<number> {
  const args = parseArgs(argv);
  const log = (line: string) => process.stderr.write(`[grafana bench] ${line}\n`);
  const startedAt = new Date();
  const loadStart = os.loadavg()[0]!;
  const trial = args.keepData !== null || args.dashboards !== null;
  const reportFile = trial ? path.join(args.keepData ?? os.tmpdir(), 'grafana-panels.md') : REPORT;
  const commit = gitCommit();
  let embedded: EmbeddedServer | undefined;
  let serverUrl = process.env.DATABASE_URL;
  let settings = 'the server of DATABASE_URL, as configured (pg_stat_statements must be loaded)';
  if (!serverUrl) {
    if (args.keepData) {
      mkdirSync(args.keepData, { recursive: true });
      chmodSync(args.keepData, 0o755);
    }
    log(args.keepData ? `starting the embedded PostgreSQL kept in ${args.keepData}` : 'starting a throwaway embedded PostgreSQL');
    embedded = await startEmbeddedPostgres({
      dataDir: args.keepData ? path.join(args.keepData, 'data') : makeScratchDir('agog-bench-grafana-'),
      port: await freePort(), persistent: Boolean(args.keepData), settings: EMBEDDED_SETTINGS,
    });
    serverUrl = embedded.url;
    settings = `embedded, ${args.keepData ? 'kept between runs' : 'throwaway'}: ${Object.entries(EMBEDDED_SETTINGS).map(([k, v]) => `${k}=${v}`).join(', ')}`;
  }
  const admin = createPool(serverUrl, { max: 1, applicationName: 'agog-perf grafana bench (statistics)' });
  const volumes: Volume[] = [];
  try {
    await admin.query('CREATE EXTENSION IF NOT EXISTS pg_stat_statements');
    const version = (await admin.query<{ v: string }>(`SELECT current_setting('server_version') AS v`)).rows[0]!.v;
    for (const millions of args.volumes) volumes.push(await prepareVolume(serverUrl, millions, args.keepData !== null, log));
    for (const v of volumes) v.shiftMs = v.dataEnd.getTime() - volumes[0]!.dataEnd.getTime();
    for (const v of volumes) v.service = await startServiceProcess(v.url, { SCHEDULER_ENABLED: 'false', RESOURCE_SAMPLE_INTERVAL_MS: '0' });
    const dashboards = loadDashboards().filter((d) => args.dashboards === null || d.file.includes(args.dashboards));
    if (dashboards.length === 0) throw new Error(`--dashboards ${JSON.stringify(args.dashboards)} matches no file in dashboards/`);
    // The same requests at every volume: the cases are built on the first; its data end
    // is the one every volume is asked about when they were loaded in the same hour.
    const built = await buildCases(volumes[0]!, dashboards);
    log(`${built.panels.length} panel cases (${built.cases.length - built.dashboards.length} distinct requests) and ${built.dashboards.length} whole-dashboard cases, ${args.samples} samples each, at ${volumes.map((v) => `${v.millions} M`).join(' and ')}`);
    await measure(volumes, built.cases, args.samples, admin, log);
    const lines = report(volumes, built, {
      version, settings, samples: args.samples, startedAt, seconds: (Date.now() - startedAt.getTime()) / 1000,
      load: [loadStart, os.loadavg()[0]!], commit, trial,
    });
    writeReport(reportFile, lines, log);
    return 0;
  } finally {
    for (const v of volumes) {
      await v.service?.stop();
      await v.pool.end();
      if (args.keepData === null) await dropDatabase(serverUrl, v.name).catch(() => undefined);
    }
    await admin.end();
    await embedded?.stop();
  }
}

