// The provisioned alert rules (alerts/rules-*.yaml): each rule's SQL runs as the alerting
// data source's role (agog_alerting) on the migrated schema, with Grafana's macros expanded
// as Grafana expands them, and its condition is true on data that should alert and false on
// data that should not. Every scenario runs in a transaction that is rolled back.
import type { PoolClient } from 'pg';
import { evaluateRule, type Evaluation } from '../support/alertEvaluation';
import { allAlertRules, type AlertRule } from '../support/bundle';
import { createTestDatabase, type TestDatabase } from '../support/db';
import { expandPostgresMacros } from '../support/grafanaMacros';
import { insertRows } from '../support/queryData';

const TENANT_A = 'aaaaaaaa-0000-4000-8000-00000000000a';
const TENANT_B = 'bbbbbbbb-0000-4000-8000-00000000000b';
const TENANT_C = 'cccccccc-0000-4000-8000-00000000000c';

const rules = new Map(allAlertRules().map((rule) => [rule.uid, rule]));
function rule(uid: string): AlertRule {
  const found = rules.get(uid);
  if (!found) throw new Error(`no alert rule with uid ${uid}`);
  return found;
}

/** Statements on a scenario's transaction; `client` is that transaction's connection. */
type Sql = ((text: string, params?: unknown[]) => Promise<Record<string, any>[]>) & { client: PoolClient };

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase('grafana_alerts');
});
afterAll(async () => {
  await db.drop();
});

/** Runs fn in a transaction as the owner (who writes test data), then rolls back. */
async function scenario<T>(fn: (sql: Sql, client: PoolClient) => Promise<T>): Promise<T> {
  const client = await db.pool.connect();
  try {
    await client.query('BEGIN');
    return await fn(Object.assign(async (text: string, params?: unknown[]) => (await client.query(text, params)).rows, { client }), client);
  } finally {
    await client.query('ROLLBACK').catch(() => undefined);
    client.release();
  }
}

/** Evaluates a rule as Grafana would at the transaction's now(): macros, agog_alerting, expressions. */
async function evaluate(sql: Sql, alertRule: AlertRule): Promise<Evaluation & { rows: Record<string, unknown>[] }> {
  const query = alertRule.data.find((q) => q.datasourceUid !== '__expr__')!;
  const [{ now }] = (await sql('SELECT now() AS now')) as [{ now: Date }];
  const range = query.relativeTimeRange ?? { from: 600, to: 0 };
  const expanded = expandPostgresMacros(query.model.rawSql, {
    from: new Date(now.getTime() - range.from * 1000),
    to: new Date(now.getTime() - range.to * 1000),
  });
  await sql('SET LOCAL ROLE agog_alerting');
  try {
    const rows = await sql(expanded);
    return { ...evaluateRule(alertRule, rows), rows };
  } finally {
    await sql('RESET ROLE');
  }
}

function firingLabels(result: Evaluation, label = 'tenant'): string[] {
  return result.instances.filter((i) => i.firing).map((i) => i.labels[label]!).sort();
}

/** count requests for a tenant at now() - ago, with the given latency and status. */
async function requests(sql: Sql, tenant: string, count: number, ms: number, status = 200, ago = '10 minutes', endpoint = '/api/orders') {
  await insertRows(sql.client,
    `INSERT INTO api_performance_log ("timestamp", tenant_id, response_time_ms, status_code, method, endpoint)
     SELECT now() - $5::interval - make_interval(secs => g % 60), $1::uuid, $2::real, $3::smallint, 'GET', $4::text
       FROM generate_series(1, $6::int) g`,
    [tenant, ms, status, endpoint, ago, count],
  );
}

async function queries(sql: Sql, tenant: string, count: number, ms: number, ago = '10 minutes') {
  await insertRows(sql.client,
    `INSERT INTO query_performance_log ("timestamp", query_hash, tenant_id, execution_time_ms, endpoint, query_preview)
     SELECT now() - $4::interval - make_interval(secs => g % 60), 42, $1::uuid, $2::real, '/api/orders', 'SELECT * FROM orders WHERE id = $1'
       FROM generate_series(1, $3::int) g`,
    [tenant, ms, count, ago],
  );
}

