// Every statement the service sends, recorded on the wire side of node-postgres (a hook on
// Client.prototype.query, which the pool, the read sessions and COPY all go through)
// during a realistic run: ingest through HTTP (JSON and OTLP), every query of every
// provisioned dashboard as the plugin sends it, as a tenant and as an admin choosing the
// tenant, and each scheduled job. Each statement that touches a distributed table must
// pin it to one tenant by an explicit tenant_id equality (support/tenantFilters.ts), so
// that Citus can route it to one shard group. Row-level security does not count: Citus
// prunes shards from the statement, not from a policy (docs/scaling.md).
// The phases that may span tenants are listed below, each with the reason.
import { loadModule, parseSync } from 'libpg-query';
import { Client } from 'pg';
import { readDistributionPlan, tablesWithPlan } from '../src/db/citusPlan';
import { backfill } from '../src/demo/run';
import type { RunningService } from '../src/service';
import { allPanels, loadDashboards } from './support/bundle';
import { createTestDatabase, type TestDatabase } from './support/db';
import { SustainedIngest } from './support/load';
import { createMonitoredDatabase, startMonitoredServer, type MonitoredDatabaseFixture, type MonitoredServer } from './support/monitoredServer';
import { buildQueryBodies, type QueryBody, type SavedTarget, type VariableValues } from './support/pluginRequests';
import { post, startTestService, tokenFor } from './support/service';
import { tenantFilterProblems, type TenantFilterContext } from './support/tenantFilters';

const TENANT = '31313131-3131-4131-8131-313131313131';
const OTHER_TENANT = '32323232-3232-4232-8232-323232323232';
const SIX_HOURS = 6 * 3_600_000;

/**
 * Phases whose statements may span every shard, and why that is acceptable. Each must
 * really send such a statement (else the entry is stale and the test says so).
 */
const MULTI_SHARD: Record<string, string> = {
  'job refresh': 'merges every tenant\'s pending rollup deltas in one pass on a timer; on Citus each shard group\'s part runs on its own node in parallel, and no request waits on it',
  'job maintain': 'creates and drops monthly partitions and expires old rows of every tenant: DDL and retention are cluster-wide by nature, once a day',
  'job optimize': 'the detectors compare every tenant\'s rollups against thresholds, on a timer; each finding is then written for its own tenant',
  'health and metrics': '/health reads the newest cache row of all tenants (the service\'s own state, for probes): on Citus one small index read per shard',
  'tenant list for an admin': 'an admin token (operators\' org) lists the tenants that have data: a question about all tenants, asked when a dashboard opens',
};

const phaseStatements = new Map<string, Set<string>>();
let phase = 'setup';
const originalQuery = Client.prototype.query;

function record(text: unknown): void {
  if (typeof text !== 'string') return;
  let set = phaseStatements.get(phase);
  if (!set) phaseStatements.set(phase, (set = new Set()));
  set.add(text);
}

let db: TestDatabase;
let monitoredServer: MonitoredServer;
let monitored: MonitoredDatabaseFixture;
let service: RunningService;
let url: string;
let ctx: TenantFilterContext;
const tokens = { tenant: '', admin: '', ingest: '', otherIngest: '' };

async function inPhase<T>(name: string, fn: () => Promise<T>): Promise<T> {
  phase = name;
  try {
    return await fn();
  } finally {
    phase = 'between phases';
  }
}

async function send(body: QueryBody, token: string): Promise<any> {
  const response = await post(`${url}/v1/query`, token, body);
  if (response.status !== 200) throw new Error(`POST /v1/query answered ${response.status}: ${JSON.stringify(response.body).slice(0, 300)}`);
  for (const [refId, result] of Object.entries<any>(response.body.results)) {
    if (result.error) throw new Error(`${refId}: ${result.error.message}`);
  }
  return response.body.results;
}

function range(): { from: number; to: number } {
  const to = Date.now();
  return { from: to - SIX_HOURS, to };
}

