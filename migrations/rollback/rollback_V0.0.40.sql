-- Rollback of V0.0.40__add_performance_monitoring_olap.sql: removes every object that
-- migration created and its history row. WARNING: deletes all performance data.
-- Roll back later versions first (rollback_V0.0.41.sql, ...). The roles agog_app and
-- agog_readonly are cluster-wide and may be used by other databases, so they are kept;
-- drop them by hand (DROP ROLE agog_app, agog_readonly) when nothing else uses them.
-- Flyway does not pick this file up: its name has no V/R/U prefix.
BEGIN;

DROP TABLE IF EXISTS query_performance_log CASCADE;
DROP TABLE IF EXISTS api_performance_log CASCADE;
DROP TABLE IF EXISTS system_resource_metrics CASCADE;
DROP TABLE IF EXISTS performance_metrics_cache CASCADE;

DROP FUNCTION IF EXISTS refresh_performance_metrics_incremental(UUID);
DROP FUNCTION IF EXISTS get_performance_summary(UUID, INTEGER);
DROP FUNCTION IF EXISTS maintain_performance_partitions(integer, interval, timestamptz);

-- Jobs of pg_cron, when an operator scheduled them (see service/README.md).
DO $cron$
BEGIN
  IF to_regclass('cron.job') IS NOT NULL THEN
    PERFORM cron.unschedule(jobid) FROM cron.job
     WHERE jobname IN ('refresh-performance-metrics', 'cleanup-performance-partitions',
                       'maintain-performance-partitions');
  END IF;
END
$cron$;

DO $history$
BEGIN
  IF to_regclass('agog_schema_history') IS NOT NULL THEN
    DELETE FROM agog_schema_history WHERE version = '0.0.40';
  END IF;
END
$history$;

COMMIT;
