-- Rollback of V0.0.56__collected_query_stats.sql: removes the collected query statistics,
-- the collector's snapshots, merged_query_counts and merge_collected_into_cache (the
-- cache hours it rewrote keep their merged figures until the refresh next rewrites them). Stop the collector first (unset
-- MONITORED_DATABASE_URL and MONITORED_DATABASES), and restore alert rules that read
-- merged_query_counts to their earlier SQL.
BEGIN;

DROP FUNCTION IF EXISTS merged_query_counts(timestamptz, timestamptz);
DROP FUNCTION IF EXISTS merge_collected_into_cache(uuid, timestamptz, timestamptz);
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
