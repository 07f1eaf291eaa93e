-- Rollback of V0.0.43__rollup_percentiles.sql: removes the stored percentiles of
-- api_metrics_rollup and their trigger. Run before rollback_V0.0.42.sql.
BEGIN;

DROP TRIGGER IF EXISTS api_metrics_rollup_percentiles ON api_metrics_rollup;
DROP FUNCTION IF EXISTS api_metrics_rollup_percentiles();
ALTER TABLE IF EXISTS api_metrics_rollup
  DROP COLUMN IF EXISTS p50_ms, DROP COLUMN IF EXISTS p90_ms, DROP COLUMN IF EXISTS p95_ms, DROP COLUMN IF EXISTS p99_ms;
DROP FUNCTION IF EXISTS hist_percentiles(bigint[], double precision[]);

DO $history$
BEGIN
  IF to_regclass('agog_schema_history') IS NOT NULL THEN
    DELETE FROM agog_schema_history WHERE version = '0.0.43';
  END IF;
END
$history$;

COMMIT;
