-- Rollback of V0.0.41__rollups_histograms_tokens.sql: removes the rollups, histograms,
-- tokens and scheduler tables, and puts back V0.0.40's refresh and summary functions
-- by re-running their definitions from V0.0.40 (copy them from that file when needed).
-- Simplest complete undo: run this file, then rollback_V0.0.40.sql.
BEGIN;

DROP TRIGGER IF EXISTS api_performance_log_rollup_delta ON api_performance_log;
DROP TRIGGER IF EXISTS query_performance_log_rollup_delta ON query_performance_log;
DROP TRIGGER IF EXISTS system_resource_metrics_rollup_delta ON system_resource_metrics;
DROP FUNCTION IF EXISTS api_performance_log_rollup_delta();
DROP FUNCTION IF EXISTS query_performance_log_rollup_delta();
DROP FUNCTION IF EXISTS system_resource_metrics_rollup_delta();

DROP TABLE IF EXISTS api_rollup_pending, query_rollup_pending, resource_rollup_pending,
  api_metrics_rollup, query_metrics_rollup, query_fingerprints, query_endpoints,
  resource_metrics_rollup, rollup_refresh_state, performance_settings, api_tokens,
  scheduler_job_runs;

ALTER TABLE IF EXISTS performance_metrics_cache
  DROP COLUMN IF EXISTS client_error_count, DROP COLUMN IF EXISTS satisfied_count,
  DROP COLUMN IF EXISTS tolerating_count, DROP COLUMN IF EXISTS latency_hist,
  DROP COLUMN IF EXISTS p50_response_time_ms, DROP COLUMN IF EXISTS p99_response_time_ms,
  DROP COLUMN IF EXISTS max_cpu_usage_percent, DROP COLUMN IF EXISTS memory_total_mb,
  DROP COLUMN IF EXISTS pool_max, DROP COLUMN IF EXISTS apdex,
  DROP COLUMN IF EXISTS latency_deduction, DROP COLUMN IF EXISTS error_deduction,
  DROP COLUMN IF EXISTS slow_query_deduction, DROP COLUMN IF EXISTS resource_deduction,
  DROP COLUMN IF EXISTS health_model_version;

DROP FUNCTION IF EXISTS refresh_performance_metrics_incremental(uuid);
DROP FUNCTION IF EXISTS get_performance_summary(uuid, integer);
DROP FUNCTION IF EXISTS health_score_components(bigint, bigint, bigint, bigint, bigint, bigint,
  double precision, double precision, double precision, integer, integer);
DROP FUNCTION IF EXISTS hist_percentile(bigint[], double precision);
DROP AGGREGATE IF EXISTS hist_union(bigint[]);
DROP FUNCTION IF EXISTS hist_merge(bigint[], bigint[]);
DROP FUNCTION IF EXISTS hist_from_buckets(integer[]);
DROP FUNCTION IF EXISTS latency_bucket_value(bigint);
DROP FUNCTION IF EXISTS latency_bucket(double precision);

DO $history$
BEGIN
  IF to_regclass('agog_schema_history') IS NOT NULL THEN
    DELETE FROM agog_schema_history WHERE version = '0.0.41';
  END IF;
END
$history$;

COMMIT;
