-- Rollback of V0.0.53__edge_prefixes.sql: removes the running totals within a day and
-- within an hour and their builder. A service of this version still works without them:
-- it reads the edges' rollup rows (more rows per key on busy data). Run before
-- rollback_V0.0.52.sql.
BEGIN;

DROP FUNCTION IF EXISTS cumulate_rollup_prefixes(uuid, integer);

-- The pg_cron job, when an operator scheduled it (see service/README.md).
DO $cron$
BEGIN
  IF to_regclass('cron.job') IS NOT NULL THEN
    PERFORM cron.unschedule(jobid) FROM cron.job WHERE jobname = 'cumulate-rollup-prefixes';
  END IF;
END
$cron$;
DROP TABLE IF EXISTS query_metrics_prefix;
DROP TABLE IF EXISTS api_metrics_prefix;

DO $history$
BEGIN
  IF to_regclass('agog_schema_history') IS NOT NULL THEN
    DELETE FROM agog_schema_history WHERE version = '0.0.53';
  END IF;
END
$history$;

COMMIT;
