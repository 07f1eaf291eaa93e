// The database logins of the compose stack, on real PostgreSQL: docker/postgres-init/
// 10-roles.sh runs with psql as the PostgreSQL image runs it at a first start, the
// migrations then run as the login it made for them (not a superuser), and the alerting
// login (a member of agog_alerting, migrations/V0.0.41__baseline.sql) runs every
// alert rule's SQL, with the macros expanded as Grafana expands them, for every tenant, but
// reads neither api_performance_log.user_id nor any query text.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { Client } from 'pg';
import { migrate } from '../src/db/migrate';
import { createPool } from '../src/db/pool';
import { withTenantReadSession } from '../src/db/tenantSession';
import { allAlertRules, projectPath } from './support/bundle';
import { createTestDatabase, type TestDatabase } from './support/db';
import { expandPostgresMacros } from './support/grafanaMacros';

const suffix = randomBytes(4).toString('hex');
const OWNER = `agog_t_owner_${suffix}`;
const READER = `agog_t_alerting_${suffix}`;
const PASSWORD = `pw-${randomBytes(8).toString('hex')}`;
const TENANTS = ['aaaaaaaa-0000-4000-8000-00000000000a', 'bbbbbbbb-0000-4000-8000-00000000000b'];

let db: TestDatabase;
let superuser: URL;

function urlFor(user: string): string {
  const url = new URL(db.url);
  url.username = user;
  url.password = PASSWORD;
  return url.toString();
}

async function connect(user: string): Promise<Client> {
  const client = new Client({ connectionString: urlFor(user) });
  await client.connect();
  return client;
}

/** The SQLSTATE of a statement that must fail, or 'ok'. */
async function outcome(client: Client, sql: string): Promise<string> {
  try {
    await client.query(sql);
    return 'ok';
  } catch (err) {
    return (err as { code?: string }).code ?? String(err);
  }
}

beforeAll(async () => {
  db = await createTestDatabase('roles', { migrated: false });
  superuser = new URL(db.serverUrl);
  execFileSync('sh', [projectPath('docker/postgres-init/10-roles.sh')], {
    env: {
      PATH: process.env.PATH,
      PGHOST: superuser.hostname,
      PGPORT: superuser.port || '5432',
      PGPASSWORD: decodeURIComponent(superuser.password),
      POSTGRES_USER: decodeURIComponent(superuser.username),
      POSTGRES_DB: db.name,
      AGOG_DB_USER: OWNER,
      AGOG_DB_PASSWORD: PASSWORD,
      AGOG_ALERTING_DB_USER: READER,
      AGOG_ALERTING_DB_PASSWORD: PASSWORD,
    },
    stdio: 'pipe',
  });
  await migrate(urlFor(OWNER));
}, 120_000);

afterAll(async () => {
  await db?.drop();
  const admin = new Client({ connectionString: db.serverUrl });
  await admin.connect();
  try {
    for (const role of [READER, OWNER]) await admin.query(`DROP ROLE IF EXISTS ${role}`);
  } finally {
    await admin.end();
  }
});

describe('docker/postgres-init/10-roles.sh', () => {
  it('makes two logins that are not superusers, one owning the database', async () => {
    const rows = (
      await db.pool.query(
        `SELECT rolname, rolsuper, rolcreatedb, rolcreaterole,
                pg_has_role(rolname, 'agog_alerting', 'MEMBER') AS alerting,
                pg_has_role(rolname, 'agog_readonly', 'MEMBER') AS readonly,
                rolname = (SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = current_database()) AS owns_database
           FROM pg_roles WHERE rolname = ANY($1::text[]) ORDER BY rolname`,
        [[OWNER, READER]],
      )
    ).rows;
    expect(rows).toEqual([
      { rolname: READER, rolsuper: false, rolcreatedb: false, rolcreaterole: false, alerting: true, readonly: false, owns_database: false },
      { rolname: OWNER, rolsuper: false, rolcreatedb: false, rolcreaterole: true, alerting: false, readonly: true, owns_database: true },
    ]);
  });

  it('lets the owner login open the query API\'s read session (SET LOCAL ROLE agog_readonly)', async () => {
    const pool = createPool(urlFor(OWNER), { max: 1 });
    try {
      const who = await withTenantReadSession(pool, TENANTS[0]!, async (session) => (await session.query('SELECT current_user AS who')).rows[0].who);
      expect(who).toBe('agog_readonly');
    } finally {
      await pool.end();
    }
  });

  it('lets the migrations run as the owner login, not as a superuser', async () => {
    const versions = (await db.pool.query(`SELECT version, installed_by FROM agog_schema_history ORDER BY version`)).rows;
    expect(versions.map((v) => v.version)).toContain('0.0.41');
    expect(new Set(versions.map((v) => v.installed_by))).toEqual(new Set([OWNER]));
  });
});

