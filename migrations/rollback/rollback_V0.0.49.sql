-- Rollback of V0.0.49__hist_percentiles_fix.sql. The corrected hist_percentiles keeps the
-- signature and the documented definition of V0.0.43's (each quantile as hist_percentile
-- gives it), so it stays: a service of V0.0.48 reads the same columns, now with the right
-- values. Only the version is removed from the history.
-- Run before rollback_V0.0.48.sql.
BEGIN;

DO $history$
BEGIN
  IF to_regclass('agog_schema_history') IS NOT NULL THEN
    DELETE FROM agog_schema_history WHERE version = '0.0.49';
  END IF;
END
$history$;

COMMIT;
