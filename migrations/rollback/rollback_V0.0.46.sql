-- Rollback of V0.0.46__query_text_once_per_fingerprint.sql: writes each fingerprint's
-- text back into the raw rows that left it NULL, makes query_preview NOT NULL again and
-- puts back V0.0.41's rollup trigger function. The UPDATE rewrites those rows: on a
-- large log, run it in a maintenance window.
BEGIN;

UPDATE query_performance_log l
   SET query_preview = f.query_preview
  FROM query_fingerprints f
 WHERE l.query_preview IS NULL AND f.tenant_id = l.tenant_id AND f.query_hash = l.query_hash;
UPDATE query_performance_log SET query_preview = '' WHERE query_preview IS NULL;

ALTER TABLE query_performance_log ALTER COLUMN query_preview SET NOT NULL;

COMMENT ON TABLE query_performance_log IS
  'One row per observed database query. query_preview is the normalized query text (literals replaced by placeholders), at most 500 characters.';
COMMENT ON COLUMN query_performance_log.query_preview IS NULL;

CREATE OR REPLACE FUNCTION query_performance_log_rollup_delta() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = public, pg_temp
AS $fn$
DECLARE
  v_slow real := coalesce((SELECT slow_query_threshold_ms FROM performance_settings), 1000);
BEGIN
  INSERT INTO query_rollup_pending
  SELECT tenant_id, bucket, query_hash, endpoint, sum(n), sum(slow_calls), sum(total_ms), max(max_ms),
         sum(rows_sum), array_agg((b::bigint << 40) + n ORDER BY b), min(first_seen), max(last_seen),
         min(query_preview)
    FROM (SELECT tenant_id, date_bin('5 minutes', "timestamp", timestamptz '2000-01-01 00:00:00+00') AS bucket,
                 query_hash, coalesce(endpoint, '') AS endpoint, latency_bucket(execution_time_ms) AS b,
                 count(*) AS n, count(*) FILTER (WHERE execution_time_ms >= v_slow) AS slow_calls,
                 sum(execution_time_ms) AS total_ms, max(execution_time_ms) AS max_ms,
                 coalesce(sum(rows_returned), 0) AS rows_sum,
                 min("timestamp") AS first_seen, max("timestamp") AS last_seen, min(query_preview) AS query_preview
            FROM new_rows
           GROUP BY 1, 2, 3, 4, 5) g
   GROUP BY tenant_id, bucket, query_hash, endpoint;
  RETURN NULL;
END
$fn$;

DO $history$
BEGIN
  IF to_regclass('agog_schema_history') IS NOT NULL THEN
    DELETE FROM agog_schema_history WHERE version = '0.0.46';
  END IF;
END
$history$;

COMMIT;
