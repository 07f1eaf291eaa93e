// Reads for /health, /v1/whoami and the scheduler's bookkeeping.
import type { Pool } from 'pg';

export interface CacheFreshness {
  lastUpdated: Date | null;
  stalenessSeconds: number | null;
}

// Takes a pool or a client (the query API reads it inside its read session).
// One tenant's freshness filters by tenant_id = $1 alone, so that a distributed database
// routes it to that tenant's shard (docs/scaling.md); null reads every tenant.
export async function cacheFreshness(pool: Pick<Pool, 'query'>, tenantId: string | null): Promise<CacheFreshness> {
  const columns = 'max(last_updated) AS last_updated, extract(epoch FROM now() - max(last_updated))::float8 AS staleness';
  const result = await pool.query<{ last_updated: Date | null; staleness: number | null }>(
    tenantId === null
      ? `SELECT ${columns} FROM performance_metrics_cache`
      : `SELECT ${columns} FROM performance_metrics_cache WHERE tenant_id = $1::uuid`,
    tenantId === null ? [] : [tenantId],
  );
  const row = result.rows[0];
  return { lastUpdated: row?.last_updated ?? null, stalenessSeconds: row?.staleness ?? null };
}

export async function pingDatabase(pool: Pool): Promise<number> {
  const started = process.hrtime.bigint();
  await pool.query('SELECT 1');
  return Number(process.hrtime.bigint() - started) / 1e6;
}

export async function applySettings(pool: Pool, settings: { apdexTargetMs: number; slowQueryThresholdMs: number }): Promise<void> {
  await pool.query(
    `UPDATE performance_settings SET apdex_target_ms = $1::real, slow_query_threshold_ms = $2::real`,
    [settings.apdexTargetMs, settings.slowQueryThresholdMs],
  );
}

export async function recordJobRun(pool: Pool, job: string, outcome: { ok: true } | { ok: false; error: string }): Promise<void> {
  await pool.query(
    `INSERT INTO scheduler_job_runs AS j (job, last_started, last_success, last_error, last_error_at, failures, runs)
     VALUES ($1::text, now(), CASE WHEN $2::boolean THEN now() END, $3::text, CASE WHEN $2::boolean THEN NULL ELSE now() END,
             CASE WHEN $2::boolean THEN 0 ELSE 1 END, 1)
     ON CONFLICT (job) DO UPDATE SET
       last_started = now(),
       last_success = CASE WHEN $2::boolean THEN now() ELSE j.last_success END,
       last_error = CASE WHEN $2::boolean THEN j.last_error ELSE $3::text END,
       last_error_at = CASE WHEN $2::boolean THEN j.last_error_at ELSE now() END,
       failures = j.failures + CASE WHEN $2::boolean THEN 0 ELSE 1 END,
       runs = j.runs + 1`,
    [job, outcome.ok, outcome.ok ? null : outcome.error],
  );
}

export async function databaseConnections(pool: Pool): Promise<{ active: number; max: number }> {
  const result = await pool.query<{ active: number; max: number }>(
    `SELECT (SELECT count(*)::int FROM pg_stat_activity WHERE datname = current_database()) AS active,
            current_setting('max_connections')::int AS max`,
  );
  return result.rows[0]!;
}

/** Runs fn only if this session gets the job's advisory lock (one replica per job). */
export async function withJobLock<T>(pool: Pool, job: string, fn: () => Promise<T>): Promise<{ ran: boolean; value?: T }> {
  const client = await pool.connect();
  let locked = false;
  try {
    const got = await client.query<{ ok: boolean }>(`SELECT pg_try_advisory_lock(hashtext('agog.job.' || $1::text)) AS ok`, [job]);
    locked = Boolean(got.rows[0]?.ok);
    if (!locked) return { ran: false };
    return { ran: true, value: await fn() };
  } finally {
    if (locked) await client.query(`SELECT pg_advisory_unlock(hashtext('agog.job.' || $1::text))`, [job]).catch(() => undefined);
    client.release();
  }
}
