-- Generated from migrations/citus/distribution-plan.json by `npm run citus:script -w service`;
-- edit the plan, not this file (service/test/citus.distributionPlan.test.ts compares them).
--
-- Turns a migrated single-node schema into a distributed one on Citus. Run it on the
-- coordinator, as a superuser, after `agog-perf migrate` and after the workers were added
-- (citus_add_node), with psql -v ON_ERROR_STOP=1. It can run again: tables that are
-- already Citus tables are skipped. docs/scaling.md explains the plan.
--
-- Distributed by tenant_id, co-located with api_performance_log:
--   api_metrics_rollup: per-tenant request rollups; read per tenant, written by the refresh per tenant
--   api_performance_log: raw request log, the largest table; every read and write is for one tenant
--   api_rollup_pending: rollup deltas of one ingest batch, always of one tenant; co-located so the refresh merges them shard by shard
--   collected_query_stats: pg_stat_statements deltas of a tenant's monitored databases
--   collector_snapshots: last counters of a tenant's monitored databases
--   ingest_idempotency_keys: written in the transaction of a tenant's ingest batch: must be on that batch's shard group so the commit stays on one node
--   optimization_recommendations: findings per tenant
--   performance_metrics_cache: hourly cache per tenant, read by dashboards and the runbook per tenant
--   query_endpoints: which endpoints run a fingerprint, per tenant
--   query_fingerprints: query text once per tenant and fingerprint; joined with the statement rollups on (tenant_id, query_hash)
--   query_metrics_rollup: per-tenant statement rollups
--   query_performance_log: raw statement log; every read and write is for one tenant
--   query_rollup_pending: statement rollup deltas, as api_rollup_pending
--   resource_metrics_rollup: per-tenant resource rollups
--   resource_rollup_pending: resource rollup deltas, as api_rollup_pending
--   system_resource_metrics: raw resource samples; every read and write is for one tenant
-- Reference tables (a copy on every node):
--   api_tokens: looked up by token hash alone, before the tenant is known; admin tokens have no tenant; small and rarely written
--   performance_settings: one row of thresholds read by the refresh and the health score on every node
--   rollup_refresh_state: one row of refresh progress, read and written by the refresh next to distributed tables
-- Local tables (on the coordinator only):
--   agog_schema_history: the migration runner's record; migrations run on the coordinator, which propagates DDL
--   scheduler_job_runs: job bookkeeping of the service replicas; one row per job, never joined with tenant data
--   storage_snapshots: daily sizes of the raw logs taken on the coordinator (on Citus the sizes must come from citus_total_relation_size)

-- 1. The plan.
CREATE TEMPORARY TABLE citus_distribution_plan (table_name, plan) AS VALUES
  ('api_performance_log', 'distributed'),
  ('query_performance_log', 'distributed'),
  ('system_resource_metrics', 'distributed'),
  ('performance_metrics_cache', 'distributed'),
  ('api_metrics_rollup', 'distributed'),
  ('query_metrics_rollup', 'distributed'),
  ('resource_metrics_rollup', 'distributed'),
  ('api_rollup_pending', 'distributed'),
  ('query_rollup_pending', 'distributed'),
  ('resource_rollup_pending', 'distributed'),
  ('query_fingerprints', 'distributed'),
  ('query_endpoints', 'distributed'),
  ('optimization_recommendations', 'distributed'),
  ('collected_query_stats', 'distributed'),
  ('collector_snapshots', 'distributed'),
  ('ingest_idempotency_keys', 'distributed'),
  ('api_tokens', 'reference'),
  ('performance_settings', 'reference'),
  ('rollup_refresh_state', 'reference'),
  ('agog_schema_history', 'local'),
  ('scheduler_job_runs', 'local'),
  ('storage_snapshots', 'local');

-- 2. Refuse, naming every problem, a schema the plan does not fit (the same checks as the
--    test, on plain PostgreSQL: see catalogChecksSql in service/src/db/citusPlan.ts).
DO $check$
DECLARE
  problems text;
