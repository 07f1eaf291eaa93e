-- Rollback of V0.0.52__stored_percentiles_for_series.sql: query_metrics_rollup without
-- stored percentiles, api_metrics_rollup_5s's primary key without included columns. Run before
-- rollback_V0.0.51.sql.
BEGIN;

ALTER TABLE api_metrics_rollup_5s
  DROP CONSTRAINT api_metrics_rollup_5s_pkey,
  ADD CONSTRAINT api_metrics_rollup_5s_pkey PRIMARY KEY (tenant_id, bucket);
DROP TRIGGER query_metrics_rollup_percentiles ON query_metrics_rollup;
ALTER TABLE query_metrics_rollup
  DROP COLUMN p50_ms,
  DROP COLUMN p90_ms,
  DROP COLUMN p95_ms,
  DROP COLUMN p99_ms;

DO $history$
BEGIN
  IF to_regclass('agog_schema_history') IS NOT NULL THEN
    DELETE FROM agog_schema_history WHERE version = '0.0.52';
  END IF;
END
$history$;

COMMIT;
