-- Rollback of V0.0.41__baseline.sql: removes everything the baseline added (tables,
-- columns, functions in both histogram forms, policies and grants) and puts back what it
-- replaced of V0.0.40: the refresh, summary and upkeep functions (copied from that file),
-- the resource log's b-tree index in place of its BRIN index, and the per-row policies.
-- The raw logs keep their rows: query_preview gets each fingerprint's text back where it
-- is NULL (a rewrite of those rows: on a large log, run it in a maintenance window) and
-- is NOT NULL again. The role agog_alerting is cluster-wide and stays while logins are
-- members of it; drop it by hand after them. Run before rollback_V0.0.40.sql.
BEGIN;

-- The text of each fingerprint back into the raw rows, while query_fingerprints exists.
UPDATE query_performance_log l SET query_preview = f.query_preview
  FROM query_fingerprints f
 WHERE l.query_preview IS NULL AND f.tenant_id = l.tenant_id AND f.query_hash = l.query_hash;
UPDATE query_performance_log SET query_preview = '' WHERE query_preview IS NULL;
ALTER TABLE query_performance_log ALTER COLUMN query_preview SET NOT NULL;
COMMENT ON TABLE query_performance_log IS
  'One row per observed database query. query_preview is the normalized query text (literals replaced by placeholders), at most 500 characters.';
COMMENT ON COLUMN query_performance_log.query_preview IS NULL;

DROP POLICY IF EXISTS alerting_all_tenants ON performance_metrics_cache;
DROP POLICY IF EXISTS alerting_all_tenants ON query_performance_log;
DO $revoke$
BEGIN
  IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'agog_alerting') THEN
    REVOKE ALL ON performance_metrics_cache, query_performance_log FROM agog_alerting;
    REVOKE USAGE ON SCHEMA public FROM agog_alerting;
  END IF;
END
$revoke$;

DROP TABLE IF EXISTS api_rollup_pending, query_rollup_pending, resource_rollup_pending,
  api_metrics_rollup, query_metrics_rollup, query_fingerprints, query_endpoints,
  resource_metrics_rollup, rollup_refresh_state, performance_settings, api_tokens,
  scheduler_job_runs, optimization_recommendations, storage_snapshots,
  ingest_idempotency_keys, collected_query_stats, collector_snapshots;

ALTER TABLE IF EXISTS performance_metrics_cache
  DROP COLUMN IF EXISTS client_error_count, DROP COLUMN IF EXISTS satisfied_count,
  DROP COLUMN IF EXISTS tolerating_count, DROP COLUMN IF EXISTS latency_hist,
  DROP COLUMN IF EXISTS p50_response_time_ms, DROP COLUMN IF EXISTS p99_response_time_ms,
  DROP COLUMN IF EXISTS max_cpu_usage_percent, DROP COLUMN IF EXISTS memory_total_mb,
  DROP COLUMN IF EXISTS pool_max, DROP COLUMN IF EXISTS apdex,
  DROP COLUMN IF EXISTS latency_deduction, DROP COLUMN IF EXISTS error_deduction,
  DROP COLUMN IF EXISTS slow_query_deduction, DROP COLUMN IF EXISTS resource_deduction,
  DROP COLUMN IF EXISTS health_model_version;
COMMENT ON COLUMN performance_metrics_cache.health_score IS NULL;

DROP FUNCTION IF EXISTS alert_query_counts(timestamptz, timestamptz);
DROP FUNCTION IF EXISTS alert_collected_slow_calls(timestamptz, timestamptz);
DROP FUNCTION IF EXISTS merge_collected_into_cache(uuid, timestamptz, timestamptz);
DROP FUNCTION IF EXISTS merged_query_counts(timestamptz, timestamptz);
DROP FUNCTION IF EXISTS refresh_performance_metrics_incremental(uuid);
DROP FUNCTION IF EXISTS get_performance_summary(uuid, integer);
DROP FUNCTION IF EXISTS health_score_components(bigint, bigint, bigint, bigint, bigint, bigint,
  double precision, double precision, double precision, integer, integer);
DROP FUNCTION IF EXISTS fine_rollup_start(timestamptz);
DROP AGGREGATE IF EXISTS hist_union(bytea);
DROP FUNCTION IF EXISTS hist_percentile(bytea, double precision);
DROP FUNCTION IF EXISTS hist_merge(bytea, bytea);
DROP FUNCTION IF EXISTS hist_unpack(bytea);
DROP FUNCTION IF EXISTS hist_pack(bigint[]);
DROP FUNCTION IF EXISTS hist_element(bigint, bigint);
DROP FUNCTION IF EXISTS hist_split_element(bigint, bigint);
DROP FUNCTION IF EXISTS hist_values(bytea);
DROP FUNCTION IF EXISTS hist_percentile(bigint[], double precision);
DROP AGGREGATE IF EXISTS hist_union(bigint[]);
DROP FUNCTION IF EXISTS hist_merge(bigint[], bigint[]);
DROP FUNCTION IF EXISTS hist_from_buckets(integer[]);
DROP FUNCTION IF EXISTS latency_bucket_value(bigint);
DROP FUNCTION IF EXISTS latency_bucket(double precision);

