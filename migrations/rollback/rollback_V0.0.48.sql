-- Rollback of V0.0.48__cumulative_histograms.sql: removes the running totals of the daily
-- rollup histograms and their builder. The query API reads the daily rows again (a
-- service of this version still works, only slower on long ranges). Run before
-- rollback_V0.0.47.sql.
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