describe('the alerting login', () => {
  let owner: Client;
  let reader: Client;

  beforeAll(async () => {
    owner = await connect(OWNER);
    // Slow queries of two tenants in the last hour, with user ids and query text that the
    // alerting login must not read.
    for (const tenant of TENANTS) {
      await owner.query(
        `INSERT INTO query_performance_log ("timestamp", query_hash, tenant_id, execution_time_ms, endpoint, query_preview)
         SELECT now() - make_interval(mins => g), 42, $1::uuid, 2500, '/api/orders', 'SELECT secret FROM orders'
           FROM generate_series(1, 5) g`,
        [tenant],
      );
      await owner.query(
        `INSERT INTO api_performance_log ("timestamp", tenant_id, response_time_ms, status_code, method, endpoint, user_id)
         SELECT now() - make_interval(mins => g), $1::uuid, 80, 200, 'GET', '/api/orders', 'user-' || g
           FROM generate_series(1, 5) g`,
        [tenant],
      );
    }
    await owner.query('SELECT refresh_performance_metrics_incremental()');
    reader = await connect(READER);
  });

  afterAll(async () => {
    await reader?.end();
    await owner?.end();
  });

  it('starts read-only and with a 30 s statement timeout', async () => {
    expect((await reader.query('SHOW statement_timeout')).rows[0].statement_timeout).toBe('30s');
    expect((await reader.query('SHOW default_transaction_read_only')).rows[0].default_transaction_read_only).toBe('on');
  });

  it.each(allAlertRules().map((rule) => [rule.uid, rule] as const))('runs the SQL of %s', async (_uid, rule) => {
    const query = rule.data.find((q) => q.datasourceUid !== '__expr__')!;
    const to = new Date();
    const from = new Date(to.getTime() - (query.relativeTimeRange?.from ?? 600) * 1000);
    const result = await reader.query(expandPostgresMacros(query.model.rawSql, { from, to }));
    expect(Array.isArray(result.rows)).toBe(true);
  });

  it('sees every tenant in the rules that label by tenant', async () => {
    const rule = allAlertRules().find((r) => r.uid === 'agog-slow-query-count')!;
    const to = new Date();
    const sql = expandPostgresMacros(rule.data[0]!.model.rawSql, { from: new Date(to.getTime() - 3600_000), to });
    const rows = (await reader.query(sql)).rows;
    expect(rows.map((r) => [r.tenant, r.slow_queries]).sort()).toEqual(TENANTS.map((t) => [t, 5]));
  });

  it('cannot read user ids, query text, tokens or any table the rules do not read', async () => {
    const denied = [
      'SELECT user_id FROM api_performance_log',
      'SELECT * FROM api_performance_log',
      'SELECT query_preview FROM query_performance_log',
      'SELECT * FROM query_performance_log',
      'SELECT query_preview FROM query_fingerprints',
      'SELECT query_hash FROM query_metrics_rollup',
      'SELECT * FROM api_tokens',
      'SELECT * FROM optimization_recommendations',
      'SELECT * FROM system_resource_metrics',
    ];
    const outcomes = [];
    for (const sql of denied) outcomes.push([sql, await outcome(reader, sql)]);
    expect(outcomes).toEqual(denied.map((sql) => [sql, '42501']));
  });

  it('is the only role that may run the functions counting collected statements for the rules', async () => {
    const roles = ['agog_alerting', 'agog_readonly', 'agog_app', 'public'];
    const functions = ['alert_query_counts(timestamptz, timestamptz)', 'alert_collected_slow_calls(timestamptz, timestamptz)'];
    const grants = [];
    for (const fn of functions) {
      for (const role of roles) {
        const { rows } = await db.pool.query(
          `SELECT coalesce(bool_or(a.privilege_type = 'EXECUTE'), false) AS granted
             FROM pg_proc p, aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) a
            WHERE p.oid = $1::regprocedure
              AND a.grantee = CASE WHEN $2 = 'public' THEN 0 ELSE $2::regrole::oid END`,
          [fn, role],
        );
        grants.push([fn, role, rows[0].granted]);
      }
    }
    expect(grants).toEqual(functions.flatMap((fn) => roles.map((role) => [fn, role, role === 'agog_alerting'])));
  });

  it('cannot write, even after lifting the read-only default', async () => {
    await reader.query('SET default_transaction_read_only = off');
    expect(await outcome(reader, `DELETE FROM query_performance_log`)).toBe('42501');
    expect(await outcome(reader, `SELECT refresh_performance_metrics_incremental()`)).toBe('42501');
  });

  it('can lift its own statement timeout: the residual risk SECURITY.md names', async () => {
    await reader.query(`SELECT set_config('statement_timeout', '0', false)`);
    expect((await reader.query('SHOW statement_timeout')).rows[0].statement_timeout).toBe('0');
  });
});
