-- V0.0.41: incremental rollups with mergeable latency histograms, the health score
-- model v2 with its components, API tokens and the scheduler's bookkeeping.
--
-- How rows flow:
--   raw log INSERT/COPY ──(statement trigger, same transaction)──► *_rollup_pending
--   refresh_performance_metrics_incremental() ──► merges pending deltas into the rollups
--     (5-minute, hourly, daily) and recomputes performance_metrics_cache for the hours
--     touched, then deletes the merged deltas.
-- Its cost grows with the rows that arrived since the last refresh, never with history.
-- Undo: migrations/rollback/rollback_V0.0.41.sql.

-- ---------------------------------------------------------------------------------
-- Settings read by the triggers and the refresh. One row; the service writes it at
-- start-up from LATENCY_TARGET_MS and SLOW_QUERY_THRESHOLD_MS.
-- ---------------------------------------------------------------------------------
CREATE TABLE performance_settings (
  id                      boolean PRIMARY KEY DEFAULT true CHECK (id),
  apdex_target_ms         real NOT NULL DEFAULT 100 CHECK (apdex_target_ms > 0),
  slow_query_threshold_ms real NOT NULL DEFAULT 1000 CHECK (slow_query_threshold_ms > 0)
);
INSERT INTO performance_settings DEFAULT VALUES;
COMMENT ON TABLE performance_settings IS
  'Apdex target T (satisfied <= T, tolerating <= 4T) and the slow-query threshold, applied to rows as they arrive.';

-- ---------------------------------------------------------------------------------
-- Latency histograms.
--
-- Bucket i >= 1 holds durations in [0.01 * 1.02^(i-1), 0.01 * 1.02^i) ms: each bucket
-- is 2 % wide, and its representative value 2*lo*hi/(lo+hi) is within 0.99 % of every
-- value in it. Bucket 0 holds durations under 0.01 ms (representative 0).
-- A histogram is a bigint[] sorted by bucket; element = bucket * 2^40 + count. Merging
-- histograms adds counts, so percentiles over any set of hours are as exact as over
-- one hour (no averaging of percentiles).
-- ---------------------------------------------------------------------------------
CREATE FUNCTION latency_bucket(p_ms double precision) RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN CASE WHEN p_ms IS NULL THEN NULL
            WHEN p_ms < 0.01 THEN 0
            ELSE least(4000, 1 + floor(ln(p_ms / 0.01) / ln(1.02))::integer) END;
COMMENT ON FUNCTION latency_bucket(double precision) IS
  'Histogram bucket of a duration in ms: 2 % wide log-scale buckets from 0.01 ms.';

CREATE FUNCTION latency_bucket_value(p_bucket bigint) RETURNS double precision
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN CASE WHEN p_bucket <= 0 THEN 0
            ELSE 2 * 0.01 * power(1.02, p_bucket) / 2.02 END;
COMMENT ON FUNCTION latency_bucket_value(bigint) IS
  'Representative duration (ms) of a histogram bucket: within 1 % of any value in it.';

