-- V0.0.44: covering indexes for the query API's reads of the rollups.
--
-- Rollup rows of one tenant and resolution lie scattered over the table (each refresh
-- writes every tenant's and every endpoint's buckets together), so a series or a table
-- read row by row touches about one heap page per row. These indexes hold the numbers
-- the reads need beside the key, so those reads are index-only scans over a few
-- contiguous pages; only histograms (large, not in any index) still come from the heap,
-- and the API reads them for the rows it shows. Undo: rollback/rollback_V0.0.44.sql.

-- Series per endpoint (one endpoint's buckets are adjacent) and totals of one endpoint,
-- '' included, over a range.
CREATE INDEX api_metrics_rollup_endpoint_series
  ON api_metrics_rollup (tenant_id, resolution, endpoint, bucket)
  INCLUDE (requests, errors, client_errors, satisfied, tolerating, sum_ms, max_ms, db_ms, db_calls,
           p50_ms, p90_ms, p95_ms, p99_ms);
COMMENT ON INDEX api_metrics_rollup_endpoint_series IS
  'Index-only reads of request series and totals per endpoint (query types latencyPercentiles, throughput, endpoints, overview).';

-- Totals per fingerprint over a range, to rank them before reading any histogram.
CREATE INDEX query_metrics_rollup_totals
  ON query_metrics_rollup (tenant_id, resolution, bucket, query_hash)
  INCLUDE (calls, slow_calls, total_ms, max_ms, rows_sum);
COMMENT ON INDEX query_metrics_rollup_totals IS
  'Index-only totals per fingerprint over a range (query type slowQueries), before the histograms of the top ones are read.';
