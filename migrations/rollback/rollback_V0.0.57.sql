-- Rollback of V0.0.57__alerting_collected_counts.sql: drops the two functions the alert
-- rules count collected statements with. Put back rules that do not call them first.
-- Run before rollback_V0.0.56.sql.
BEGIN;

DROP FUNCTION IF EXISTS alert_collected_slow_calls(timestamptz, timestamptz);
DROP FUNCTION IF EXISTS alert_query_counts(timestamptz, timestamptz);

DO $history$
BEGIN
  IF to_regclass('agog_schema_history') IS NOT NULL THEN
    DELETE FROM agog_schema_history WHERE version = '0.0.57';
  END IF;
END
$history$;

COMMIT;