async function variableOptions(dashboard: any, name: string, values: VariableValues, token: string): Promise<string[]> {
  const variable = dashboard.templating.list.find((v: any) => v.name === name);
  const [body] = buildQueryBodies([variable.query], values, range());
  const frame = (await send(body!, token))[variable.query.refId].frames[0];
  const index = Math.max(0, frame.schema.fields.findIndex((f: any) => f.name === 'value'));
  return (frame.data.values[index] ?? []).map(String);
}

/** Every panel, annotation and variable query of every dashboard, for one tenant. */
async function runDashboards(token: string, who: 'tenant' | 'admin'): Promise<number> {
  let requests = 0;
  for (const { json: dashboard } of loadDashboards()) {
    const values: VariableValues = { tenant: TENANT };
    if (who === 'tenant') await variableOptions(dashboard, 'tenant', {}, token);
    else await inPhase('tenant list for an admin', () => variableOptions(dashboard, 'tenant', {}, token));
    phase = `dashboards as ${who}`;
    for (const name of ['endpoint', 'fingerprint']) {
      if (!dashboard.templating.list.some((v: any) => v.name === name)) continue;
      values[name] = (await variableOptions(dashboard, name, values, token))[0] ?? '';
    }
    const targets = [
      ...allPanels(dashboard).filter((p) => p.targets?.length).map((p) => p.targets as SavedTarget[]),
      ...dashboard.annotations.list.filter((a: any) => a.target).map((a: any) => [a.target]),
    ];
    for (const panelTargets of targets) {
      for (const body of buildQueryBodies(panelTargets, values, range())) {
        await send(body, token);
        requests++;
      }
    }
  }
  return requests;
}

beforeAll(async () => {
  await loadModule();
  db = await createTestDatabase('citus_router');
  // Every statement of every client in this process from here on.
  Client.prototype.query = function recordingQuery(this: Client, ...args: any[]) {
    const first = args[0];
    record(typeof first === 'string' ? first : first?.text);
    return (originalQuery as any).apply(this, args);
  } as typeof Client.prototype.query;

  const plan = readDistributionPlan();
  const distributed = new Map(tablesWithPlan(plan, 'distributed').map((t) => [t, t]));
  const partitions = await db.pool.query<{ child: string; parent: string }>(
    `SELECT c.relname AS child, p.relname AS parent FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_class p ON p.oid = i.inhparent`,
  );
  for (const { child, parent } of partitions.rows) if (distributed.has(parent)) distributed.set(child, parent);
  const functions = await db.pool.query<{ name: string; body: string }>(
    `SELECT p.proname AS name, p.prosrc AS body FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = 'public'`,
  );
  const names = [...distributed.keys()];
  ctx = {
    distributed,
    column: plan.distributionColumn,
    functionsOverTenantTables: new Set(functions.rows.filter((f) => names.some((t) => new RegExp(`\\b${t}\\b`).test(f.body))).map((f) => f.name.toLowerCase())),
  };

  // A monitored database with pg_stat_statements, so that the collector's job runs too,
  // and the service's own resource samples (job sample-resources) for the tenant.
  monitoredServer = await startMonitoredServer();
  monitored = await createMonitoredDatabase(monitoredServer);
  await monitored.admin.query('CREATE TABLE orders (id int PRIMARY KEY, note text); INSERT INTO orders SELECT g, g::text FROM generate_series(1, 100) g');
  for (let i = 0; i < 5; i++) await monitored.admin.query('SELECT count(*) FROM orders WHERE note = $1', [String(i)]);
  ({ service, url } = await startTestService(db, {
    OPTIMIZER_INTERVAL_MS: '60000', RESOURCE_SAMPLE_INTERVAL_MS: '60000', AGOG_SERVICE_TENANT_ID: TENANT,
    MONITORED_DATABASE_URL: monitored.collectorUrl, MONITORED_TENANT_ID: TENANT,
  }));
  tokens.ingest = await tokenFor(db, TENANT, ['ingest']);
  tokens.otherIngest = await tokenFor(db, OTHER_TENANT, ['ingest']);
  tokens.tenant = await tokenFor(db, TENANT, ['read']);
  tokens.admin = await tokenFor(db, null, ['read', 'admin']);

  await inPhase('ingest', async () => {
    await backfill({ url, token: tokens.ingest }, { hours: 3, rate: 2, quiet: true });
    await backfill({ url, token: tokens.otherIngest }, { hours: 1, rate: 1, quiet: true, seed: 7 });
    for (const transport of ['json', 'otlp'] as const) {
      const load = new SustainedIngest(url, tokens.ingest, { label: `router-${transport}`, sendersPerKind: 1, recordsPerBatch: 5, transport }).start();
      await load.until(() => load.count(200) >= 6, 20_000);
      await load.stop();
      if (load.count(200) < 6) throw new Error(`${transport} ingest was not acknowledged`);
    }
  });
  // The collector's first round only takes a snapshot; its deltas come from the second.
  for (const job of ['collect', ...Object.keys(service.scheduler.status())]) {
    await inPhase(`job ${job}`, async () => {
      if (!(await service.scheduler.runNow(job))) throw new Error(`job ${job} failed: ${service.scheduler.status()[job]!.lastError}`);
    });
  }
  await inPhase('health and metrics', async () => {
    for (const headers of [{}, { authorization: `Bearer ${tokens.admin}` }] as Array<Record<string, string>>) {
      const health = await fetch(`${url}/health`, { headers });
      if (health.status !== 200) throw new Error(`/health answered ${health.status}`);
    }
    await (await fetch(`${url}/metrics`)).text();
  });
  await runDashboards(tokens.tenant, 'tenant');
  await runDashboards(tokens.admin, 'admin');
  phase = 'after';
}, 600_000);

