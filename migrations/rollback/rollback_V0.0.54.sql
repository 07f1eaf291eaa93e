-- Rollback of V0.0.54__alerting_reader.sql: removes agog_alerting's grants and policies
-- (the role itself stays while logins are members of it; drop it by hand after them).
-- Point Grafana's alerting data source at a member of agog_readonly again before running
-- it. Run before rollback_V0.0.53.sql.
BEGIN;

DROP POLICY IF EXISTS alerting_all_tenants ON performance_metrics_cache;
DROP POLICY IF EXISTS alerting_all_tenants ON api_metrics_rollup;
DROP POLICY IF EXISTS alerting_all_tenants ON query_metrics_rollup;
DROP POLICY IF EXISTS alerting_all_tenants ON resource_metrics_rollup;
DROP POLICY IF EXISTS alerting_all_tenants ON query_performance_log;

DO $revoke$
BEGIN
  IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'agog_alerting') THEN
    REVOKE ALL ON performance_metrics_cache, api_metrics_rollup, query_metrics_rollup, resource_metrics_rollup,
                  query_performance_log, performance_settings FROM agog_alerting;
    REVOKE EXECUTE ON FUNCTION
      health_score_components(bigint, bigint, bigint, bigint, bigint, bigint, double precision, double precision,
                              double precision, integer, integer),
      hist_percentile(bigint[], double precision),
      hist_union(bigint[])
      FROM agog_alerting;
    REVOKE USAGE ON SCHEMA public FROM agog_alerting;
  END IF;
END
$revoke$;

DO $history$
BEGIN
  IF to_regclass('agog_schema_history') IS NOT NULL THEN
    DELETE FROM agog_schema_history WHERE version = '0.0.54';
  END IF;
END
$history$;

COMMIT;
