-- V0.0.47: bounds on the p95 of any merge of rollup rows, stored per row.
--
-- Ranking fingerprints or endpoints by p95 over a range needs the p95 of each one's merged
-- histograms. Merging every histogram of the range costs in proportion to their width,
-- which grows with traffic. Each row of query_metrics_rollup and api_metrics_rollup now
-- keeps two buckets of its own histogram (n values, q = 0.95, order statistics counted
-- from 0):
--   p95_lo_bucket: the bucket of order statistic floor(q * (n - 1));
--   p95_hi_bucket: the bucket of order statistic min(n - 1, ceil(q * n)).
-- At most floor(q * (n - 1)) values of a row lie below its p95_lo_bucket, and at least
-- min(n, ceil(q * n) + 1) lie at or below its p95_hi_bucket. Counting these over the rows
-- of a range bounds the p95 of their merge (hist_percentile's definition) from below and
-- above without reading a histogram; the query API merges histograms only for the keys
-- whose upper bound reaches the N-th largest lower bound (src/db/p95Bounds.ts), and the
-- answer is the same as merging them all. Undo: rollback/rollback_V0.0.47.sql.

-- ---------------------------------------------------------------------------------
-- hist_p95_bounds(hist): {p95_lo_bucket, p95_hi_bucket} as defined above; NULLs for an
-- empty histogram. Buckets are clamped to 0..4000 as the service's Histogram does.
-- ---------------------------------------------------------------------------------
CREATE FUNCTION hist_p95_bounds(p_hist bigint[]) RETURNS smallint[]
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
AS $fn$
DECLARE
  v_total  bigint := 0;
  v_lo_idx bigint;
  v_hi_idx bigint;
  v_seen   bigint := 0;
  v_lo     smallint;
  v_e      bigint;
BEGIN
  IF p_hist IS NULL OR cardinality(p_hist) = 0 THEN RETURN ARRAY[NULL, NULL]::smallint[]; END IF;
  FOREACH v_e IN ARRAY p_hist LOOP v_total := v_total + (v_e & 1099511627775); END LOOP;
  IF v_total = 0 THEN RETURN ARRAY[NULL, NULL]::smallint[]; END IF;
  v_lo_idx := floor(0.95::float8 * (v_total - 1))::bigint;
  v_hi_idx := least(v_total - 1, ceil(0.95::float8 * v_total)::bigint);
  FOREACH v_e IN ARRAY p_hist LOOP
    v_seen := v_seen + (v_e & 1099511627775);
    IF v_lo IS NULL AND v_seen > v_lo_idx THEN v_lo := least(v_e >> 40, 4000); END IF;
    IF v_seen > v_hi_idx THEN RETURN ARRAY[v_lo, least(v_e >> 40, 4000)]::smallint[]; END IF;
  END LOOP;
  RETURN ARRAY[v_lo, NULL]::smallint[];
END
$fn$;
COMMENT ON FUNCTION hist_p95_bounds(bigint[]) IS
  'Buckets of order statistics floor(0.95 * (n - 1)) and min(n - 1, ceil(0.95 * n)) of a latency histogram (n values), which bound the p95 of merges.';

ALTER TABLE query_metrics_rollup
  ADD COLUMN p95_lo_bucket smallint,
  ADD COLUMN p95_hi_bucket smallint;
ALTER TABLE api_metrics_rollup
  ADD COLUMN p95_lo_bucket smallint,
  ADD COLUMN p95_hi_bucket smallint;
COMMENT ON COLUMN query_metrics_rollup.p95_lo_bucket IS
  'hist_p95_bounds(hist)[1], kept by trigger query_metrics_rollup_p95_bounds (p95_hi_bucket: [2]).';
COMMENT ON COLUMN api_metrics_rollup.p95_lo_bucket IS
  'hist_p95_bounds(hist)[1], kept by trigger api_metrics_rollup_p95_bounds (p95_hi_bucket: [2]).';

-- One trigger function for both tables: they name the columns alike.
CREATE FUNCTION rollup_p95_bounds() RETURNS trigger
LANGUAGE plpgsql
SET search_path = public, pg_temp
AS $fn$
DECLARE
  v_b smallint[];
BEGIN
  v_b := hist_p95_bounds(NEW.hist);
  NEW.p95_lo_bucket := v_b[1];
  NEW.p95_hi_bucket := v_b[2];
  RETURN NEW;
END
$fn$;

CREATE TRIGGER query_metrics_rollup_p95_bounds BEFORE INSERT OR UPDATE OF hist ON query_metrics_rollup
  FOR EACH ROW EXECUTE FUNCTION rollup_p95_bounds();
CREATE TRIGGER api_metrics_rollup_p95_bounds BEFORE INSERT OR UPDATE OF hist ON api_metrics_rollup
  FOR EACH ROW EXECUTE FUNCTION rollup_p95_bounds();

-- Rows written before this migration.
UPDATE query_metrics_rollup SET hist = hist WHERE hist IS NOT NULL;
UPDATE api_metrics_rollup SET hist = hist WHERE hist IS NOT NULL;

-- The covering indexes of V0.0.44, now with the bounds, so a ranking by p95 reads them
-- index-only too.
DROP INDEX query_metrics_rollup_totals;
CREATE INDEX query_metrics_rollup_totals
  ON query_metrics_rollup (tenant_id, resolution, bucket, query_hash)
  INCLUDE (calls, slow_calls, total_ms, max_ms, rows_sum, p95_lo_bucket, p95_hi_bucket);
COMMENT ON INDEX query_metrics_rollup_totals IS
  'Index-only totals and p95 bounds per fingerprint over a range (query type slowQueries), before any histogram is read.';

DROP INDEX api_metrics_rollup_endpoint_series;
CREATE INDEX api_metrics_rollup_endpoint_series
  ON api_metrics_rollup (tenant_id, resolution, endpoint, bucket)
  INCLUDE (requests, errors, client_errors, satisfied, tolerating, sum_ms, max_ms, db_ms, db_calls,
           p50_ms, p90_ms, p95_ms, p99_ms, p95_lo_bucket, p95_hi_bucket);
COMMENT ON INDEX api_metrics_rollup_endpoint_series IS
  'Index-only reads of request series, totals and p95 bounds per endpoint (query types latencyPercentiles, throughput, endpoints, overview).';

GRANT EXECUTE ON FUNCTION hist_p95_bounds(bigint[]) TO agog_app, agog_readonly;
