-- V0.0.49: hist_percentiles gives each quantile the value hist_percentile gives it.
--
-- V0.0.43's one-pass hist_percentiles left a bucket as soon as it could not yet settle
-- the current quantile, without noting the lower order statistic of the next ones that
-- the bucket held. A later quantile whose two neighbouring order statistics lay in
-- different buckets then took the upper bucket's value for both: on the two values 10
-- and 1000 ms, p95 came out as 1000 instead of 950 (p50 was right). Large histograms
-- were rarely affected (neighbouring order statistics mostly share a bucket); rows of
-- few requests were, and so were the p90/p95/p99 stored on them (api_metrics_rollup,
-- read by series whose step is one rollup row).
--
-- The function is replaced by one that notes, at every bucket, the lower order statistic
-- of each quantile that reaches it, and the stored percentiles that differ from the
-- corrected ones are rewritten. That rewrites much of the table (the 5-minute rows of a
-- quiet endpoint hold a few requests each): measured here, 132 s for 1.25 M rollup rows
-- and 460 s for 1.92 M (the query benchmark's databases at 1 M and 10 M requests a month,
-- both at once on 2 cores). Computing the percentiles alone takes about 17 us per row;
-- the rest is writing rows and their index entries. Refreshes wait for it.
-- Undo: rollback/rollback_V0.0.49.sql.

CREATE OR REPLACE FUNCTION hist_percentiles(p_hist bigint[], p_quantiles double precision[]) RETURNS double precision[]
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
AS $fn$
DECLARE
  v_k        integer := coalesce(cardinality(p_quantiles), 0);
  v_result   double precision[] := array_fill(NULL::double precision, ARRAY[greatest(v_k, 0)]);
  v_rank     double precision[] := v_result;
  v_lo_val   double precision[] := v_result;
  v_lo       bigint[] := array_fill(NULL::bigint, ARRAY[greatest(v_k, 0)]);
  v_hi       bigint[] := v_lo;
  v_total    bigint := 0;
  v_seen     bigint := 0;
  v_next     bigint;
  v_value    double precision;
  v_e        bigint;
  v_j        integer := 1;
  v_i        integer;
BEGIN
  IF p_hist IS NULL OR cardinality(p_hist) = 0 OR v_k = 0 THEN RETURN v_result; END IF;
  FOREACH v_e IN ARRAY p_hist LOOP v_total := v_total + (v_e & 1099511627775); END LOOP;
  IF v_total = 0 THEN RETURN v_result; END IF;
  FOR i IN 1 .. v_k LOOP
    IF p_quantiles[i] < 0 OR p_quantiles[i] > 1 OR (i > 1 AND p_quantiles[i] < p_quantiles[i - 1]) THEN
      RAISE EXCEPTION 'quantiles must be ascending and between 0 and 1, got %', p_quantiles;
    END IF;
    v_rank[i] := p_quantiles[i] * (v_total - 1);
    v_lo[i] := floor(v_rank[i])::bigint;
    v_hi[i] := ceil(v_rank[i])::bigint;
  END LOOP;
  -- One walk up the buckets. Order statistics are counted from 0: the bucket holds those
  -- from v_seen to v_next - 1. Ranks ascend with the quantiles.
  FOREACH v_e IN ARRAY p_hist LOOP
    v_next := v_seen + (v_e & 1099511627775);
    v_value := latency_bucket_value(v_e >> 40);
    -- Every unsettled quantile whose lower order statistic is in this bucket.
    v_i := v_j;
    WHILE v_i <= v_k AND v_next > v_lo[v_i] LOOP
      IF v_lo_val[v_i] IS NULL THEN v_lo_val[v_i] := v_value; END IF;
      v_i := v_i + 1;
    END LOOP;
    -- Every quantile whose upper order statistic is in this bucket is settled.
    WHILE v_j <= v_k AND v_next > v_hi[v_j] LOOP
      v_result[v_j] := v_lo_val[v_j] + (v_rank[v_j] - v_lo[v_j]) * (v_value - v_lo_val[v_j]);
      v_j := v_j + 1;
    END LOOP;
    EXIT WHEN v_j > v_k;
    v_seen := v_next;
  END LOOP;
  RETURN v_result;
END
$fn$;

-- The stored percentiles computed by the former function.
UPDATE api_metrics_rollup r
   SET p50_ms = p.v[1], p90_ms = p.v[2], p95_ms = p.v[3], p99_ms = p.v[4]
  FROM (SELECT tenant_id, resolution, bucket, endpoint, hist_percentiles(hist, ARRAY[0.5, 0.9, 0.95, 0.99]) AS v
          FROM api_metrics_rollup WHERE hist IS NOT NULL) p
 WHERE r.tenant_id = p.tenant_id AND r.resolution = p.resolution AND r.bucket = p.bucket AND r.endpoint = p.endpoint
   AND (r.p50_ms, r.p90_ms, r.p95_ms, r.p99_ms) IS DISTINCT FROM (p.v[1]::real, p.v[2]::real, p.v[3]::real, p.v[4]::real);
