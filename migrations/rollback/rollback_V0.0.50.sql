-- Rollback of V0.0.50__request_rollup_5s.sql: removes the 5-second request totals, gives
-- the request log's delta trigger its V0.0.41 body, and gives the refresh and the upkeep
-- back their former bodies under their own names. A service of this version still works
-- without them: its series of up to an hour read the raw rows (as V0.0.48's did).
-- Run before rollback_V0.0.49.sql.
BEGIN;

DROP FUNCTION IF EXISTS refresh_performance_metrics_incremental(uuid);
ALTER FUNCTION refresh_rollups_from_pending(uuid) RENAME TO refresh_performance_metrics_incremental;
GRANT EXECUTE ON FUNCTION refresh_performance_metrics_incremental(uuid) TO agog_app;

DROP FUNCTION IF EXISTS maintain_performance_partitions(integer, interval, timestamptz);
ALTER FUNCTION maintain_partitions_and_rollups(integer, interval, timestamptz) RENAME TO maintain_performance_partitions;

-- The delta trigger as V0.0.41 wrote it.
CREATE OR REPLACE FUNCTION api_performance_log_rollup_delta() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = public, pg_temp
AS $fn$
DECLARE
  v_t real := coalesce((SELECT apdex_target_ms FROM performance_settings), 100);
BEGIN
  INSERT INTO api_rollup_pending
  SELECT tenant_id, bucket, CASE WHEN grouping(endpoint) = 1 THEN '' ELSE endpoint END,
         sum(n), sum(errors), sum(client_errors), sum(satisfied), sum(tolerating), sum(sum_ms), max(max_ms),
         array_agg((b::bigint << 40) + n ORDER BY b), max(last_seen)
    FROM (SELECT tenant_id, bucket, endpoint, b, count(*) AS n,
                 count(*) FILTER (WHERE status_code >= 500) AS errors,
                 count(*) FILTER (WHERE status_code BETWEEN 400 AND 499) AS client_errors,
                 count(*) FILTER (WHERE response_time_ms <= v_t) AS satisfied,
                 count(*) FILTER (WHERE response_time_ms > v_t AND response_time_ms <= 4 * v_t) AS tolerating,
                 sum(response_time_ms) AS sum_ms, max(response_time_ms) AS max_ms, max("timestamp") AS last_seen
            FROM (SELECT tenant_id, "timestamp", response_time_ms, status_code,
                         date_bin('5 minutes', "timestamp", timestamptz '2000-01-01 00:00:00+00') AS bucket,
                         coalesce(nullif(endpoint, ''), '(none)') AS endpoint,
                         latency_bucket(response_time_ms) AS b
                    FROM new_rows) r
           GROUP BY tenant_id, bucket, endpoint, b) g
   GROUP BY GROUPING SETS ((tenant_id, bucket, endpoint), (tenant_id, bucket));
  RETURN NULL;
END
$fn$;

DROP TABLE IF EXISTS api_metrics_rollup_5s, api_rollup_5s_pending, api_rollup_5s_state;

DO $history$
BEGIN
  IF to_regclass('agog_schema_history') IS NOT NULL THEN
    DELETE FROM agog_schema_history WHERE version = '0.0.50';
  END IF;
END
$history$;

COMMIT;
