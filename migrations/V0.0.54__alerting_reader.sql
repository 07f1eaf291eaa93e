-- V0.0.54: agog_alerting, the least-privilege role of Grafana's alerting data source.
--
-- The alert rules (alerts/rules-*.yaml) evaluate on Grafana's server through a PostgreSQL
-- data source, and anyone who can use that data source can run any SELECT its login may
-- run. Until now that login was a member of agog_readonly, which reads every column of
-- every table: user_id in api_performance_log, the query text in query_performance_log
-- and query_fingerprints, the token table. agog_alerting reads only the columns the rules
-- read, for every tenant (one rule labels its instances by tenant):
--   performance_metrics_cache   tenant_id, hour_bucket, last_updated
--   api_metrics_rollup          the request counts and histogram of each bucket
--   query_metrics_rollup        the call counts of each bucket (no fingerprint, no text)
--   resource_metrics_rollup     the resource samples of each bucket
--   query_performance_log       tenant_id, "timestamp", execution_time_ms
--   performance_settings        slow_query_threshold_ms
-- and may run the functions the rules call. A change to a rule's SQL that reads another
-- column needs a grant in a new migration; service/test/security.alertingReader.test.ts
-- runs every rule as a login of this role and fails first.
--
-- The login itself is created outside the migrations, with its password, by the operator
-- (docker/postgres-init/10-roles.sh in compose): CREATE ROLE <login> LOGIN IN ROLE
-- agog_alerting. Its statement timeout is a setting of that login (ALTER ROLE ... SET
-- statement_timeout), which a session can lift; SECURITY.md says why that is accepted.
-- ---------------------------------------------------------------------------------
DO $roles$
BEGIN
  BEGIN
    CREATE ROLE agog_alerting NOLOGIN;
  EXCEPTION WHEN duplicate_object OR unique_violation THEN
    NULL;
  END;
END
$roles$;

GRANT USAGE ON SCHEMA public TO agog_alerting;

GRANT SELECT (tenant_id, hour_bucket, last_updated) ON performance_metrics_cache TO agog_alerting;
GRANT SELECT (tenant_id, resolution, endpoint, bucket, requests, satisfied, tolerating, errors, hist)
  ON api_metrics_rollup TO agog_alerting;
GRANT SELECT (tenant_id, resolution, bucket, calls, slow_calls) ON query_metrics_rollup TO agog_alerting;
GRANT SELECT (tenant_id, bucket, source, samples, sum_cpu, max_cpu, sum_memory, max_memory, memory_total,
              sum_connections, max_connections, pool_max)
  ON resource_metrics_rollup TO agog_alerting;
GRANT SELECT (tenant_id, "timestamp", execution_time_ms) ON query_performance_log TO agog_alerting;
GRANT SELECT (slow_query_threshold_ms) ON performance_settings TO agog_alerting;

GRANT EXECUTE ON FUNCTION
  health_score_components(bigint, bigint, bigint, bigint, bigint, bigint, double precision, double precision,
                          double precision, integer, integer),
  hist_percentile(bigint[], double precision),
  hist_union(bigint[])
  TO agog_alerting;

-- Row-level security: every tenant's rows, read only (the column grants above are what
-- keeps the rest out of reach).
CREATE POLICY alerting_all_tenants ON performance_metrics_cache FOR SELECT TO agog_alerting USING (true);
CREATE POLICY alerting_all_tenants ON api_metrics_rollup FOR SELECT TO agog_alerting USING (true);
CREATE POLICY alerting_all_tenants ON query_metrics_rollup FOR SELECT TO agog_alerting USING (true);
CREATE POLICY alerting_all_tenants ON resource_metrics_rollup FOR SELECT TO agog_alerting USING (true);
CREATE POLICY alerting_all_tenants ON query_performance_log FOR SELECT TO agog_alerting USING (true);