/** A collection round's figures: a fingerprint's calls collected from pg_stat_statements at now() - ago. */
async function collected(sql: Sql, tenant: string, hash: number, calls: number, slowCalls: number, ago = '5 minutes') {
  await sql(
    `INSERT INTO collected_query_stats AS c (tenant_id, resolution, bucket, query_hash, source, rounds, calls, total_ms, sum_squares_ms,
                                             rows_sum, slow_calls, shared_blks_hit, shared_blks_read, last_round_at)
     SELECT $1::uuid, r, date_bin(w, now() - $5::interval, timestamptz '2000-01-01 00:00:00+00'), $2::bigint, 'db', 1, $3::bigint,
            $3::bigint * 10, $3::bigint * 100, 0, $4::bigint, 0, 0, now() - $5::interval
       FROM (VALUES ('5m', interval '5 minutes'), ('1h', interval '1 hour')) AS v(r, w)
     ON CONFLICT (tenant_id, resolution, bucket, query_hash, source) DO UPDATE SET
       calls = c.calls + EXCLUDED.calls, slow_calls = c.slow_calls + EXCLUDED.slow_calls, total_ms = c.total_ms + EXCLUDED.total_ms`,
    [tenant, hash, calls, slowCalls, ago],
  );
}

async function resources(
  sql: Sql,
  tenant: string,
  source: string,
  sample: { cpu: number; memoryMb: number; memoryTotalMb: number | null; connections: number; poolMax: number | null },
  ago = '2 minutes',
) {
  await insertRows(sql.client,
    `INSERT INTO system_resource_metrics ("timestamp", tenant_id, cpu_usage_percent, memory_used_mb, memory_total_mb, active_connections, pool_max, source)
     SELECT now() - $8::interval - make_interval(secs => g), $1::uuid, $2::real, $3::real, $4::real, $5::int, $6::int, $7::text
       FROM generate_series(1, 10) g`,
    [tenant, sample.cpu, sample.memoryMb, sample.memoryTotalMb, sample.connections, sample.poolMax, source, ago],
  );
}

async function refresh(sql: Sql) {
  await sql('SELECT refresh_performance_metrics_incremental()');
}

describe('the OLAP cache stale rule (critical)', () => {
  const stale = () => rule('agog-cache-stale');

  it('alerts when the cache is empty, because a cache never refreshed is stale', async () => {
    const result = await scenario((sql) => evaluate(sql, stale()));
    expect(result.instances).toHaveLength(1);
    expect(result.firing).toBe(true);
  });

  it('alerts when the newest refresh is more than 10 minutes old', async () => {
    const result = await scenario(async (sql) => {
      await requests(sql, TENANT_A, 10, 20);
      await refresh(sql);
      await sql(`UPDATE performance_metrics_cache SET last_updated = now() - interval '11 minutes'`);
      return evaluate(sql, stale());
    });
    expect(result.instances[0]!.value).toBeGreaterThan(600);
    expect(result.firing).toBe(true);
  });

  it('stays quiet when one tenant was refreshed 2 minutes ago, even if another is older', async () => {
    const result = await scenario(async (sql) => {
      await requests(sql, TENANT_A, 10, 20);
      await requests(sql, TENANT_B, 10, 20);
      await refresh(sql);
      await sql(`UPDATE performance_metrics_cache SET last_updated = now() - interval '2 minutes' WHERE tenant_id = $1`, [TENANT_A]);
      await sql(`UPDATE performance_metrics_cache SET last_updated = now() - interval '3 hours' WHERE tenant_id = $1`, [TENANT_B]);
      return evaluate(sql, stale());
    });
    expect(result.instances[0]!.value).toBeCloseTo(120, 0);
    expect(result.firing).toBe(false);
  });

  it('alerts on no data at all rather than staying quiet', () => {
    expect(stale().noDataState).toBe('Alerting');
    expect(evaluateRule(stale(), []).firing).toBe(true);
  });
});

describe('the partition count rule (warning)', () => {
  it('stays quiet on a freshly migrated schema', async () => {
    const result = await scenario((sql) => evaluate(sql, rule('agog-partition-count')));
    expect(result.instances.map((i) => i.labels.log_table).sort()).toEqual(['api_performance_log', 'query_performance_log', 'system_resource_metrics']);
    expect(result.firing).toBe(false);
  });

  it('alerts for the log table that has more than 35 partitions, and only for it', async () => {
    const result = await scenario(async (sql) => {
      for (let month = 0; month < 36; month++) {
        const start = new Date(Date.UTC(2020, month, 1)).toISOString();
        const end = new Date(Date.UTC(2020, month + 1, 1)).toISOString();
        const suffix = start.slice(0, 7).replace('-', '_');
        await sql(`CREATE TABLE query_performance_log_${suffix} PARTITION OF query_performance_log FOR VALUES FROM ('${start}') TO ('${end}')`);
      }
      return evaluate(sql, rule('agog-partition-count'));
    });
    expect(firingLabels(result, 'log_table')).toEqual(['query_performance_log']);
  });
});

