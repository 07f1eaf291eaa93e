-- Rollback of V0.0.56__collected_query_stats.sql: removes the collected query statistics,
-- the collector's snapshots and merged_query_counts. Stop the collector first (unset
-- MONITORED_DATABASE_URL and MONITORED_DATABASES), and restore alert rules that read
-- merged_query_counts to their earlier SQL.
BEGIN;

DROP FUNCTION IF EXISTS merged_query_counts(timestamptz, timestamptz);
DROP TABLE IF EXISTS collected_query_stats;
DROP TABLE IF EXISTS collector_snapshots;

DO $history$
BEGIN
  IF to_regclass('agog_schema_history') IS NOT NULL THEN
    DELETE FROM agog_schema_history WHERE version = '0.0.56';
  END IF;
END
$history$;

COMMIT;