BEGIN
  SELECT string_agg(format('%s %s: %s', kind, table_name, detail), E'\n') INTO problems FROM (
    WITH plan AS (
      SELECT table_name::text AS table_name, plan::text AS plan FROM pg_temp.citus_distribution_plan
    ), tables AS (
      SELECT c.oid, c.relname::text AS relname
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
       WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND NOT c.relispartition
    ), planned AS (
      SELECT t.oid, t.relname, p.plan FROM tables t JOIN plan p ON p.table_name = t.relname
    ), distributed AS (
      SELECT oid, relname FROM planned WHERE plan = 'distributed'
    ), tenant_column AS (
      SELECT a.attrelid, a.attnum, a.attnotnull FROM pg_attribute a
       WHERE a.attname = 'tenant_id' AND a.attnum > 0 AND NOT a.attisdropped
    )
    SELECT 'unclassified' AS kind, t.relname AS table_name, 'no plan names this table' AS detail
      FROM tables t WHERE NOT EXISTS (SELECT 1 FROM plan p WHERE p.table_name = t.relname)
    UNION ALL
    SELECT 'missing', p.table_name, 'the plan names a table that does not exist'
      FROM plan p WHERE NOT EXISTS (SELECT 1 FROM tables t WHERE t.relname = p.table_name)
    UNION ALL
    SELECT 'no_tenant_column', d.relname, 'no NOT NULL column ' || 'tenant_id'
      FROM distributed d
     WHERE NOT EXISTS (SELECT 1 FROM tenant_column tc WHERE tc.attrelid = d.oid AND tc.attnotnull)
    UNION ALL
    SELECT 'unique_without_tenant', d.relname, i.indexrelid::regclass::text
      FROM distributed d JOIN pg_index i ON i.indrelid = d.oid
     WHERE i.indisunique
       AND NOT EXISTS (SELECT 1 FROM tenant_column tc
                        WHERE tc.attrelid = d.oid AND tc.attnum = ANY ((i.indkey::int2[])[0:i.indnkeyatts - 1]))
    UNION ALL
    SELECT 'foreign_key', src.relname, con.conname || ' references ' || con.confrelid::regclass::text
      FROM pg_constraint con
      JOIN planned src ON src.oid = con.conrelid
      LEFT JOIN planned dst ON dst.oid = con.confrelid
     WHERE con.contype = 'f'
       AND ((src.plan = 'distributed'
             AND coalesce(dst.plan, 'local') <> 'reference'
             AND NOT (dst.plan = 'distributed' AND EXISTS (
                   SELECT 1 FROM unnest(con.conkey, con.confkey) AS k(src_col, dst_col)
                     JOIN tenant_column s ON s.attrelid = con.conrelid AND s.attnum = k.src_col
                     JOIN tenant_column r ON r.attrelid = con.confrelid AND r.attnum = k.dst_col)))
         OR (src.plan = 'reference' AND dst.plan = 'distributed'))
    UNION ALL
    SELECT 'nested_partitions', d.relname, inh.inhrelid::regclass::text
      FROM distributed d
      JOIN pg_inherits inh ON inh.inhparent = d.oid
      JOIN pg_class part ON part.oid = inh.inhrelid
     WHERE part.relkind = 'p'
    UNION ALL
    SELECT 'transition_trigger', d.relname, tg.tgname::text
      FROM distributed d JOIN pg_trigger tg ON tg.tgrelid = d.oid
     WHERE NOT tg.tgisinternal AND (tg.tgoldtable IS NOT NULL OR tg.tgnewtable IS NOT NULL)
    ORDER BY 1, 2, 3
  ) AS checks;
  IF problems IS NOT NULL THEN
    RAISE EXCEPTION 'this schema does not fit migrations/citus/distribution-plan.json'
      USING DETAIL = problems, HINT = 'see docs/scaling.md';
  END IF;
END
$check$;

-- 3. Distribute: reference tables first, then every distributed table co-located.
CREATE EXTENSION IF NOT EXISTS citus;

DO $distribute$
DECLARE
  t record;
BEGIN
  FOR t IN SELECT table_name FROM pg_temp.citus_distribution_plan WHERE plan = 'reference' ORDER BY table_name LOOP
    IF NOT EXISTS (SELECT 1 FROM pg_dist_partition WHERE logicalrelid = format('public.%I', t.table_name)::regclass) THEN
      PERFORM create_reference_table(format('public.%I', t.table_name));
    END IF;
  END LOOP;
  FOR t IN SELECT table_name FROM pg_temp.citus_distribution_plan WHERE plan = 'distributed'
            ORDER BY table_name <> 'api_performance_log', table_name LOOP
    IF NOT EXISTS (SELECT 1 FROM pg_dist_partition WHERE logicalrelid = format('public.%I', t.table_name)::regclass) THEN
      PERFORM create_distributed_table(format('public.%I', t.table_name), 'tenant_id',
        colocate_with => CASE WHEN t.table_name = 'api_performance_log' THEN 'default' ELSE 'public.api_performance_log' END);
    END IF;
  END LOOP;
END
$distribute$;

-- Rows that were in the tables before are copied to the shards and stay in the
-- coordinator's local tables too; after checking the copy, free that space with
--   SELECT truncate_local_data_after_distributing_table('public.<table>');