CREATE FUNCTION hist_merge(a bigint[], b bigint[]) RETURNS bigint[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $fn$
  SELECT CASE
    WHEN a IS NULL THEN b
    WHEN b IS NULL THEN a
    ELSE (SELECT array_agg((bucket << 40) + n ORDER BY bucket)
            FROM (SELECT e >> 40 AS bucket, sum(e & 1099511627775)::bigint AS n
                    FROM (SELECT unnest(a) AS e UNION ALL SELECT unnest(b)) u
                   GROUP BY 1) s)
  END
$fn$;
COMMENT ON FUNCTION hist_merge(bigint[], bigint[]) IS 'Sum of two latency histograms.';

CREATE AGGREGATE hist_union(bigint[]) (SFUNC = hist_merge, STYPE = bigint[], PARALLEL = SAFE);
COMMENT ON AGGREGATE hist_union(bigint[]) IS
  'Sum of the latency histograms of a group of rows (for small groups; large ranges unnest and sum per bucket).';

-- Percentile with percentile_cont's definition: rank q*(n-1), interpolating between the
-- two neighbouring order statistics, each estimated by its bucket's representative.
CREATE FUNCTION hist_percentile(p_hist bigint[], p_q double precision) RETURNS double precision
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
AS $fn$
DECLARE
  v_total  bigint := 0;
  v_rank   double precision;
  v_lo     bigint;
  v_hi     bigint;
  v_seen   bigint := 0;
  v_lo_val double precision;
  v_hi_val double precision;
  v_e      bigint;
  v_n      bigint;
BEGIN
  IF p_hist IS NULL OR cardinality(p_hist) = 0 THEN RETURN NULL; END IF;
  IF p_q < 0 OR p_q > 1 THEN RAISE EXCEPTION 'percentile must be between 0 and 1, got %', p_q; END IF;
  FOREACH v_e IN ARRAY p_hist LOOP v_total := v_total + (v_e & 1099511627775); END LOOP;
  IF v_total = 0 THEN RETURN NULL; END IF;
  v_rank := p_q * (v_total - 1);
  v_lo := floor(v_rank)::bigint;
  v_hi := ceil(v_rank)::bigint;
  FOREACH v_e IN ARRAY p_hist LOOP
    v_n := v_e & 1099511627775;
    IF v_lo_val IS NULL AND v_seen + v_n > v_lo THEN v_lo_val := latency_bucket_value(v_e >> 40); END IF;
    IF v_seen + v_n > v_hi THEN
      v_hi_val := latency_bucket_value(v_e >> 40);
      EXIT;
    END IF;
    v_seen := v_seen + v_n;
  END LOOP;
  RETURN v_lo_val + (v_rank - v_lo) * (coalesce(v_hi_val, v_lo_val) - v_lo_val);
END
$fn$;
COMMENT ON FUNCTION hist_percentile(bigint[], double precision) IS
  'Percentile (0..1) of a latency histogram, defined like percentile_cont; within 1 % of the exact value.';

-- Histogram of a set of durations, for building from raw rows.
CREATE FUNCTION hist_from_buckets(p_buckets integer[]) RETURNS bigint[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $fn$
  SELECT array_agg((b::bigint << 40) + n ORDER BY b)
    FROM (SELECT b, count(*) AS n FROM unnest(p_buckets) b GROUP BY b) s
$fn$;

-- ---------------------------------------------------------------------------------
-- Pending deltas: append-only, written by the raw logs' statement triggers in the
-- inserting transaction, merged and deleted by the refresh. Endpoint '' is the total
-- over all endpoints.
-- ---------------------------------------------------------------------------------
CREATE TABLE api_rollup_pending (
  tenant_id     uuid        NOT NULL,
  bucket        timestamptz NOT NULL,   -- 5-minute bucket
  endpoint      text        NOT NULL,
  requests      bigint      NOT NULL,
  errors        bigint      NOT NULL,   -- status >= 500
  client_errors bigint      NOT NULL,   -- status 400..499
  satisfied     bigint      NOT NULL,
  tolerating    bigint      NOT NULL,
  sum_ms        double precision NOT NULL,
  max_ms        real        NOT NULL,
  hist          bigint[]    NOT NULL,
  last_seen     timestamptz NOT NULL
);

CREATE TABLE query_rollup_pending (
  tenant_id     uuid        NOT NULL,
  bucket        timestamptz NOT NULL,   -- 5-minute bucket
  query_hash    bigint      NOT NULL,
  endpoint      text        NOT NULL,   -- '' when the query came with no endpoint
  calls         bigint      NOT NULL,
  slow_calls    bigint      NOT NULL,
  total_ms      double precision NOT NULL,
  max_ms        real        NOT NULL,
  rows_sum      bigint      NOT NULL,
  hist          bigint[]    NOT NULL,
  first_seen    timestamptz NOT NULL,
  last_seen     timestamptz NOT NULL,
  query_preview text        NOT NULL
);

CREATE TABLE resource_rollup_pending (
  tenant_id     uuid        NOT NULL,
  bucket        timestamptz NOT NULL,   -- 5-minute bucket
  source        text        NOT NULL,
  samples       bigint      NOT NULL,
  sum_cpu       double precision NOT NULL,
  max_cpu       real        NOT NULL,
  sum_memory    double precision NOT NULL,
  max_memory    real        NOT NULL,
  memory_total  real,
  sum_connections double precision NOT NULL,
  max_connections integer   NOT NULL,
  pool_max      integer
);

-- The delta triggers run with the owner's rights (SECURITY DEFINER) so that writers such
-- as agog_app need no privilege on the pending tables and cannot forge deltas.
CREATE FUNCTION api_performance_log_rollup_delta() RETURNS trigger
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

CREATE FUNCTION query_performance_log_rollup_delta() RETURNS trigger
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

CREATE FUNCTION system_resource_metrics_rollup_delta() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = public, pg_temp
AS $fn$
BEGIN
  INSERT INTO resource_rollup_pending
  SELECT tenant_id, date_bin('5 minutes', "timestamp", timestamptz '2000-01-01 00:00:00+00'), source,
         count(*), sum(cpu_usage_percent), max(cpu_usage_percent), sum(memory_used_mb), max(memory_used_mb),
         max(memory_total_mb), sum(active_connections), max(active_connections), max(pool_max)
    FROM new_rows
   GROUP BY 1, 2, 3;
  RETURN NULL;
END
$fn$;

CREATE TRIGGER api_performance_log_rollup_delta AFTER INSERT ON api_performance_log
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION api_performance_log_rollup_delta();
CREATE TRIGGER query_performance_log_rollup_delta AFTER INSERT ON query_performance_log
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION query_performance_log_rollup_delta();
CREATE TRIGGER system_resource_metrics_rollup_delta AFTER INSERT ON system_resource_metrics
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION system_resource_metrics_rollup_delta();

-- ---------------------------------------------------------------------------------
-- Rollups. Each keyed by tenant first (the distribution column for Citus).
-- ---------------------------------------------------------------------------------
CREATE TABLE api_metrics_rollup (
  tenant_id     uuid        NOT NULL,
  resolution    text        NOT NULL CHECK (resolution IN ('5m', '1h', '1d')),
  bucket        timestamptz NOT NULL,
  endpoint      text        NOT NULL,   -- '' = all endpoints
  requests      bigint      NOT NULL DEFAULT 0,
  errors        bigint      NOT NULL DEFAULT 0,
  client_errors bigint      NOT NULL DEFAULT 0,
  satisfied     bigint      NOT NULL DEFAULT 0,
  tolerating    bigint      NOT NULL DEFAULT 0,
  sum_ms        double precision NOT NULL DEFAULT 0,
  max_ms        real,
  db_ms         double precision NOT NULL DEFAULT 0,  -- time spent in queries tagged with this endpoint
  db_calls      bigint      NOT NULL DEFAULT 0,
  hist          bigint[],
  last_seen     timestamptz,
  PRIMARY KEY (tenant_id, resolution, bucket, endpoint)
);
COMMENT ON TABLE api_metrics_rollup IS
  'Request rollups per tenant, resolution (5m, 1h, 1d), bucket and endpoint ('''' = all), with a latency histogram.';
COMMENT ON INDEX api_metrics_rollup_pkey IS
  'Series and tables per tenant over a time range at one resolution; the refresh upserts by this key.';

CREATE TABLE query_metrics_rollup (
  tenant_id     uuid        NOT NULL,
  resolution    text        NOT NULL CHECK (resolution IN ('5m', '1h', '1d')),
  bucket        timestamptz NOT NULL,
  query_hash    bigint      NOT NULL,
  calls         bigint      NOT NULL DEFAULT 0,
  slow_calls    bigint      NOT NULL DEFAULT 0,
  total_ms      double precision NOT NULL DEFAULT 0,
  max_ms        real,
  rows_sum      bigint      NOT NULL DEFAULT 0,
  hist          bigint[],
  PRIMARY KEY (tenant_id, resolution, bucket, query_hash)
);
COMMENT ON TABLE query_metrics_rollup IS
  'Query rollups per tenant, resolution, bucket and fingerprint, with a latency histogram.';
COMMENT ON INDEX query_metrics_rollup_pkey IS
  'Top-N fingerprints and one fingerprint''s series over a time range at one resolution.';

CREATE TABLE query_fingerprints (
  tenant_id     uuid        NOT NULL,
  query_hash    bigint      NOT NULL,
  query_preview text        NOT NULL CHECK (length(query_preview) <= 500),
  calls         bigint      NOT NULL DEFAULT 0,
  first_seen    timestamptz NOT NULL,
  last_seen     timestamptz NOT NULL,
  PRIMARY KEY (tenant_id, query_hash)
);
COMMENT ON TABLE query_fingerprints IS 'One row per normalized query: preview, first and last seen.';

CREATE TABLE query_endpoints (
  tenant_id     uuid        NOT NULL,
  query_hash    bigint      NOT NULL,
  endpoint      text        NOT NULL,
  calls         bigint      NOT NULL DEFAULT 0,
  total_ms      double precision NOT NULL DEFAULT 0,
  first_seen    timestamptz NOT NULL,
  last_seen     timestamptz NOT NULL,
  PRIMARY KEY (tenant_id, query_hash, endpoint)
);
COMMENT ON TABLE query_endpoints IS 'Which endpoints issue which fingerprint.';

CREATE TABLE resource_metrics_rollup (
  tenant_id       uuid        NOT NULL,
  bucket          timestamptz NOT NULL,   -- 5-minute bucket
  source          text        NOT NULL,
  samples         bigint      NOT NULL DEFAULT 0,
  sum_cpu         double precision NOT NULL DEFAULT 0,
  max_cpu         real,
  sum_memory      double precision NOT NULL DEFAULT 0,
  max_memory      real,
  memory_total    real,
  sum_connections double precision NOT NULL DEFAULT 0,
  max_connections integer,
  pool_max        integer,
  PRIMARY KEY (tenant_id, bucket, source)
);
COMMENT ON TABLE resource_metrics_rollup IS 'Resource samples per tenant, 5-minute bucket and source.';
COMMENT ON INDEX resource_metrics_rollup_pkey IS 'Resource series per tenant over a time range.';

-- The hourly cache gains its histogram and the health-score components.
ALTER TABLE performance_metrics_cache
  ADD COLUMN client_error_count     bigint NOT NULL DEFAULT 0,
  ADD COLUMN satisfied_count        bigint NOT NULL DEFAULT 0,
  ADD COLUMN tolerating_count       bigint NOT NULL DEFAULT 0,
  ADD COLUMN latency_hist           bigint[],
  ADD COLUMN p50_response_time_ms   double precision,
  ADD COLUMN p99_response_time_ms   double precision,
  ADD COLUMN max_cpu_usage_percent  double precision,
  ADD COLUMN memory_total_mb        double precision,
  ADD COLUMN pool_max               integer,
  ADD COLUMN apdex                  numeric(5,4),
  ADD COLUMN latency_deduction      numeric(5,2),
  ADD COLUMN error_deduction        numeric(5,2),
  ADD COLUMN slow_query_deduction   numeric(5,2),
  ADD COLUMN resource_deduction     numeric(5,2),
  ADD COLUMN health_model_version   smallint;

COMMENT ON COLUMN performance_metrics_cache.health_score IS
  'Health model v2: 100 - latency_deduction - error_deduction - slow_query_deduction - resource_deduction (README "Health score").';

-- Bookkeeping of the refresh: the watermark is the newest event time merged so far.
CREATE TABLE rollup_refresh_state (
  id              boolean PRIMARY KEY DEFAULT true CHECK (id),
  watermark       timestamptz,
  last_refresh_at timestamptz,
  last_duration_ms double precision,
  last_deltas     bigint
);
INSERT INTO rollup_refresh_state DEFAULT VALUES;

-- ---------------------------------------------------------------------------------
-- Health model v2, on one hour's numbers. Kept in one function so the refresh, the
-- tests and the README agree. Returns NULL when the hour had no requests and no queries.
--   latency_deduction    = 40 * (1 - apdex),  apdex = (satisfied + tolerating/2) / requests
--   error_deduction      = min(30, 300 * server_errors / requests)      (10 % errors: all 30)
--   slow_query_deduction = min(15, 150 * slow_queries / queries)       (10 % slow: all 15)
--   resource_deduction   = 15 * max(cpu pressure, memory pressure, pool pressure), each
--                          0..1: (max cpu - 80)/20, (memory % - 90)/10, (connections/pool - 0.9)/0.1
-- ---------------------------------------------------------------------------------
CREATE FUNCTION health_score_components(
  p_requests bigint, p_satisfied bigint, p_tolerating bigint, p_errors bigint,
  p_queries bigint, p_slow_queries bigint,
  p_max_cpu double precision, p_max_memory double precision, p_memory_total double precision,
  p_max_connections integer, p_pool_max integer,
  OUT apdex numeric, OUT latency_deduction numeric, OUT error_deduction numeric,
  OUT slow_query_deduction numeric, OUT resource_deduction numeric, OUT health_score numeric)
LANGUAGE plpgsql IMMUTABLE
AS $fn$
DECLARE
  v_pressure double precision := 0;
BEGIN
  IF coalesce(p_requests, 0) = 0 AND coalesce(p_queries, 0) = 0 THEN RETURN; END IF;
  IF coalesce(p_requests, 0) > 0 THEN
    apdex := round((p_satisfied + p_tolerating / 2.0) / p_requests, 4);
    latency_deduction := round(40 * (1 - apdex), 2);
    error_deduction := round(least(30, 300.0 * p_errors / p_requests), 2);
  ELSE
    latency_deduction := 0;
    error_deduction := 0;
  END IF;
  slow_query_deduction := CASE WHEN coalesce(p_queries, 0) > 0
                               THEN round(least(15, 150.0 * p_slow_queries / p_queries), 2) ELSE 0 END;
  IF p_max_cpu IS NOT NULL THEN v_pressure := greatest(v_pressure, (p_max_cpu - 80) / 20); END IF;
  IF p_max_memory IS NOT NULL AND p_memory_total > 0 THEN
    v_pressure := greatest(v_pressure, (100 * p_max_memory / p_memory_total - 90) / 10);
  END IF;
  IF p_max_connections IS NOT NULL AND p_pool_max > 0 THEN
    v_pressure := greatest(v_pressure, (p_max_connections::double precision / p_pool_max - 0.9) / 0.1);
  END IF;
  resource_deduction := round((15 * least(1, greatest(0, v_pressure)))::numeric, 2);
  health_score := greatest(0, 100 - latency_deduction - error_deduction - slow_query_deduction - resource_deduction);
END
$fn$;
COMMENT ON FUNCTION health_score_components(bigint, bigint, bigint, bigint, bigint, bigint, double precision, double precision, double precision, integer, integer) IS
  'Health score model v2 and its components for one hour (see README "Health score").';

-- ---------------------------------------------------------------------------------
-- refresh_performance_metrics_incremental(tenant)  (replaces V0.0.40's version)
--
-- Merges the pending deltas of one tenant (NULL: all tenants) into the 5-minute, hourly
-- and daily rollups, the fingerprint tables and the resource rollup, then recomputes
-- performance_metrics_cache (with histogram percentiles and health components) for
-- exactly the hours that received rows, and stamps last_updated. Serialized by an
-- advisory lock. Returns the number of cache rows written.
-- ---------------------------------------------------------------------------------
DROP FUNCTION refresh_performance_metrics_incremental(uuid);
CREATE FUNCTION refresh_performance_metrics_incremental(p_tenant_id uuid DEFAULT NULL)
RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = public, pg_temp
AS $fn$
DECLARE
  v_started  timestamptz := clock_timestamp();
  v_written  integer;
  v_deltas   bigint := 0;
  v_count    bigint;
BEGIN
  PERFORM pg_advisory_xact_lock(hashtext('agog.refresh_performance_metrics'));

  CREATE TEMP TABLE IF NOT EXISTS refresh_api (LIKE api_rollup_pending) ON COMMIT DELETE ROWS;
  CREATE TEMP TABLE IF NOT EXISTS refresh_query (LIKE query_rollup_pending) ON COMMIT DELETE ROWS;
  CREATE TEMP TABLE IF NOT EXISTS refresh_resource (LIKE resource_rollup_pending) ON COMMIT DELETE ROWS;
  CREATE TEMP TABLE IF NOT EXISTS refresh_hours (tenant_id uuid, hour_bucket timestamptz) ON COMMIT DELETE ROWS;
  TRUNCATE refresh_api, refresh_query, refresh_resource, refresh_hours;

  WITH moved AS (DELETE FROM api_rollup_pending WHERE p_tenant_id IS NULL OR tenant_id = p_tenant_id RETURNING *)
  INSERT INTO refresh_api SELECT * FROM moved;
  GET DIAGNOSTICS v_count = ROW_COUNT; v_deltas := v_deltas + v_count;
  WITH moved AS (DELETE FROM query_rollup_pending WHERE p_tenant_id IS NULL OR tenant_id = p_tenant_id RETURNING *)
  INSERT INTO refresh_query SELECT * FROM moved;
  GET DIAGNOSTICS v_count = ROW_COUNT; v_deltas := v_deltas + v_count;
  WITH moved AS (DELETE FROM resource_rollup_pending WHERE p_tenant_id IS NULL OR tenant_id = p_tenant_id RETURNING *)
  INSERT INTO refresh_resource SELECT * FROM moved;
  GET DIAGNOSTICS v_count = ROW_COUNT; v_deltas := v_deltas + v_count;

  -- Requests, at three resolutions.
  INSERT INTO api_metrics_rollup AS r (tenant_id, resolution, bucket, endpoint, requests, errors, client_errors,
                                       satisfied, tolerating, sum_ms, max_ms, hist, last_seen)
  SELECT tenant_id, res.resolution,
         CASE res.resolution WHEN '5m' THEN bucket WHEN '1h' THEN date_trunc('hour', bucket, 'UTC')
                             ELSE date_trunc('day', bucket, 'UTC') END,
         endpoint, sum(requests), sum(errors), sum(client_errors), sum(satisfied), sum(tolerating),
         sum(sum_ms), max(max_ms), hist_union(hist), max(last_seen)
    FROM refresh_api CROSS JOIN (VALUES ('5m'), ('1h'), ('1d')) AS res(resolution)
   GROUP BY 1, 2, 3, 4
  ON CONFLICT (tenant_id, resolution, bucket, endpoint) DO UPDATE SET
    requests = r.requests + EXCLUDED.requests,
    errors = r.errors + EXCLUDED.errors,
    client_errors = r.client_errors + EXCLUDED.client_errors,
    satisfied = r.satisfied + EXCLUDED.satisfied,
    tolerating = r.tolerating + EXCLUDED.tolerating,
    sum_ms = r.sum_ms + EXCLUDED.sum_ms,
    max_ms = greatest(r.max_ms, EXCLUDED.max_ms),
    hist = hist_merge(r.hist, EXCLUDED.hist),
    last_seen = greatest(r.last_seen, EXCLUDED.last_seen);

  -- Database time per endpoint (and '' for all), for "share of time in the database".
  INSERT INTO api_metrics_rollup AS r (tenant_id, resolution, bucket, endpoint, db_ms, db_calls)
  SELECT tenant_id, resolution, rbucket, CASE WHEN grouping(endpoint) = 1 THEN '' ELSE endpoint END,
         sum(total_ms), sum(calls)
    FROM (SELECT tenant_id, res.resolution,
                 CASE res.resolution WHEN '5m' THEN bucket WHEN '1h' THEN date_trunc('hour', bucket, 'UTC')
                                     ELSE date_trunc('day', bucket, 'UTC') END AS rbucket,
                 coalesce(nullif(endpoint, ''), '(none)') AS endpoint, total_ms, calls
            FROM refresh_query CROSS JOIN (VALUES ('5m'), ('1h'), ('1d')) AS res(resolution)) q
   GROUP BY GROUPING SETS ((tenant_id, resolution, rbucket, endpoint), (tenant_id, resolution, rbucket))
  ON CONFLICT (tenant_id, resolution, bucket, endpoint) DO UPDATE SET
    db_ms = r.db_ms + EXCLUDED.db_ms,
    db_calls = r.db_calls + EXCLUDED.db_calls;

  -- Queries per fingerprint, at three resolutions.
  INSERT INTO query_metrics_rollup AS r (tenant_id, resolution, bucket, query_hash, calls, slow_calls,
                                         total_ms, max_ms, rows_sum, hist)
  SELECT tenant_id, res.resolution,
         CASE res.resolution WHEN '5m' THEN bucket WHEN '1h' THEN date_trunc('hour', bucket, 'UTC')
                             ELSE date_trunc('day', bucket, 'UTC') END,
         query_hash, sum(calls), sum(slow_calls), sum(total_ms), max(max_ms), sum(rows_sum), hist_union(hist)
    FROM refresh_query CROSS JOIN (VALUES ('5m'), ('1h'), ('1d')) AS res(resolution)
   GROUP BY 1, 2, 3, 4
  ON CONFLICT (tenant_id, resolution, bucket, query_hash) DO UPDATE SET
    calls = r.calls + EXCLUDED.calls,
    slow_calls = r.slow_calls + EXCLUDED.slow_calls,
    total_ms = r.total_ms + EXCLUDED.total_ms,
    max_ms = greatest(r.max_ms, EXCLUDED.max_ms),
    rows_sum = r.rows_sum + EXCLUDED.rows_sum,
    hist = hist_merge(r.hist, EXCLUDED.hist);

  INSERT INTO query_fingerprints AS f (tenant_id, query_hash, query_preview, calls, first_seen, last_seen)
  SELECT tenant_id, query_hash, min(query_preview), sum(calls), min(first_seen), max(last_seen)
    FROM refresh_query GROUP BY 1, 2
  ON CONFLICT (tenant_id, query_hash) DO UPDATE SET
    calls = f.calls + EXCLUDED.calls,
    first_seen = least(f.first_seen, EXCLUDED.first_seen),
    last_seen = greatest(f.last_seen, EXCLUDED.last_seen);

  INSERT INTO query_endpoints AS e (tenant_id, query_hash, endpoint, calls, total_ms, first_seen, last_seen)
  SELECT tenant_id, query_hash, endpoint, sum(calls), sum(total_ms), min(first_seen), max(last_seen)
    FROM refresh_query WHERE endpoint <> '' GROUP BY 1, 2, 3
  ON CONFLICT (tenant_id, query_hash, endpoint) DO UPDATE SET
    calls = e.calls + EXCLUDED.calls,
    total_ms = e.total_ms + EXCLUDED.total_ms,
    first_seen = least(e.first_seen, EXCLUDED.first_seen),
    last_seen = greatest(e.last_seen, EXCLUDED.last_seen);

  INSERT INTO resource_metrics_rollup AS r (tenant_id, bucket, source, samples, sum_cpu, max_cpu, sum_memory,
                                            max_memory, memory_total, sum_connections, max_connections, pool_max)
  SELECT tenant_id, bucket, source, sum(samples), sum(sum_cpu), max(max_cpu), sum(sum_memory), max(max_memory),
         max(memory_total), sum(sum_connections), max(max_connections), max(pool_max)
    FROM refresh_resource GROUP BY 1, 2, 3
  ON CONFLICT (tenant_id, bucket, source) DO UPDATE SET
    samples = r.samples + EXCLUDED.samples,
    sum_cpu = r.sum_cpu + EXCLUDED.sum_cpu,
    max_cpu = greatest(r.max_cpu, EXCLUDED.max_cpu),
    sum_memory = r.sum_memory + EXCLUDED.sum_memory,
    max_memory = greatest(r.max_memory, EXCLUDED.max_memory),
    memory_total = coalesce(EXCLUDED.memory_total, r.memory_total),
    sum_connections = r.sum_connections + EXCLUDED.sum_connections,
    max_connections = greatest(r.max_connections, EXCLUDED.max_connections),
    pool_max = coalesce(EXCLUDED.pool_max, r.pool_max);

  -- The hours that received rows.
  INSERT INTO refresh_hours
  SELECT DISTINCT tenant_id, date_trunc('hour', bucket, 'UTC') FROM (
    SELECT tenant_id, bucket FROM refresh_api
    UNION ALL SELECT tenant_id, bucket FROM refresh_query
    UNION ALL SELECT tenant_id, bucket FROM refresh_resource) t;

  INSERT INTO performance_metrics_cache AS c (
    tenant_id, hour_bucket, total_requests, error_count, client_error_count, satisfied_count, tolerating_count,
    avg_response_time_ms, p50_response_time_ms, p95_response_time_ms, p99_response_time_ms, latency_hist,
    total_queries, slow_query_count, avg_query_time_ms,
    avg_cpu_usage_percent, max_cpu_usage_percent, max_memory_used_mb, memory_total_mb,
    max_active_connections, pool_max,
    apdex, latency_deduction, error_deduction, slow_query_deduction, resource_deduction, health_score,
    health_model_version, last_updated)
  SELECT h.tenant_id, h.hour_bucket,
         coalesce(a.requests, 0), coalesce(a.errors, 0), coalesce(a.client_errors, 0),
         coalesce(a.satisfied, 0), coalesce(a.tolerating, 0),
         a.sum_ms / nullif(a.requests, 0),
         hist_percentile(a.hist, 0.50), hist_percentile(a.hist, 0.95), hist_percentile(a.hist, 0.99), a.hist,
         coalesce(q.calls, 0), coalesce(q.slow_calls, 0), q.total_ms / nullif(q.calls, 0),
         rs.avg_cpu, rs.max_cpu, rs.max_memory, rs.memory_total, rs.max_connections, rs.pool_max,
         hc.apdex, hc.latency_deduction, hc.error_deduction, hc.slow_query_deduction, hc.resource_deduction,
         hc.health_score, 2, now()
    FROM refresh_hours h
    LEFT JOIN api_metrics_rollup a
      ON a.tenant_id = h.tenant_id AND a.resolution = '1h' AND a.bucket = h.hour_bucket AND a.endpoint = ''
    LEFT JOIN LATERAL (
      SELECT sum(calls) AS calls, sum(slow_calls) AS slow_calls, sum(total_ms) AS total_ms
        FROM query_metrics_rollup
       WHERE tenant_id = h.tenant_id AND resolution = '1h' AND bucket = h.hour_bucket) q ON true
    LEFT JOIN LATERAL (
      SELECT sum(sum_cpu) / nullif(sum(samples), 0) AS avg_cpu, max(max_cpu) AS max_cpu,
             max(max_memory) AS max_memory, max(memory_total) AS memory_total,
             max(max_connections) AS max_connections, max(pool_max) AS pool_max
        FROM resource_metrics_rollup
       WHERE tenant_id = h.tenant_id AND bucket >= h.hour_bucket AND bucket < h.hour_bucket + interval '1 hour') rs ON true
    CROSS JOIN LATERAL health_score_components(
      a.requests, a.satisfied, a.tolerating, a.errors, q.calls::bigint, q.slow_calls::bigint,
      rs.max_cpu::double precision, rs.max_memory::double precision, rs.memory_total::double precision,
      rs.max_connections, rs.pool_max) hc
  ON CONFLICT (tenant_id, hour_bucket) DO UPDATE SET
    total_requests = EXCLUDED.total_requests,
    error_count = EXCLUDED.error_count,
    client_error_count = EXCLUDED.client_error_count,
    satisfied_count = EXCLUDED.satisfied_count,
    tolerating_count = EXCLUDED.tolerating_count,
    avg_response_time_ms = EXCLUDED.avg_response_time_ms,
    p50_response_time_ms = EXCLUDED.p50_response_time_ms,
    p95_response_time_ms = EXCLUDED.p95_response_time_ms,
    p99_response_time_ms = EXCLUDED.p99_response_time_ms,
    latency_hist = EXCLUDED.latency_hist,
    total_queries = EXCLUDED.total_queries,
    slow_query_count = EXCLUDED.slow_query_count,
    avg_query_time_ms = EXCLUDED.avg_query_time_ms,
    avg_cpu_usage_percent = EXCLUDED.avg_cpu_usage_percent,
    max_cpu_usage_percent = EXCLUDED.max_cpu_usage_percent,
    max_memory_used_mb = EXCLUDED.max_memory_used_mb,
    memory_total_mb = EXCLUDED.memory_total_mb,
    max_active_connections = EXCLUDED.max_active_connections,
    pool_max = EXCLUDED.pool_max,
    apdex = EXCLUDED.apdex,
    latency_deduction = EXCLUDED.latency_deduction,
    error_deduction = EXCLUDED.error_deduction,
    slow_query_deduction = EXCLUDED.slow_query_deduction,
    resource_deduction = EXCLUDED.resource_deduction,
    health_score = EXCLUDED.health_score,
    health_model_version = EXCLUDED.health_model_version,
    last_updated = EXCLUDED.last_updated;
  GET DIAGNOSTICS v_written = ROW_COUNT;

  -- Freshness: every tenant's cache is current as of this refresh, even in hours without rows.
  UPDATE performance_metrics_cache c SET last_updated = now()
    FROM (SELECT tenant_id, max(hour_bucket) AS hour_bucket FROM performance_metrics_cache
           WHERE p_tenant_id IS NULL OR tenant_id = p_tenant_id GROUP BY tenant_id) latest
   WHERE c.tenant_id = latest.tenant_id AND c.hour_bucket = latest.hour_bucket AND c.last_updated < now();

  UPDATE rollup_refresh_state SET
    watermark = greatest(watermark, (SELECT max(last_seen) FROM refresh_api),
                         (SELECT max(last_seen) FROM refresh_query), (SELECT max(bucket) FROM refresh_resource)),
    last_refresh_at = now(),
    last_duration_ms = extract(epoch FROM clock_timestamp() - v_started) * 1000,
    last_deltas = v_deltas;
  RETURN v_written;
END
$fn$;

COMMENT ON FUNCTION refresh_performance_metrics_incremental(uuid) IS
  'Merges the rows that arrived since the last refresh (pending deltas) into the rollups for one tenant (NULL: all), recomputes the cache rows of exactly the hours they touched, stamps last_updated; returns the number of cache rows written.';

-- ---------------------------------------------------------------------------------
-- get_performance_summary(tenant, hours)  (replaces V0.0.40's version)
-- Over the last p_hours hours of the cache for one tenant: totals, request-weighted
-- averages, p95 from the merged histograms (exact to 1 %), and the health score
-- recomputed with model v2 from the summed components.
-- ---------------------------------------------------------------------------------
DROP FUNCTION get_performance_summary(uuid, integer);
CREATE FUNCTION get_performance_summary(p_tenant_id uuid, p_hours integer DEFAULT 24)
RETURNS TABLE (
  total_requests bigint,
  avg_response_time_ms double precision,
  p95_response_time_ms double precision,
  error_rate double precision,
  total_queries bigint,
  slow_query_count bigint,
  health_score numeric,
  last_updated timestamptz
)
LANGUAGE sql STABLE
SET search_path = public, pg_temp
AS $fn$
  WITH hours AS (
    SELECT * FROM performance_metrics_cache c
     WHERE c.tenant_id = p_tenant_id
       AND c.hour_bucket >= date_trunc('hour', now()) - make_interval(hours => greatest(p_hours, 1) - 1)
  ), merged AS (
    SELECT array_agg((bucket << 40) + n ORDER BY bucket) AS hist
      FROM (SELECT e >> 40 AS bucket, sum(e & 1099511627775)::bigint AS n
              FROM hours, unnest(hours.latency_hist) e GROUP BY 1) s
  ), totals AS (
    SELECT sum(h.total_requests)::bigint AS requests, sum(h.error_count)::bigint AS errors,
           sum(h.satisfied_count)::bigint AS satisfied, sum(h.tolerating_count)::bigint AS tolerating,
           sum(h.avg_response_time_ms * h.total_requests) AS sum_ms,
           sum(h.total_queries)::bigint AS queries, sum(h.slow_query_count)::bigint AS slow,
           max(h.max_cpu_usage_percent) AS max_cpu, max(h.max_memory_used_mb) AS max_mem,
           max(h.memory_total_mb) AS mem_total, max(h.max_active_connections) AS max_conn,
           max(h.pool_max) AS pool_max, max(h.last_updated) AS last_updated
      FROM hours h
  )
  SELECT coalesce(t.requests, 0), t.sum_ms / nullif(t.requests, 0),
         hist_percentile((SELECT hist FROM merged), 0.95),
         t.errors::double precision / nullif(t.requests, 0),
         coalesce(t.queries, 0), coalesce(t.slow, 0),
         (health_score_components(t.requests, t.satisfied, t.tolerating, t.errors, t.queries, t.slow,
                                  t.max_cpu, t.max_mem, t.mem_total, t.max_conn, t.pool_max)).health_score,
         t.last_updated
    FROM totals t
$fn$;

COMMENT ON FUNCTION get_performance_summary(uuid, integer) IS
  'Summary of the last p_hours hours of the cache for one tenant: totals, weighted averages, p95 from merged histograms, health score (model v2) of the period.';

-- ---------------------------------------------------------------------------------
-- API tokens: only a SHA-256 hash of each token is stored. tenant_id NULL = admin.
-- ---------------------------------------------------------------------------------
CREATE TABLE api_tokens (
  id           uuid        PRIMARY KEY,
  token_hash   bytea       NOT NULL UNIQUE,
  tenant_id    uuid,
  scopes       text[]      NOT NULL CHECK (scopes <@ ARRAY['read', 'ingest', 'admin'] AND cardinality(scopes) > 0),
  name         text        NOT NULL DEFAULT '' CHECK (length(name) <= 200),
  created_at   timestamptz NOT NULL DEFAULT now(),
  last_used_at timestamptz,
  revoked_at   timestamptz,
  CHECK (tenant_id IS NOT NULL OR 'admin' = ANY (scopes))
);
COMMENT ON TABLE api_tokens IS
  'Bearer tokens of the service, stored as SHA-256 hashes; bound to one tenant, or admin (tenant_id NULL).';
COMMENT ON INDEX api_tokens_token_hash_key IS 'Token lookup on every authenticated request.';

-- ---------------------------------------------------------------------------------
-- Scheduler bookkeeping: one row per job, for /health and /metrics.
-- ---------------------------------------------------------------------------------
CREATE TABLE scheduler_job_runs (
  job          text        PRIMARY KEY,
  last_started timestamptz,
  last_success timestamptz,
  last_error   text,
  last_error_at timestamptz,
  failures     bigint      NOT NULL DEFAULT 0,
  runs         bigint      NOT NULL DEFAULT 0
);

-- ---------------------------------------------------------------------------------
-- Privileges and row-level security of the new tables (same rules as V0.0.40).
-- ---------------------------------------------------------------------------------
GRANT SELECT ON api_metrics_rollup, query_metrics_rollup, query_fingerprints, query_endpoints,
                resource_metrics_rollup, performance_settings, rollup_refresh_state
  TO agog_app, agog_readonly;
GRANT EXECUTE ON FUNCTION refresh_performance_metrics_incremental(uuid) TO agog_app;
GRANT EXECUTE ON FUNCTION get_performance_summary(uuid, integer) TO agog_app, agog_readonly;
REVOKE EXECUTE ON FUNCTION refresh_performance_metrics_incremental(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION hist_percentile(bigint[], double precision), hist_merge(bigint[], bigint[]),
  latency_bucket(double precision), latency_bucket_value(bigint) TO agog_app, agog_readonly;

ALTER TABLE api_metrics_rollup ENABLE ROW LEVEL SECURITY;
ALTER TABLE query_metrics_rollup ENABLE ROW LEVEL SECURITY;
ALTER TABLE query_fingerprints ENABLE ROW LEVEL SECURITY;
ALTER TABLE query_endpoints ENABLE ROW LEVEL SECURITY;
ALTER TABLE resource_metrics_rollup ENABLE ROW LEVEL SECURITY;

DO $policies$
DECLARE
  v_table text;
BEGIN
  FOREACH v_table IN ARRAY ARRAY['api_metrics_rollup', 'query_metrics_rollup', 'query_fingerprints',
                                 'query_endpoints', 'resource_metrics_rollup']
  LOOP
    EXECUTE format(
      'CREATE POLICY tenant_isolation_app ON %I TO agog_app
         USING (tenant_id = nullif(current_setting(''app.tenant_id'', true), '''')::uuid)', v_table);
    EXECUTE format(
      'CREATE POLICY tenant_scope_readonly ON %I FOR SELECT TO agog_readonly
         USING (nullif(current_setting(''app.tenant_id'', true), '''') IS NULL
                OR tenant_id = nullif(current_setting(''app.tenant_id'', true), '''')::uuid)', v_table);
  END LOOP;
END
$policies$;
