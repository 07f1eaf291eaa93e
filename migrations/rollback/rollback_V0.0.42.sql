-- Rollback of V0.0.42__optimization_recommendations.sql: removes the recommendations
-- and the storage snapshots. Run before rollback_V0.0.41.sql.
BEGIN;

DROP TABLE IF EXISTS optimization_recommendations, storage_snapshots;

DO $history$
BEGIN
  IF to_regclass('agog_schema_history') IS NOT NULL THEN
    DELETE FROM agog_schema_history WHERE version = '0.0.42';
  END IF;
END
$history$;

COMMIT;