afterAll(async () => {
  Client.prototype.query = originalQuery;
  await service?.stop();
  await db?.drop();
  await monitored?.drop();
  await monitoredServer?.stop();
});

/** Whether a statement names a distributed table or calls a function over one. */
function touchesDistributed(sql: string): boolean {
  let tree: string;
  try {
    tree = JSON.stringify(parseSync(sql));
  } catch {
    return false;
  }
  const relations = [...tree.matchAll(/"relname":"([a-z0-9_]+)"/g)].map((m) => m[1]!);
  const functions = [...tree.matchAll(/"funcname":\[(?:\{"String":\{"sval":"[a-z_]+"\}\},)*\{"String":\{"sval":"([a-z0-9_]+)"\}\}\]/g)].map((m) => m[1]!);
  return relations.some((r) => ctx.distributed.has(r)) || functions.some((f) => ctx.functionsOverTenantTables.has(f));
}

function problemsByPhase(): Map<string, Array<{ statement: string; problems: string[] }>> {
  const found = new Map<string, Array<{ statement: string; problems: string[] }>>();
  for (const [name, statements] of phaseStatements) {
    for (const statement of statements) {
      const problems = tenantFilterProblems(statement, ctx);
      if (problems.length === 0) continue;
      if (!found.has(name)) found.set(name, []);
      found.get(name)!.push({ statement: statement.replace(/\s+/g, ' ').slice(0, 400), problems });
    }
  }
  return found;
}

describe('statements the service sends, as Citus would route them', () => {
  it('recorded the run: ingest, every scheduled job and both dashboard passes, touching distributed tables', () => {
    const phases = [...phaseStatements.keys()];
    expect(phases).toEqual(expect.arrayContaining(['ingest', 'health and metrics', 'dashboards as tenant', 'dashboards as admin', 'tenant list for an admin']));
    expect(Object.keys(service.scheduler.status())).toEqual(expect.arrayContaining(['refresh', 'maintain', 'optimize', 'sample-resources', 'collect']));
    for (const job of Object.keys(service.scheduler.status())) expect(phases).toContain(`job ${job}`);
    const touching = [...phaseStatements.values()].flatMap((s) => [...s]).filter(touchesDistributed);
    expect(touching.length).toBeGreaterThan(20);
    // Each job reached tenant data (its own resource samples go through the ingest queue).
    for (const job of Object.keys(service.scheduler.status()).filter((j) => j !== 'sample-resources')) {
      expect([job, [...phaseStatements.get(`job ${job}`)!].some(touchesDistributed)]).toEqual([job, true]);
    }
  });

  it('pins every distributed table to one tenant by an explicit tenant_id equality, outside the multi-shard phases', () => {
    const offending = [...problemsByPhase()].filter(([name]) => !(name in MULTI_SHARD));
    // A statement listed here is not router-executable on Citus: add `tenant_id = $n` for
    // the table it names, or, for a job that must span tenants, list its phase in MULTI_SHARD.
    expect(offending).toEqual([]);
  });

  it('lists only multi-shard phases that really send a statement spanning tenants', () => {
    const found = problemsByPhase();
    for (const name of Object.keys(MULTI_SHARD)) expect([name, found.has(name)]).toEqual([name, true]);
  });
});