describe('the health score rule (critical, per tenant)', () => {
  it('alerts for the tenant whose last hour scores under 60, not for the healthy one', async () => {
    const result = await scenario(async (sql) => {
      await requests(sql, TENANT_A, 200, 20);
      await queries(sql, TENANT_A, 100, 5);
      // Tenant B: every request slower than 4 x the 100 ms Apdex target, 10 % server errors.
      await requests(sql, TENANT_B, 180, 900);
      await requests(sql, TENANT_B, 20, 900, 503);
      await refresh(sql);
      return evaluate(sql, rule('agog-health-critical'));
    });
    const byTenant = Object.fromEntries(result.instances.map((i) => [i.labels.tenant, i.value]));
    expect(byTenant[TENANT_A]).toBeGreaterThanOrEqual(80);
    expect(byTenant[TENANT_B]).toBeLessThan(60);
    expect(firingLabels(result)).toEqual([TENANT_B]);
  });

  it('counts a statement reported and collected once, by its collected calls', async () => {
    const result = await scenario(async (sql) => {
      await requests(sql, TENANT_A, 200, 20);
      await queries(sql, TENANT_A, 100, 5); // fingerprint 42, none slow as reported
      await collected(sql, TENANT_A, 42, 100, 5); // the same 100 calls collected, 5 slow
      await refresh(sql);
      return evaluate(sql, rule('agog-health-critical'));
    });
    // 150 x 5 / 100 = 7.5 off; counted twice (5 of 200) it would be 3.75, reported only 0.
    expect(result.instances.map((i) => i.value)).toEqual([92.5]);
  });

  it('ignores hours before the last one', async () => {
    const result = await scenario(async (sql) => {
      await requests(sql, TENANT_B, 200, 900, 503, '3 hours');
      await requests(sql, TENANT_B, 200, 20, 200, '10 minutes');
      await refresh(sql);
      return evaluate(sql, rule('agog-health-critical'));
    });
    expect(result.instances).toHaveLength(1);
    expect(result.firing).toBe(false);
  });

  it('stays OK, rather than raising no-data, for a system without traffic', async () => {
    const result = await scenario((sql) => evaluate(sql, rule('agog-health-critical')));
    expect(result.noData).toBe(true);
    expect(result.firing).toBe(false);
  });
});

describe('the p95 response time rule (warning, per tenant)', () => {
  it('alerts when p95 over the last 15 minutes is above 100 ms, and ignores tenants with too few requests', async () => {
    const result = await scenario(async (sql) => {
      await requests(sql, TENANT_A, 100, 30, 200, '5 minutes');
      await requests(sql, TENANT_B, 90, 40, 200, '5 minutes');
      await requests(sql, TENANT_B, 10, 400, 200, '5 minutes');
      await requests(sql, TENANT_C, 5, 900, 200, '5 minutes');
      await refresh(sql);
      return evaluate(sql, rule('agog-p95-latency'));
    });
    const byTenant = Object.fromEntries(result.instances.map((i) => [i.labels.tenant, i.value]));
    expect(byTenant[TENANT_A]).toBeCloseTo(30, -1);
    expect(byTenant[TENANT_B]).toBeGreaterThan(100);
    expect(byTenant[TENANT_C]).toBeUndefined();
    expect(firingLabels(result)).toEqual([TENANT_B]);
  });

  it('does not count slow requests older than the window', async () => {
    const result = await scenario(async (sql) => {
      await requests(sql, TENANT_B, 100, 500, 200, '40 minutes');
      await requests(sql, TENANT_B, 100, 30, 200, '5 minutes');
      await refresh(sql);
      return evaluate(sql, rule('agog-p95-latency'));
    });
    expect(result.instances).toHaveLength(1);
    expect(result.firing).toBe(false);
  });
});

