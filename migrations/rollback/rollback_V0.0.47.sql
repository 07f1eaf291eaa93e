-- Rollback of V0.0.47__p95_bounds.sql: removes the stored p95 bounds of both rollups and
-- their triggers, and restores the covering indexes as V0.0.44 made them.
-- Run before rollback_V0.0.46.sql.
BEGIN;

DROP TRIGGER IF EXISTS query_metrics_rollup_p95_bounds ON query_metrics_rollup;
DROP TRIGGER IF EXISTS api_metrics_rollup_p95_bounds ON api_metrics_rollup;
DROP FUNCTION IF EXISTS rollup_p95_bounds();

DROP INDEX IF EXISTS query_metrics_rollup_totals;
DROP INDEX IF EXISTS api_metrics_rollup_endpoint_series;
ALTER TABLE IF EXISTS query_metrics_rollup DROP COLUMN IF EXISTS p95_lo_bucket, DROP COLUMN IF EXISTS p95_hi_bucket;
ALTER TABLE IF EXISTS api_metrics_rollup DROP COLUMN IF EXISTS p95_lo_bucket, DROP COLUMN IF EXISTS p95_hi_bucket;
DROP FUNCTION IF EXISTS hist_p95_bounds(bigint[]);

CREATE INDEX IF NOT EXISTS query_metrics_rollup_totals
  ON query_metrics_rollup (tenant_id, resolution, bucket, query_hash)
  INCLUDE (calls, slow_calls, total_ms, max_ms, rows_sum);
COMMENT ON INDEX query_metrics_rollup_totals IS
  'Index-only totals per fingerprint over a range (query type slowQueries), before the histograms of the top ones are read.';
CREATE INDEX IF NOT EXISTS api_metrics_rollup_endpoint_series
  ON api_metrics_rollup (tenant_id, resolution, endpoint, bucket)
  INCLUDE (requests, errors, client_errors, satisfied, tolerating, sum_ms, max_ms, db_ms, db_calls,
           p50_ms, p90_ms, p95_ms, p99_ms);
COMMENT ON INDEX api_metrics_rollup_endpoint_series IS
  'Index-only reads of request series and totals per endpoint (query types latencyPercentiles, throughput, endpoints, overview).';

DO $history$
BEGIN
  IF to_regclass('agog_schema_history') IS NOT NULL THEN
    DELETE FROM agog_schema_history WHERE version = '0.0.47';
  END IF;
END
$history$;

COMMIT;
