-- Rollback of V0.0.48__cumulative_histograms.sql: removes the running totals of the daily
-- rollup histograms and their builder, and gives the tenant policies back their per-row
-- form. A service of this version still works without them: it reads the daily rows
-- (slower on long ranges). Run before rollback_V0.0.47.sql.
BEGIN;

DROP FUNCTION IF EXISTS cumulate_rollup_histograms(uuid, integer, timestamptz);

-- The pg_cron job, when an operator scheduled it (see service/README.md).
DO $cron$
BEGIN
  IF to_regclass('cron.job') IS NOT NULL THEN
    PERFORM cron.unschedule(jobid) FROM cron.job WHERE jobname = 'cumulate-rollup-histograms';
  END IF;
END
$cron$;

-- The tenant policies as V0.0.40 and V0.0.41 wrote them (the setting read for each row).
DO $policies$
DECLARE
  v_policy record;
BEGIN
  FOR v_policy IN
    SELECT tablename, policyname FROM pg_policies
     WHERE schemaname = 'public' AND policyname IN ('tenant_isolation_app', 'tenant_scope_readonly')
       AND tablename NOT IN ('query_metrics_cumulative', 'api_metrics_cumulative', 'rollup_cumulative_state')
  LOOP
    IF v_policy.policyname = 'tenant_isolation_app' THEN
      EXECUTE format(
        'ALTER POLICY tenant_isolation_app ON %I
           USING (tenant_id = nullif(current_setting(''app.tenant_id'', true), '''')::uuid)', v_policy.tablename);
    ELSE
      EXECUTE format(
        'ALTER POLICY tenant_scope_readonly ON %I
           USING (nullif(current_setting(''app.tenant_id'', true), '''') IS NULL
                  OR tenant_id = nullif(current_setting(''app.tenant_id'', true), '''')::uuid)', v_policy.tablename);
    END IF;
  END LOOP;
END
$policies$;

DROP TABLE IF EXISTS query_metrics_cumulative;
DROP TABLE IF EXISTS api_metrics_cumulative;
DROP TABLE IF EXISTS rollup_cumulative_state;
DROP FUNCTION IF EXISTS hist_coarsen(bigint[], integer);

DO $history$
BEGIN
  IF to_regclass('agog_schema_history') IS NOT NULL THEN
    DELETE FROM agog_schema_history WHERE version = '0.0.48';
  END IF;
END
$history$;

COMMIT;
