-- Rollback of V0.0.44__rollup_covering_indexes.sql: drops the two covering indexes.
-- Run before rollback_V0.0.43.sql.
BEGIN;

DROP INDEX IF EXISTS api_metrics_rollup_endpoint_series;
DROP INDEX IF EXISTS query_metrics_rollup_totals;

DO $history$
BEGIN
  IF to_regclass('agog_schema_history') IS NOT NULL THEN
    DELETE FROM agog_schema_history WHERE version = '0.0.44';
  END IF;
END
$history$;

COMMIT;
