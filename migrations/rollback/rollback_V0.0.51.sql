-- Rollback of V0.0.51__query_rollup_key_order.sql: the primary key of
-- query_metrics_rollup back in V0.0.41's order. Run before rollback_V0.0.50.sql.
BEGIN;

ALTER TABLE query_metrics_rollup
  DROP CONSTRAINT query_metrics_rollup_pkey,
  ADD CONSTRAINT query_metrics_rollup_pkey PRIMARY KEY (tenant_id, resolution, bucket, query_hash);

COMMENT ON INDEX query_metrics_rollup_pkey IS
  'Top-N fingerprints and one fingerprint''s series over a time range at one resolution.';

DO $history$
BEGIN
  IF to_regclass('agog_schema_history') IS NOT NULL THEN
    DELETE FROM agog_schema_history WHERE version = '0.0.51';
  END IF;
END
$history$;

COMMIT;
