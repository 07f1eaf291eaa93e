-- Compact rollup histograms.
--
-- The rollups' latency histograms become bytea: 4 bytes per non-empty bucket instead of
-- a bigint[] of 8 bytes per bucket behind a 24-byte array header. Reading a range
-- concatenates the stored bytes (string_agg) with no function per element, where a
-- bigint[] went through an output or send function for every element; the benchmark
-- report service/bench/reports/grafana-panels.md gives what that costs on long ranges.
--
-- Format: big-endian unsigned 32-bit elements, bucket * 2^20 + count, in ascending
-- bucket order; count is 1 .. 2^20 - 1, and a bucket holding more is written as several
-- elements of that bucket (readers add them). Buckets are latency_bucket()'s (at most
-- 4000 < 2^12). The pending deltas, hist_from_buckets and the cache's latency_hist keep
-- the bigint[] form (bucket * 2^40 + count); hist_pack and hist_unpack convert.
--
-- The refresh also writes each request rollup row once: the database time of the
-- queries tagged with an endpoint goes into the same upsert as its requests, not into a
-- second one that updated every row again.
--
-- And the resource log is indexed like the other two raw logs, by a BRIN index on time,
-- in place of V0.0.40's b-tree on (tenant_id, "timestamp"). Samples arrive in time
-- order, the panels read them from resource_metrics_rollup except for windows of an
-- hour or less, and the b-tree was nearly as large as the samples themselves, on a
-- budget of bytes per record ingested (service/bench/reports/grafana-panels.md).

CREATE FUNCTION hist_values(p_hist bytea) RETURNS SETOF bigint
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $fn$
  SELECT (get_byte(p_hist, i)::bigint << 24) + (get_byte(p_hist, i + 1) << 16)
         + (get_byte(p_hist, i + 2) << 8) + get_byte(p_hist, i + 3)
    FROM generate_series(0, length(p_hist) - 4, 4) i
$fn$;
COMMENT ON FUNCTION hist_values(bytea) IS
  'The elements (bucket * 2^20 + count) of a packed latency histogram, in order.';

CREATE FUNCTION hist_split_element(p_bucket bigint, p_count bigint) RETURNS bytea
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $fn$
  SELECT string_agg(int4send(((p_bucket << 20) + least(p_count - k * 1048575, 1048575)
                              - CASE WHEN p_bucket >= 2048 THEN 4294967296 ELSE 0 END)::integer),
                    ''::bytea ORDER BY k)
    FROM generate_series(0, (p_count - 1) / 1048575) k
$fn$;
COMMENT ON FUNCTION hist_split_element(bigint, bigint) IS
  'The packed bytes of one bucket''s count of 2^20 or more: elements of 2^20 - 1 and the rest.';

-- A plain expression, so that PostgreSQL inlines it into the statements that pack.
CREATE FUNCTION hist_element(p_bucket bigint, p_count bigint) RETURNS bytea
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $fn$
  SELECT CASE
    WHEN p_count < 1048576
      THEN int4send(((p_bucket << 20) + p_count - CASE WHEN p_bucket >= 2048 THEN 4294967296 ELSE 0 END)::integer)
    ELSE hist_split_element(p_bucket, p_count)
  END
$fn$;
COMMENT ON FUNCTION hist_element(bigint, bigint) IS
  'The packed bytes of one bucket''s count (count > 0): one element, or several when the count needs more than 20 bits.';

CREATE FUNCTION hist_pack(p_hist bigint[]) RETURNS bytea
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $fn$
  SELECT coalesce(string_agg(hist_element(b, n), ''::bytea ORDER BY b), ''::bytea)
    FROM (SELECT e >> 40 AS b, sum(e & 1099511627775)::bigint AS n FROM unnest(p_hist) e GROUP BY 1) s
   WHERE n > 0
$fn$;
COMMENT ON FUNCTION hist_pack(bigint[]) IS
  'A latency histogram in the bigint[] form (bucket * 2^40 + count) packed as the rollups store it.';

CREATE FUNCTION hist_unpack(p_hist bytea) RETURNS bigint[]
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $fn$
  SELECT coalesce(array_agg((b << 40) + n ORDER BY b), '{}'::bigint[])
    FROM (SELECT v >> 20 AS b, sum(v & 1048575)::bigint AS n FROM hist_values(p_hist) v GROUP BY 1) s
$fn$;
COMMENT ON FUNCTION hist_unpack(bytea) IS
  'A packed latency histogram in the bigint[] form (bucket * 2^40 + count), one element per bucket.';

CREATE FUNCTION hist_merge(a bytea, b bytea) RETURNS bytea
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $fn$
  SELECT CASE
    WHEN a IS NULL THEN b
    WHEN b IS NULL THEN a
    ELSE (SELECT coalesce(string_agg(hist_element(bucket, n), ''::bytea ORDER BY bucket), ''::bytea)
            FROM (SELECT v >> 20 AS bucket, sum(v & 1048575)::bigint AS n
                    FROM (SELECT v FROM hist_values(a) v UNION ALL SELECT v FROM hist_values(b) v) u
                   GROUP BY 1) s)
  END