-- V0.0.40's BRIN indexes on the request and query logs, without autosummarize.
DROP INDEX IF EXISTS query_performance_log_timestamp_brin;
CREATE INDEX query_performance_log_timestamp_brin
  ON query_performance_log USING brin ("timestamp") WITH (pages_per_range = 32);
COMMENT ON INDEX query_performance_log_timestamp_brin IS
  'Time-window scans: rollup refresh, recent slow queries, N+1 detection, runbook 1-hour/24-hour filters.';
DROP INDEX IF EXISTS api_performance_log_timestamp_brin;
CREATE INDEX api_performance_log_timestamp_brin
  ON api_performance_log USING brin ("timestamp") WITH (pages_per_range = 32);
COMMENT ON INDEX api_performance_log_timestamp_brin IS
  'Time-window scans: rollup refresh and short-range raw reads of requests.';

-- V0.0.40's b-tree on the resource log, in place of the BRIN index.
DROP INDEX IF EXISTS system_resource_metrics_timestamp_brin;
CREATE INDEX IF NOT EXISTS system_resource_metrics_tenant_time
  ON system_resource_metrics (tenant_id, "timestamp");
COMMENT ON INDEX system_resource_metrics_tenant_time IS
  'Resource series per tenant and time range (resources panels, pool saturation detector).';

-- V0.0.40's policies read the setting per row again.
DO $policies$
DECLARE
  v_table text;
