-- V0.0.43: stored percentiles of the request rollups.
--
-- api_metrics_rollup gains p50/p90/p95/p99 per row, kept by a trigger whenever the row's
-- histogram changes. A latency series whose step is the rollup's resolution (what Grafana
-- panels mostly ask for) reads these instead of every row's histogram, so its cost does
-- not grow with the width of the histograms, which grows with traffic. Merges over
-- several rows (totals of a range, coarser steps) still read the histograms.
-- Undo: migrations/rollback/rollback_V0.0.43.sql.

-- ---------------------------------------------------------------------------------
-- hist_percentiles(hist, quantiles): several percentiles of one histogram in one pass,
-- each exactly as hist_percentile (V0.0.41) defines it. p_quantiles must be ascending,
-- each in 0..1. Returns one value per quantile (NULLs for an empty histogram).
-- ---------------------------------------------------------------------------------
CREATE FUNCTION hist_percentiles(p_hist bigint[], p_quantiles double precision[]) RETURNS double precision[]
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
  v_e        bigint;
  v_j        integer := 1;
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
  -- One walk up the buckets; each bucket settles every pending rank it reaches.
  FOREACH v_e IN ARRAY p_hist LOOP
    v_next := v_seen + (v_e & 1099511627775);
    WHILE v_j <= v_k LOOP
      IF v_lo_val[v_j] IS NULL THEN
        EXIT WHEN v_next <= v_lo[v_j];
        v_lo_val[v_j] := latency_bucket_value(v_e >> 40);
      END IF;
      EXIT WHEN v_next <= v_hi[v_j];
      v_result[v_j] := v_lo_val[v_j] + (v_rank[v_j] - v_lo[v_j]) * (latency_bucket_value(v_e >> 40) - v_lo_val[v_j]);
      v_j := v_j + 1;
    END LOOP;
    EXIT WHEN v_j > v_k;
    v_seen := v_next;
  END LOOP;
  RETURN v_result;
END
$fn$;
COMMENT ON FUNCTION hist_percentiles(bigint[], double precision[]) IS
  'Several percentiles (ascending quantiles 0..1) of a latency histogram in one pass, each as hist_percentile defines it.';

ALTER TABLE api_metrics_rollup
  ADD COLUMN p50_ms real,
  ADD COLUMN p90_ms real,
  ADD COLUMN p95_ms real,
  ADD COLUMN p99_ms real;
COMMENT ON COLUMN api_metrics_rollup.p95_ms IS
  'Percentile of this row''s histogram, kept by trigger api_metrics_rollup_percentiles (as are p50_ms, p90_ms, p99_ms).';

-- Keeps the stored percentiles in step with the histogram. Refresh upserts that leave the
-- histogram alone (database time per endpoint) do not fire it (UPDATE OF hist).
CREATE FUNCTION api_metrics_rollup_percentiles() RETURNS trigger
LANGUAGE plpgsql
SET search_path = public, pg_temp
AS $fn$
DECLARE
  v_p double precision[];
BEGIN
  IF TG_OP = 'UPDATE' AND NEW.hist IS NOT DISTINCT FROM OLD.hist THEN RETURN NEW; END IF;
  v_p := hist_percentiles(NEW.hist, ARRAY[0.5, 0.9, 0.95, 0.99]);
  NEW.p50_ms := v_p[1];
  NEW.p90_ms := v_p[2];
  NEW.p95_ms := v_p[3];
  NEW.p99_ms := v_p[4];
  RETURN NEW;
END
$fn$;

CREATE TRIGGER api_metrics_rollup_percentiles BEFORE INSERT OR UPDATE OF hist ON api_metrics_rollup
  FOR EACH ROW EXECUTE FUNCTION api_metrics_rollup_percentiles();

-- Rows written before this migration.
UPDATE api_metrics_rollup SET hist = hist WHERE hist IS NOT NULL AND p95_ms IS NULL;

GRANT EXECUTE ON FUNCTION hist_percentiles(bigint[], double precision[]) TO agog_app, agog_readonly;