$fn$;
COMMENT ON FUNCTION hist_merge(bytea, bytea) IS 'Sum of two packed latency histograms.';

CREATE AGGREGATE hist_union(bytea) (SFUNC = hist_merge, STYPE = bytea, PARALLEL = SAFE);
COMMENT ON AGGREGATE hist_union(bytea) IS 'Sum of the packed latency histograms of a group of rows.';

CREATE FUNCTION hist_percentile(p_hist bytea, p_q double precision) RETURNS double precision
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $fn$
  SELECT hist_percentile(hist_unpack(p_hist), p_q)
$fn$;
COMMENT ON FUNCTION hist_percentile(bytea, double precision) IS
  'Percentile (0..1) of a packed latency histogram, as hist_percentile(bigint[], double precision).';

DROP INDEX system_resource_metrics_tenant_time;
CREATE INDEX system_resource_metrics_timestamp_brin
  ON system_resource_metrics USING brin ("timestamp") WITH (pages_per_range = 32);
COMMENT ON INDEX system_resource_metrics_timestamp_brin IS
  'Time-window scans: rollup refresh and short-window raw resource series (a few minutes of every tenant''s samples).';

ALTER TABLE api_metrics_rollup ALTER COLUMN hist TYPE bytea USING hist_pack(hist);
ALTER TABLE query_metrics_rollup ALTER COLUMN hist TYPE bytea USING hist_pack(hist);
COMMENT ON COLUMN api_metrics_rollup.hist IS
  'Latency histogram, packed: 4-byte big-endian elements bucket * 2^20 + count in bucket order (V0.0.58__compact_histograms.sql). NULL on rows with database time only.';
COMMENT ON COLUMN query_metrics_rollup.hist IS
  'Latency histogram, packed: 4-byte big-endian elements bucket * 2^20 + count in bucket order (V0.0.58__compact_histograms.sql).';