BEGIN
  FOREACH v_table IN ARRAY ARRAY['query_performance_log', 'api_performance_log', 'system_resource_metrics',
                                 'performance_metrics_cache']
  LOOP
    EXECUTE format(
      'ALTER POLICY tenant_isolation_app ON %I
         USING (tenant_id = nullif(current_setting(''app.tenant_id'', true), '''')::uuid)', v_table);
    EXECUTE format(
      'ALTER POLICY tenant_scope_readonly ON %I
         USING (nullif(current_setting(''app.tenant_id'', true), '''') IS NULL
                OR tenant_id = nullif(current_setting(''app.tenant_id'', true), '''')::uuid)', v_table);
  END LOOP;
END
$policies$;

-- V0.0.40's functions, as that file defines them.
CREATE OR REPLACE FUNCTION maintain_performance_partitions(
  p_months_ahead integer  DEFAULT 3,
  p_retention    interval DEFAULT interval '30 days',
  p_now          timestamptz DEFAULT now()
) RETURNS TABLE (action text, table_name text, detail text)
LANGUAGE plpgsql
SET search_path = public, pg_temp
AS $fn$
DECLARE
  v_parent     text;
  v_month      date;
  v_next       date;
  v_partition  text;
  v_default    text;
  v_moved      bigint;
  v_cutoff     timestamptz := p_now - p_retention;
  v_rec        record;
BEGIN
  IF p_months_ahead < 0 OR p_months_ahead > 24 THEN
    RAISE EXCEPTION 'p_months_ahead must be between 0 and 24, got %', p_months_ahead;
  END IF;
  IF p_retention < interval '1 day' THEN
    RAISE EXCEPTION 'p_retention must be at least 1 day, got %', p_retention;
  END IF;

  -- One upkeep at a time across all sessions and replicas.
  PERFORM pg_advisory_xact_lock(hashtext('agog.maintain_performance_partitions'));

  FOREACH v_parent IN ARRAY ARRAY['query_performance_log', 'api_performance_log', 'system_resource_metrics']
  LOOP
    v_default := v_parent || '_default';

    -- Create the current month and the months ahead.
    FOR i IN 0 .. p_months_ahead LOOP
      v_month := (date_trunc('month', p_now AT TIME ZONE 'UTC') + make_interval(months => i))::date;
      v_next := (v_month + interval '1 month')::date;
      v_partition := v_parent || '_' || to_char(v_month, 'YYYY_MM');

      CONTINUE WHEN to_regclass(format('%I', v_partition)) IS NOT NULL;

      -- Build the partition standalone, move the DEFAULT partition's rows of this
      -- range into it, then attach: attaching checks the DEFAULT partition holds no
      -- row of the new range, which is now true.
      EXECUTE format('CREATE TABLE %I (LIKE %I INCLUDING DEFAULTS INCLUDING CONSTRAINTS)',
                     v_partition, v_parent);
      EXECUTE format(
        'WITH moved AS (DELETE FROM %I WHERE "timestamp" >= %L::timestamptz AND "timestamp" < %L::timestamptz RETURNING *)
         INSERT INTO %I SELECT * FROM moved',
        v_default, v_month::text || ' 00:00:00+00', v_next::text || ' 00:00:00+00', v_partition);
      GET DIAGNOSTICS v_moved = ROW_COUNT;
      EXECUTE format('ALTER TABLE %I ATTACH PARTITION %I FOR VALUES FROM (%L) TO (%L)',
                     v_parent, v_partition,
                     v_month::text || ' 00:00:00+00', v_next::text || ' 00:00:00+00');

      action := 'created';
      table_name := v_partition;
      detail := CASE WHEN v_moved > 0
                     THEN format('moved %s rows from %s', v_moved, v_default)
                     ELSE 'empty' END;
      RETURN NEXT;
    END LOOP;

    -- Drop monthly partitions whose whole range is older than the retention.
    FOR v_rec IN
      SELECT c.relname AS name,
             (regexp_match(pg_get_expr(c.relpartbound, c.oid),
                           'TO \(''([^'']+)''\)'))[1]::timestamptz AS upper_bound
      FROM pg_inherits i
      JOIN pg_class c ON c.oid = i.inhrelid
      WHERE i.inhparent = format('%I', v_parent)::regclass
        AND c.relname ~ ('^' || v_parent || '_[0-9]{4}_[0-9]{2}$')
      ORDER BY c.relname
    LOOP
      IF v_rec.upper_bound IS NOT NULL AND v_rec.upper_bound <= v_cutoff THEN
        EXECUTE format('DROP TABLE %I', v_rec.name);
        action := 'dropped';
        table_name := v_rec.name;
        detail := format('range ended %s, before retention cutoff %s', v_rec.upper_bound, v_cutoff);
        RETURN NEXT;
      END IF;
    END LOOP;
  END LOOP;
  RETURN;
END
$fn$;

CREATE FUNCTION refresh_performance_metrics_incremental(p_tenant_id uuid DEFAULT NULL)
RETURNS integer
LANGUAGE plpgsql
SET search_path = public, pg_temp
AS $fn$
DECLARE
  v_from    timestamptz := date_trunc('hour', now()) - interval '2 hours';
  v_written integer;
BEGIN
  WITH api AS (
    SELECT tenant_id, date_trunc('hour', "timestamp") AS hour_bucket,
           count(*) AS total_requests,
           count(*) FILTER (WHERE status_code >= 500) AS error_count,
           avg(response_time_ms) AS avg_ms,
           percentile_cont(0.95) WITHIN GROUP (ORDER BY response_time_ms) AS p95_ms
    FROM api_performance_log
    WHERE "timestamp" >= v_from AND (p_tenant_id IS NULL OR tenant_id = p_tenant_id)
    GROUP BY 1, 2
  ), qry AS (
    SELECT tenant_id, date_trunc('hour', "timestamp") AS hour_bucket,
           count(*) AS total_queries,
           count(*) FILTER (WHERE execution_time_ms > 1000) AS slow_query_count,
           avg(execution_time_ms) AS avg_query_ms
    FROM query_performance_log
    WHERE "timestamp" >= v_from AND (p_tenant_id IS NULL OR tenant_id = p_tenant_id)
    GROUP BY 1, 2
  ), res AS (
    SELECT tenant_id, date_trunc('hour', "timestamp") AS hour_bucket,
           avg(cpu_usage_percent) AS avg_cpu,
           max(memory_used_mb) AS max_mem,
           max(active_connections) AS max_conn
    FROM system_resource_metrics
    WHERE "timestamp" >= v_from AND (p_tenant_id IS NULL OR tenant_id = p_tenant_id)
    GROUP BY 1, 2
  ), merged AS (
    SELECT coalesce(a.tenant_id, q.tenant_id, r.tenant_id) AS tenant_id,
           coalesce(a.hour_bucket, q.hour_bucket, r.hour_bucket) AS hour_bucket,
           coalesce(a.total_requests, 0) AS total_requests,
           coalesce(a.error_count, 0) AS error_count,
           a.avg_ms, a.p95_ms,
           coalesce(q.total_queries, 0) AS total_queries,
           coalesce(q.slow_query_count, 0) AS slow_query_count,
           q.avg_query_ms, r.avg_cpu, r.max_mem, r.max_conn
    FROM api a
    FULL JOIN qry q USING (tenant_id, hour_bucket)
    FULL JOIN res r ON r.tenant_id = coalesce(a.tenant_id, q.tenant_id)
                   AND r.hour_bucket = coalesce(a.hour_bucket, q.hour_bucket)
  )
  INSERT INTO performance_metrics_cache AS c (
    tenant_id, hour_bucket, total_requests, error_count, avg_response_time_ms,
    p95_response_time_ms, total_queries, slow_query_count, avg_query_time_ms,
    avg_cpu_usage_percent, max_memory_used_mb, max_active_connections, health_score,
    last_updated)
  SELECT m.tenant_id, m.hour_bucket, m.total_requests, m.error_count, m.avg_ms, m.p95_ms,
         m.total_queries, m.slow_query_count, m.avg_query_ms, m.avg_cpu, m.max_mem, m.max_conn,
         greatest(0, 100
           - least(40, greatest(0, coalesce(m.p95_ms, 0) - 100) / 10)
           - least(30, 300 * m.error_count::numeric / nullif(m.total_requests, 0))
           - least(30, 300 * m.slow_query_count::numeric / nullif(m.total_queries, 0))
         )::numeric(5,2),
         now()
  FROM merged m
  ON CONFLICT (tenant_id, hour_bucket) DO UPDATE SET
    total_requests = EXCLUDED.total_requests,
    error_count = EXCLUDED.error_count,
    avg_response_time_ms = EXCLUDED.avg_response_time_ms,
    p95_response_time_ms = EXCLUDED.p95_response_time_ms,
    total_queries = EXCLUDED.total_queries,
    slow_query_count = EXCLUDED.slow_query_count,
    avg_query_time_ms = EXCLUDED.avg_query_time_ms,
    avg_cpu_usage_percent = EXCLUDED.avg_cpu_usage_percent,
    max_memory_used_mb = EXCLUDED.max_memory_used_mb,
    max_active_connections = EXCLUDED.max_active_connections,
    health_score = EXCLUDED.health_score,
    last_updated = EXCLUDED.last_updated;
  GET DIAGNOSTICS v_written = ROW_COUNT;
  RETURN v_written;
END
$fn$;

CREATE FUNCTION get_performance_summary(p_tenant_id uuid, p_hours integer DEFAULT 24)
RETURNS TABLE (
  total_requests bigint,
  avg_response_time_ms double precision,
  p95_response_time_ms double precision,
  error_rate double precision,
  total_queries bigint,
  slow_query_count bigint,
  health_score numeric,
  last_updated timestamptz
)
LANGUAGE sql STABLE
SET search_path = public, pg_temp
AS $fn$
  SELECT coalesce(sum(c.total_requests), 0)::bigint,
         sum(c.avg_response_time_ms * c.total_requests) / nullif(sum(c.total_requests), 0),
         max(c.p95_response_time_ms),
         sum(c.error_count)::double precision / nullif(sum(c.total_requests), 0),
         coalesce(sum(c.total_queries), 0)::bigint,
         coalesce(sum(c.slow_query_count), 0)::bigint,
         round(coalesce(sum(c.health_score * c.total_requests) / nullif(sum(c.total_requests), 0),
                        avg(c.health_score)), 2),
         max(c.last_updated)
  FROM performance_metrics_cache c
  WHERE c.tenant_id = p_tenant_id
    AND c.hour_bucket >= date_trunc('hour', now()) - make_interval(hours => greatest(p_hours, 1) - 1)
$fn$;

COMMENT ON FUNCTION maintain_performance_partitions(integer, interval, timestamptz) IS
  'Creates monthly partitions for the current month and p_months_ahead more, moving matching rows out of the DEFAULT partition; drops monthly partitions older than p_retention; never drops DEFAULT partitions. Idempotent; serialized by an advisory lock.';
COMMENT ON FUNCTION refresh_performance_metrics_incremental(uuid) IS
  'Recomputes the cache rows of the last three hours from the raw logs for one tenant (NULL: all); returns the number of cache rows written.';
COMMENT ON FUNCTION get_performance_summary(uuid, integer) IS
  'Summary of the hourly cache over the last p_hours hours for one tenant: totals, weighted averages, the highest hourly p95 and the request-weighted health score.';

GRANT EXECUTE ON FUNCTION get_performance_summary(uuid, integer) TO agog_app, agog_readonly;
GRANT EXECUTE ON FUNCTION refresh_performance_metrics_incremental(uuid) TO agog_app;
REVOKE EXECUTE ON FUNCTION maintain_performance_partitions(integer, interval, timestamptz) FROM PUBLIC;

DO $history$
BEGIN
  IF to_regclass('agog_schema_history') IS NOT NULL THEN
    DELETE FROM agog_schema_history WHERE version = '0.0.41';
  END IF;
END
$history$;

COMMIT;
