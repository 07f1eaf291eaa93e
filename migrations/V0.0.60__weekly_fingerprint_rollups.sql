-- A weekly level of the fingerprint rollups.
--
-- query_metrics_rollup gains weekly rows (resolution '1w', weeks from Monday 00:00 UTC as
-- date_trunc('week') gives them). A 30-day fingerprint ranking by p95 summed about 30
-- daily rows and their histograms per fingerprint, and missed the panel target at the
-- 10 M load of service/bench/reports/grafana-panels.md; with weekly rows its whole weeks
-- are 4 rows per fingerprint (docs/design/rollups.md, "Weekly fingerprint rows").
-- Endpoints have no weekly level: a tenant has tens of them, not hundreds.
--
-- The refresh writes it (refresh_performance_metrics_incremental replaced: V0.0.59's with
-- the '1w' level of fingerprints), and the upkeep expires it with the hourly and daily
-- rows (maintain_performance_partitions replaced: V0.0.59's with '1w' beside them).

ALTER TABLE query_metrics_rollup DROP CONSTRAINT query_metrics_rollup_resolution_check;
ALTER TABLE query_metrics_rollup ADD CONSTRAINT query_metrics_rollup_resolution_check
  CHECK (resolution IN ('5m', '1h', '1d', '1w'));
COMMENT ON TABLE query_metrics_rollup IS
  'Query rollups per tenant, resolution (5m, 1h, 1d, 1w), fingerprint and bucket, with a latency histogram. 5-minute rows are kept from fine_rollup_start(now()) on; weekly rows begin on Mondays, 00:00 UTC.';

-- The weekly rows of what is already rolled up: every daily histogram's elements summed
-- per week and bucket in one pass (hist_union merges them one row at a time, which took
-- several times as long on the benchmark's data).
INSERT INTO query_metrics_rollup (tenant_id, resolution, bucket, query_hash, calls, slow_calls, total_ms, max_ms,
                                  rows_sum, hist)
SELECT t.tenant_id, '1w', t.week, t.query_hash, t.calls, t.slow_calls, t.total_ms, t.max_ms, t.rows_sum, h.hist
  FROM (SELECT tenant_id, date_trunc('week', bucket, 'UTC') AS week, query_hash, sum(calls) AS calls,
               sum(slow_calls) AS slow_calls, sum(total_ms) AS total_ms, max(max_ms) AS max_ms, sum(rows_sum) AS rows_sum
          FROM query_metrics_rollup WHERE resolution = '1d' GROUP BY 1, 2, 3) t
  LEFT JOIN (SELECT tenant_id, week, query_hash, string_agg(hist_element(b, n), ''::bytea ORDER BY b) AS hist
               FROM (SELECT tenant_id, date_trunc('week', bucket, 'UTC') AS week, query_hash, v >> 20 AS b,
                            sum(v & 1048575)::bigint AS n
                       FROM query_metrics_rollup, hist_values(hist) v
                      WHERE resolution = '1d' GROUP BY 1, 2, 3, 4) s
              WHERE n > 0
              GROUP BY 1, 2, 3) h USING (tenant_id, week, query_hash);

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
           CASE res.resolution WHEN '5m' THEN bucket
                               WHEN '30m' THEN date_bin('30 minutes', bucket, timestamptz '2000-01-01 00:00:00+00')
                               WHEN '1h' THEN date_trunc('hour', bucket, 'UTC')
                               ELSE date_trunc('day', bucket, 'UTC') END AS rbucket,
           endpoint, requests, errors, client_errors, satisfied, tolerating, sum_ms, max_ms, hist, last_seen
      FROM refresh_api CROSS JOIN (VALUES ('5m'), ('30m'), ('1h'), ('1d')) AS res(resolution)
     WHERE (res.resolution <> '5m' OR endpoint = '' OR bucket >= v_fine)
       AND (res.resolution <> '30m' OR endpoint = '')
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
                   CASE res.resolution WHEN '5m' THEN bucket
                                       WHEN '30m' THEN date_bin('30 minutes', bucket, timestamptz '2000-01-01 00:00:00+00')
                                       WHEN '1h' THEN date_trunc('hour', bucket, 'UTC')
                                       ELSE date_trunc('day', bucket, 'UTC') END AS rbucket,
                   coalesce(nullif(endpoint, ''), '(none)') AS endpoint, total_ms, calls
              FROM refresh_query CROSS JOIN (VALUES ('5m'), ('30m'), ('1h'), ('1d')) AS res(resolution)) q
     GROUP BY GROUPING SETS ((tenant_id, resolution, rbucket, endpoint), (tenant_id, resolution, rbucket))
    HAVING (resolution <> '5m' OR grouping(endpoint) = 1 OR rbucket >= v_fine)
       AND (resolution <> '30m' OR grouping(endpoint) = 1)
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

  -- Queries per fingerprint, at four resolutions; 5-minute rows only from v_fine on.
  WITH deltas AS MATERIALIZED (
    SELECT tenant_id, res.resolution,
           CASE res.resolution WHEN '5m' THEN bucket WHEN '1h' THEN date_trunc('hour', bucket, 'UTC')
                               WHEN '1d' THEN date_trunc('day', bucket, 'UTC')
                               ELSE date_trunc('week', bucket, 'UTC') END AS rbucket,
           query_hash, calls, slow_calls, total_ms, max_ms, rows_sum, hist
      FROM refresh_query CROSS JOIN (VALUES ('5m'), ('1h'), ('1d'), ('1w')) AS res(resolution)
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


-- maintain_performance_partitions (replaces V0.0.59's): weekly fingerprint rows expire with
-- the hourly and daily ones.
CREATE OR REPLACE FUNCTION maintain_performance_partitions(
  p_months_ahead integer  DEFAULT 3,
  p_retention    interval DEFAULT interval '30 days',
  p_now          timestamptz DEFAULT now()
) RETURNS TABLE (action text, table_name text, detail text)
LANGUAGE plpgsql
SET search_path = public, pg_temp
AS $fn$
DECLARE
  v_parent     text;
  v_month      date;
  v_next       date;
  v_partition  text;
  v_default    text;
  v_moved      bigint;
  v_cutoff     timestamptz := p_now - p_retention;
  v_rec        record;
BEGIN
  IF p_months_ahead < 0 OR p_months_ahead > 24 THEN
    RAISE EXCEPTION 'p_months_ahead must be between 0 and 24, got %', p_months_ahead;
  END IF;
  IF p_retention < interval '1 day' THEN
    RAISE EXCEPTION 'p_retention must be at least 1 day, got %', p_retention;
  END IF;

  -- One upkeep at a time across all sessions and replicas.
  PERFORM pg_advisory_xact_lock(hashtext('agog.maintain_performance_partitions'));

  FOREACH v_parent IN ARRAY ARRAY['query_performance_log', 'api_performance_log', 'system_resource_metrics']
  LOOP
    v_default := v_parent || '_default';

    -- Create the current month and the months ahead.
    FOR i IN 0 .. p_months_ahead LOOP
      v_month := (date_trunc('month', p_now AT TIME ZONE 'UTC') + make_interval(months => i))::date;
      v_next := (v_month + interval '1 month')::date;
      v_partition := v_parent || '_' || to_char(v_month, 'YYYY_MM');

      CONTINUE WHEN to_regclass(format('%I', v_partition)) IS NOT NULL;

      -- Build the partition standalone, move the DEFAULT partition's rows of this
      -- range into it, then attach: attaching checks the DEFAULT partition holds no
      -- row of the new range, which is now true.
      EXECUTE format('CREATE TABLE %I (LIKE %I INCLUDING DEFAULTS INCLUDING CONSTRAINTS)',
                     v_partition, v_parent);
      EXECUTE format(
        'WITH moved AS (DELETE FROM %I WHERE "timestamp" >= %L::timestamptz AND "timestamp" < %L::timestamptz RETURNING *)
         INSERT INTO %I SELECT * FROM moved',
        v_default, v_month::text || ' 00:00:00+00', v_next::text || ' 00:00:00+00', v_partition);
      GET DIAGNOSTICS v_moved = ROW_COUNT;
      EXECUTE format('ALTER TABLE %I ATTACH PARTITION %I FOR VALUES FROM (%L) TO (%L)',
                     v_parent, v_partition,
                     v_month::text || ' 00:00:00+00', v_next::text || ' 00:00:00+00');

      action := 'created';
      table_name := v_partition;
      detail := CASE WHEN v_moved > 0
                     THEN format('moved %s rows from %s', v_moved, v_default)
                     ELSE 'empty' END;
      RETURN NEXT;
    END LOOP;

    -- Drop monthly partitions whose whole range is older than the retention.
    FOR v_rec IN
      SELECT c.relname AS name,
             (regexp_match(pg_get_expr(c.relpartbound, c.oid),
                           'TO \(''([^'']+)''\)'))[1]::timestamptz AS upper_bound
      FROM pg_inherits i
      JOIN pg_class c ON c.oid = i.inhrelid
      WHERE i.inhparent = format('%I', v_parent)::regclass
        AND c.relname ~ ('^' || v_parent || '_[0-9]{4}_[0-9]{2}$')
      ORDER BY c.relname
    LOOP
      IF v_rec.upper_bound IS NOT NULL AND v_rec.upper_bound <= v_cutoff THEN
        EXECUTE format('DROP TABLE %I', v_rec.name);
        action := 'dropped';
        table_name := v_rec.name;
        detail := format('range ended %s, before retention cutoff %s', v_rec.upper_bound, v_cutoff);
        RETURN NEXT;
      END IF;
    END LOOP;

    -- Rows in the DEFAULT partition are held to the same retention (they arrive there
    -- when their month has no partition, e.g. late or far-past timestamps).
    EXECUTE format('DELETE FROM %I WHERE "timestamp" < %L::timestamptz', v_default, v_cutoff);
    GET DIAGNOSTICS v_moved = ROW_COUNT;
    IF v_moved > 0 THEN
      action := 'purged';
      table_name := v_default;
      detail := format('%s rows older than the retention cutoff %s', v_moved, v_cutoff);
      RETURN NEXT;
    END IF;
  END LOOP;

  -- Derived data. 5-minute rows per endpoint and per fingerprint are kept for the current
  -- and the previous UTC day (fine_rollup_start). The tenants' 5- and 30-minute totals and the
  -- resource rollups follow the raw retention (a week of slack, so a month being dropped
  -- still has them); hourly, daily and weekly rollups, the cache, fingerprints
  -- and recommendations are kept for the longest range the query API answers (400 days).
  FOR v_rec IN
    SELECT * FROM (VALUES
      ('api_metrics_rollup',      'resolution = ''5m'' AND endpoint <> '''' AND bucket < $1', fine_rollup_start(p_now)),
      ('query_metrics_rollup',    'resolution = ''5m'' AND bucket < $1',            fine_rollup_start(p_now)),
      ('api_metrics_rollup',      'resolution IN (''5m'', ''30m'') AND bucket < $1', p_now - p_retention - interval '7 days'),
      ('resource_metrics_rollup', 'bucket < $1',                                     p_now - p_retention - interval '7 days'),
      ('api_metrics_rollup',      'resolution IN (''1h'', ''1d'') AND bucket < $1', p_now - interval '400 days'),
      ('query_metrics_rollup',    'resolution IN (''1h'', ''1d'', ''1w'') AND bucket < $1', p_now - interval '400 days'),
      ('performance_metrics_cache', 'hour_bucket < $1',                              p_now - interval '400 days'),
      ('query_fingerprints',      'last_seen < $1',                                  p_now - interval '400 days'),
      ('query_endpoints',         'last_seen < $1',                                  p_now - interval '400 days'),
      ('optimization_recommendations', 'last_seen < $1',                             p_now - interval '400 days')
    ) AS t(tbl, condition, cutoff)
  LOOP
    EXECUTE format('DELETE FROM %I WHERE ' || v_rec.condition, v_rec.tbl) USING v_rec.cutoff;
    GET DIAGNOSTICS v_moved = ROW_COUNT;
    IF v_moved > 0 THEN
      action := 'purged';
      table_name := v_rec.tbl;
      detail := format('%s rows before %s', v_moved, v_rec.cutoff);
      RETURN NEXT;
    END IF;
  END LOOP;
  RETURN;
END
$fn$;

COMMENT ON FUNCTION maintain_performance_partitions(integer, interval, timestamptz) IS
  'Creates monthly partitions for the current month and p_months_ahead more, moving matching rows out of the DEFAULT partition; drops monthly partitions older than p_retention and deletes older DEFAULT rows; expires derived rollups (5-minute rows per endpoint and per fingerprint: before fine_rollup_start(p_now); 5- and 30-minute totals and resource rollups: retention + 7 days; hourly, daily, weekly, cache, fingerprints, recommendations: 400 days); never drops DEFAULT partitions. Idempotent; serialized by an advisory lock.';