describe('the tenant filter check', () => {
  const check = (sql: string) => tenantFilterProblems(sql, ctx);

  it('accepts equalities on tenant_id with a parameter or a constant, joins on it, and writes that supply it', () => {
    expect(check('SELECT * FROM api_metrics_rollup WHERE tenant_id = $1::uuid AND bucket > now()')).toEqual([]);
    expect(check(`SELECT * FROM api_metrics_rollup r JOIN query_fingerprints f ON f.tenant_id = r.tenant_id WHERE r.tenant_id = '${TENANT}'`)).toEqual([]);
    expect(check('SELECT (SELECT count(*) FROM query_fingerprints f WHERE f.tenant_id = c.tenant_id) FROM performance_metrics_cache c WHERE c.tenant_id = $1')).toEqual([]);
    expect(check('INSERT INTO api_performance_log (tenant_id, endpoint) SELECT * FROM unnest($1::uuid[], $2::text[])')).toEqual([]);
    expect(check('COPY api_performance_log (tenant_id, "timestamp") FROM STDIN')).toEqual([]);
    expect(check('SELECT 1 FROM api_tokens WHERE token_hash = $1')).toEqual([]);
  });

  it('refuses a distributed table read without it, under OR, through an IN list, or only through the policy\'s setting', () => {
    expect(check('SELECT * FROM api_metrics_rollup WHERE bucket > now()')).toEqual(['SELECT reads api_metrics_rollup without tenant_id = <value>']);
    expect(check('SELECT * FROM api_metrics_rollup WHERE $1::uuid IS NULL OR tenant_id = $1::uuid')).toHaveLength(1);
    expect(check('SELECT * FROM api_metrics_rollup WHERE tenant_id = ANY($1::uuid[])')).toHaveLength(1);
    expect(check(`SELECT * FROM api_metrics_rollup WHERE tenant_id = current_setting('app.tenant_id')::uuid`)).toHaveLength(1);
    expect(check('SELECT * FROM api_metrics_rollup r JOIN query_fingerprints f ON f.query_hash = r.bucket WHERE r.tenant_id = $1')).toEqual([
      'SELECT reads query_fingerprints (as f) without tenant_id = <value>',
    ]);
    expect(check('UPDATE optimization_recommendations SET resolved = true WHERE id = $1')).toHaveLength(1);
    expect(check('DELETE FROM api_performance_log_default WHERE "timestamp" < $1')).toEqual(['DELETE reads api_performance_log (as api_performance_log_default) without tenant_id = <value>']);
    expect(check('INSERT INTO query_fingerprints (query_hash) VALUES (1)')).toEqual(['INSERT into query_fingerprints without a tenant_id column']);
    expect(check('WITH x AS (SELECT * FROM query_endpoints) SELECT * FROM x')).toHaveLength(1);
    expect(check('SELECT refresh_performance_metrics_incremental(NULL)')).toEqual(['calls refresh_performance_metrics_incremental(), whose body reads or writes distributed tables']);
  });

  it('tells the statements that reach tenant data from the others', () => {
    expect(touchesDistributed('SELECT public.refresh_performance_metrics_incremental(NULL)')).toBe(true);
    expect(touchesDistributed('INSERT INTO query_endpoints (tenant_id) VALUES ($1)')).toBe(true);
    expect(touchesDistributed('SELECT hist_percentile($1::bigint[], 0.95)')).toBe(false);
    expect(touchesDistributed('SELECT id FROM api_tokens WHERE token_hash = $1')).toBe(false);
  });
});