CREATE OR REPLACE FUNCTION refresh_performance_metrics_incremental(p_tenant_id uuid DEFAULT NULL)
RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = public, pg_temp
AS $fn$
DECLARE
  v_started  timestamptz := clock_timestamp();
  v_written  integer;
  v_deltas   bigint := 0;
  v_count    bigint;
  v_fine     timestamptz := fine_rollup_start(now());
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

  -- Requests and the database time of queries tagged with an endpoint, at three
  -- resolutions, in one upsert per row (an endpoint's 5-minute rows only from v_fine on).
  WITH deltas AS MATERIALIZED (
    SELECT tenant_id, res.resolution,
           CASE res.resolution WHEN '5m' THEN bucket WHEN '1h' THEN date_trunc('hour', bucket, 'UTC')
                               ELSE date_trunc('day', bucket, 'UTC') END AS rbucket,
           endpoint, requests, errors, client_errors, satisfied, tolerating, sum_ms, max_ms, hist, last_seen
      FROM refresh_api CROSS JOIN (VALUES ('5m'), ('1h'), ('1d')) AS res(resolution)
     WHERE res.resolution <> '5m' OR endpoint = '' OR bucket >= v_fine
  ), hists AS (
    -- Every delta's histogram elements summed per row and bucket in one pass, however
    -- many deltas a row has (an aggregate merging them one by one costs a merge each).
    SELECT tenant_id, resolution, rbucket, endpoint, string_agg(hist_element(b, n), ''::bytea ORDER BY b) AS hist
      FROM (SELECT tenant_id, resolution, rbucket, endpoint, e >> 40 AS b, sum(e & 1099511627775)::bigint AS n
              FROM deltas, unnest(hist) e GROUP BY 1, 2, 3, 4, 5) s
     WHERE n > 0
     GROUP BY 1, 2, 3, 4
  ), a AS (
    SELECT t.*, h.hist
      FROM (SELECT tenant_id, resolution, rbucket, endpoint, sum(requests) AS requests, sum(errors) AS errors,
                   sum(client_errors) AS client_errors, sum(satisfied) AS satisfied, sum(tolerating) AS tolerating,
                   sum(sum_ms) AS sum_ms, max(max_ms) AS max_ms, max(last_seen) AS last_seen
              FROM deltas GROUP BY 1, 2, 3, 4) t
      LEFT JOIN hists h USING (tenant_id, resolution, rbucket, endpoint)
  ), d AS (
    SELECT tenant_id, resolution, rbucket, CASE WHEN grouping(endpoint) = 1 THEN '' ELSE endpoint END AS endpoint,
           sum(total_ms) AS db_ms, sum(calls) AS db_calls
      FROM (SELECT tenant_id, res.resolution,
                   CASE res.resolution WHEN '5m' THEN bucket WHEN '1h' THEN date_trunc('hour', bucket, 'UTC')
                                       ELSE date_trunc('day', bucket, 'UTC') END AS rbucket,
                   coalesce(nullif(endpoint, ''), '(none)') AS endpoint, total_ms, calls
              FROM refresh_query CROSS JOIN (VALUES ('5m'), ('1h'), ('1d')) AS res(resolution)) q
     GROUP BY GROUPING SETS ((tenant_id, resolution, rbucket, endpoint), (tenant_id, resolution, rbucket))
    HAVING resolution <> '5m' OR grouping(endpoint) = 1 OR rbucket >= v_fine
  )
  INSERT INTO api_metrics_rollup AS r (tenant_id, resolution, bucket, endpoint, requests, errors, client_errors,
                                       satisfied, tolerating, sum_ms, max_ms, hist, last_seen, db_ms, db_calls)
  SELECT coalesce(a.tenant_id, d.tenant_id), coalesce(a.resolution, d.resolution), coalesce(a.rbucket, d.rbucket),
         coalesce(a.endpoint, d.endpoint), coalesce(a.requests, 0), coalesce(a.errors, 0), coalesce(a.client_errors, 0),
         coalesce(a.satisfied, 0), coalesce(a.tolerating, 0), coalesce(a.sum_ms, 0), a.max_ms, a.hist, a.last_seen,
         coalesce(d.db_ms, 0), coalesce(d.db_calls, 0)
    FROM a FULL JOIN d
      ON d.tenant_id = a.tenant_id AND d.resolution = a.resolution AND d.rbucket = a.rbucket AND d.endpoint = a.endpoint
  ON CONFLICT (tenant_id, resolution, endpoint, bucket) DO UPDATE SET
    requests = r.requests + EXCLUDED.requests,
    errors = r.errors + EXCLUDED.errors,
    client_errors = r.client_errors + EXCLUDED.client_errors,
    satisfied = r.satisfied + EXCLUDED.satisfied,
    tolerating = r.tolerating + EXCLUDED.tolerating,
    sum_ms = r.sum_ms + EXCLUDED.sum_ms,
    max_ms = greatest(r.max_ms, EXCLUDED.max_ms),
    hist = hist_merge(r.hist, EXCLUDED.hist),
    last_seen = greatest(r.last_seen, EXCLUDED.last_seen),
    db_ms = r.db_ms + EXCLUDED.db_ms,
    db_calls = r.db_calls + EXCLUDED.db_calls;

  -- Queries per fingerprint, at three resolutions; 5-minute rows only from v_fine on.
  WITH deltas AS MATERIALIZED (
    SELECT tenant_id, res.resolution,
           CASE res.resolution WHEN '5m' THEN bucket WHEN '1h' THEN date_trunc('hour', bucket, 'UTC')
                               ELSE date_trunc('day', bucket, 'UTC') END AS rbucket,
           query_hash, calls, slow_calls, total_ms, max_ms, rows_sum, hist
      FROM refresh_query CROSS JOIN (VALUES ('5m'), ('1h'), ('1d')) AS res(resolution)
     WHERE res.resolution <> '5m' OR bucket >= v_fine
  ), hists AS (
    SELECT tenant_id, resolution, rbucket, query_hash, string_agg(hist_element(b, n), ''::bytea ORDER BY b) AS hist
      FROM (SELECT tenant_id, resolution, rbucket, query_hash, e >> 40 AS b, sum(e & 1099511627775)::bigint AS n
              FROM deltas, unnest(hist) e GROUP BY 1, 2, 3, 4, 5) s
     WHERE n > 0
     GROUP BY 1, 2, 3, 4
  )
  INSERT INTO query_metrics_rollup AS r (tenant_id, resolution, bucket, query_hash, calls, slow_calls,
                                         total_ms, max_ms, rows_sum, hist)
  SELECT t.*, h.hist
    FROM (SELECT tenant_id, resolution, rbucket, query_hash, sum(calls), sum(slow_calls), sum(total_ms), max(max_ms),
                 sum(rows_sum)
            FROM deltas GROUP BY 1, 2, 3, 4) t
    LEFT JOIN hists h USING (tenant_id, resolution, rbucket, query_hash)
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
         hist_percentile(a.hist, 0.50), hist_percentile(a.hist, 0.95), hist_percentile(a.hist, 0.99),
         hist_unpack(a.hist),
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


GRANT EXECUTE ON FUNCTION hist_percentile(bytea, double precision), hist_merge(bytea, bytea),
  hist_pack(bigint[]), hist_unpack(bytea), hist_values(bytea), hist_element(bigint, bigint),
  hist_split_element(bigint, bigint)
  TO agog_app, agog_readonly;
GRANT EXECUTE ON FUNCTION hist_percentile(bytea, double precision), hist_union(bytea),
  hist_merge(bytea, bytea), hist_unpack(bytea), hist_values(bytea), hist_element(bigint, bigint),
  hist_split_element(bigint, bigint)
  TO agog_alerting;