describe('the slow query count rule (warning, per tenant)', () => {
  it('alerts above 100 slow queries in the last hour and not at 100 or below', async () => {
    const result = await scenario(async (sql) => {
      await queries(sql, TENANT_A, 101, 1500);
      await queries(sql, TENANT_B, 100, 1500);
      await queries(sql, TENANT_B, 500, 3);
      await queries(sql, TENANT_C, 300, 1500, '2 hours');
      await queries(sql, TENANT_C, 10, 3);
      return evaluate(sql, rule('agog-slow-query-count'));
    });
    const byTenant = Object.fromEntries(result.instances.map((i) => [i.labels.tenant, i.value]));
    expect(byTenant).toEqual({ [TENANT_A]: 101, [TENANT_B]: 100, [TENANT_C]: 0 });
    expect(firingLabels(result)).toEqual([TENANT_A]);
  });

  it('counts a fingerprint collected in the hour by its collected slow calls instead of its reported ones', async () => {
    const result = await scenario(async (sql) => {
      // A: 101 reported slow calls of fingerprint 42, which was also collected: 50 slow.
      await queries(sql, TENANT_A, 101, 1500);
      await collected(sql, TENANT_A, 42, 120, 50);
      // B: only collected, 150 slow calls over two rounds; C: collected, but 2 hours ago.
      await collected(sql, TENANT_B, 7, 100, 100, '10 minutes');
      await collected(sql, TENANT_B, 7, 50, 50, '5 minutes');
      await collected(sql, TENANT_C, 7, 500, 500, '2 hours');
      return evaluate(sql, rule('agog-slow-query-count'));
    });
    const byTenant = Object.fromEntries(result.instances.map((i) => [i.labels.tenant, i.value]));
    expect(byTenant).toEqual({ [TENANT_A]: 50, [TENANT_B]: 150 });
    expect(firingLabels(result)).toEqual([TENANT_B]);
  });

  it('counts by the configured slow-query threshold', async () => {
    const result = await scenario(async (sql) => {
      await sql('UPDATE performance_settings SET slow_query_threshold_ms = 200');
      await queries(sql, TENANT_A, 150, 300);
      return evaluate(sql, rule('agog-slow-query-count'));
    });
    expect(firingLabels(result)).toEqual([TENANT_A]);
  });
});

describe('the resource rules (warning, per tenant and source)', () => {
  const busy = { cpu: 92, memoryMb: 3800, memoryTotalMb: 4000, connections: 28, poolMax: 30 };
  const calm = { cpu: 40, memoryMb: 1000, memoryTotalMb: 4000, connections: 10, poolMax: 30 };

  async function evaluateAll(setup: (sql: Sql) => Promise<void>) {
    return scenario(async (sql) => {
      await setup(sql);
      await refresh(sql);
      return {
        cpu: await evaluate(sql, rule('agog-cpu-high')),
        memory: await evaluate(sql, rule('agog-memory-high')),
        connections: await evaluate(sql, rule('agog-connections-high')),
      };
    });
  }

  it('alert for the busy source and not for the calm one', async () => {
    const result = await evaluateAll(async (sql) => {
      await resources(sql, TENANT_A, 'busy-host', busy);
      await resources(sql, TENANT_A, 'calm-host', calm);
    });
    for (const evaluation of [result.cpu, result.memory, result.connections]) {
      expect(firingLabels(evaluation, 'source')).toEqual(['busy-host']);
      expect(evaluation.instances.every((i) => i.labels.tenant === TENANT_A)).toBe(true);
    }
    expect(result.cpu.instances.find((i) => i.labels.source === 'busy-host')!.value).toBeCloseTo(92, 0);
    expect(result.memory.instances.find((i) => i.labels.source === 'busy-host')!.value).toBeCloseTo(95, 0);
    expect(result.connections.instances.find((i) => i.labels.source === 'busy-host')!.value).toBeCloseTo(93.3, 0);
  });

  it('stay quiet at the thresholds themselves (80 %, 90 %, 90 % of the pool)', async () => {
    const result = await evaluateAll(async (sql) => {
      await resources(sql, TENANT_A, 'edge-host', { cpu: 80, memoryMb: 3600, memoryTotalMb: 4000, connections: 27, poolMax: 30 });
    });
    expect(result.cpu.firing).toBe(false);
    expect(result.memory.firing).toBe(false);
    expect(result.connections.firing).toBe(false);
  });

  it('ignore samples older than the 10-minute window', async () => {
    const result = await evaluateAll(async (sql) => {
      await resources(sql, TENANT_A, 'busy-host', busy, '45 minutes');
    });
    expect(result.cpu.instances).toHaveLength(0);
    expect(result.cpu.firing).toBe(false);
  });

  it('skip memory and pool rules for sources that report no total or pool maximum', async () => {
    const result = await evaluateAll(async (sql) => {
      await resources(sql, TENANT_A, 'bare-host', { ...busy, memoryTotalMb: null, poolMax: null });
    });
    expect(firingLabels(result.cpu, 'source')).toEqual(['bare-host']);
    expect(result.memory.instances).toHaveLength(0);
    expect(result.connections.instances).toHaveLength(0);
  });
});
