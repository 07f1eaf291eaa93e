-- Rollback of V0.0.55__ingest_idempotency_keys.sql: removes the idempotency keys. A
-- service of an earlier version ignores the Idempotency-Key header. Run before
-- rollback_V0.0.53.sql (V0.0.54 has its own).
BEGIN;

DROP TABLE IF EXISTS ingest_idempotency_keys;

DO $history$
BEGIN
  IF to_regclass('agog_schema_history') IS NOT NULL THEN
    DELETE FROM agog_schema_history WHERE version = '0.0.55';
  END IF;
END
$history$;

COMMIT;
