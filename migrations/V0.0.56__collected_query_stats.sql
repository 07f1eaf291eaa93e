-- V0.0.56: query statistics collected from monitored databases (pg_stat_statements,
-- read by the service's collector, service/src/collector/), beside the statistics the
-- application reports.
--
--   collected_query_stats  per tenant, 5-minute or hourly bucket, fingerprint and monitored
--                          database: what the statement's counters grew by in the rounds
--                          that ended in the bucket (deltas, never negative; statements
--                          that did not run are not written). Two resolutions, as for the
--                          query rollups, so a long range reads hours and its edges
--                          5-minute buckets, never every round. The fingerprint is the one
--                          ingest computes from the normalized text, so both sources meet
--                          on query_hash.
--   collector_snapshots    the counters read by the last round of each monitored database,
--                          the base of the next round's deltas. Written in the same
--                          transaction as the deltas, so a round counts once or not at all.
--   merged_query_counts    calls and slow calls per tenant over a window with the two sources
--                          merged: a fingerprint collected in the window counts its collected
--                          calls, any other its reported ones (the health alert rule reads it).
--   merge_collected_into_cache
--                          the same merge per hour into performance_metrics_cache: queries,
--                          slow queries and the health score (its slow-query component) of
--                          the hours with collected rows. The service runs it after each
--                          refresh.
-- Undo: rollback/rollback_V0.0.56.sql.

CREATE TABLE collected_query_stats (
  tenant_id uuid NOT NULL,
  resolution text NOT NULL CHECK (resolution IN ('5m', '1h')),
  bucket timestamptz NOT NULL,
  query_hash bigint NOT NULL,
  source text NOT NULL,
  rounds integer NOT NULL CHECK (rounds > 0),
  calls bigint NOT NULL CHECK (calls > 0),
  total_ms double precision NOT NULL CHECK (total_ms >= 0),
  sum_squares_ms double precision NOT NULL CHECK (sum_squares_ms >= 0),
  rows_sum bigint NOT NULL CHECK (rows_sum >= 0),
  slow_calls bigint NOT NULL CHECK (slow_calls >= 0 AND slow_calls <= calls),
  min_ms double precision,
  max_ms double precision,
  shared_blks_hit bigint NOT NULL CHECK (shared_blks_hit >= 0),
  shared_blks_read bigint NOT NULL CHECK (shared_blks_read >= 0),
  last_round_at timestamptz NOT NULL,
  PRIMARY KEY (tenant_id, resolution, bucket, query_hash, source)
);
CREATE INDEX collected_query_stats_fingerprint ON collected_query_stats (tenant_id, resolution, query_hash, bucket);

COMMENT ON TABLE collected_query_stats IS
  'Per tenant, resolution (5-minute and hourly buckets, UTC-aligned as the query rollups), fingerprint and monitored database (source): how much a statement''s pg_stat_statements counters grew in the collection rounds that ended in the bucket (rounds of them, the last at last_round_at). calls, total_ms, rows_sum, the shared blocks and sum_squares_ms (sum of squared execution times, for the standard deviation) are sums of the rounds'' deltas; min_ms and max_ms are the extremes of the rounds where pg_stat_statements'' extremes moved (the entry began in the period, or its min fell or its max rose), NULL where none did (pg_stat_statements keeps no per-period extremes); slow_calls counts an entry''s calls of a round as slow when their mean is at or above the slow-query threshold.';

CREATE TABLE collector_snapshots (
  tenant_id uuid NOT NULL,
  source text NOT NULL,
  taken_at timestamptz NOT NULL,
  stats_reset timestamptz,
  server_version_num integer NOT NULL,
  entries text NOT NULL,
  PRIMARY KEY (tenant_id, source)
);

COMMENT ON TABLE collector_snapshots IS
  'The pg_stat_statements counters of each monitored database as its last collection round read them (entries: JSON text, one array per statement entry, kept as text because only the service reads it and parsing it as jsonb cost more than the rest of the write), with pg_stat_statements_info.stats_reset: the base of the next round''s deltas.';

CREATE FUNCTION merged_query_counts(p_from timestamptz, p_to timestamptz)
RETURNS TABLE (tenant_id uuid, calls bigint, slow_calls bigint)
LANGUAGE sql STABLE
SET search_path = public, pg_temp
AS $fn$
  -- A fingerprint with collected rows in [p_from, p_to) counts those; any other counts
  -- its reported calls from the 5-minute rollups. One statement seen both ways counts once.
  -- Both sides read 5-minute buckets that begin in the window.
  WITH collected AS (
    SELECT c.tenant_id, c.query_hash, sum(c.calls)::bigint AS calls, sum(c.slow_calls)::bigint AS slow_calls
      FROM collected_query_stats c
     WHERE c.resolution = '5m' AND c.bucket >= p_from AND c.bucket < p_to
     GROUP BY c.tenant_id, c.query_hash
  ), reported AS (
    SELECT r.tenant_id, r.query_hash, sum(r.calls)::bigint AS calls, sum(r.slow_calls)::bigint AS slow_calls
      FROM query_metrics_rollup r
     WHERE r.resolution = '5m' AND r.bucket >= p_from AND r.bucket < p_to
       AND NOT EXISTS (SELECT 1 FROM collected c WHERE c.tenant_id = r.tenant_id AND c.query_hash = r.query_hash)
     GROUP BY r.tenant_id, r.query_hash
  )
  SELECT u.tenant_id, sum(u.calls)::bigint, sum(u.slow_calls)::bigint
    FROM (SELECT * FROM collected UNION ALL SELECT * FROM reported) u
   GROUP BY u.tenant_id
$fn$;

COMMENT ON FUNCTION merged_query_counts(timestamptz, timestamptz) IS
  'Calls and slow calls per tenant in [p_from, p_to), reported and collected merged: a fingerprint collected in the window counts its collected calls (collected_query_stats), any other its reported ones (query_metrics_rollup, 5 minutes). Row-level security of the caller applies.';

CREATE FUNCTION merge_collected_into_cache(p_tenant_id uuid, p_from timestamptz, p_to timestamptz)
RETURNS integer
LANGUAGE plpgsql
SET search_path = public, pg_temp
AS $fn$
-- Parameters:
--   p_tenant_id  the tenant whose cache hours to rewrite
--   p_from/p_to  the hours to consider: those of collected rows in [hour of p_from, p_to)
-- Per hour, a fingerprint with collected rows in the hour counts its collected calls,
-- slow calls and time; any other its reported ones (the hourly rollups). The hour's
-- total_queries, slow_query_count and avg_query_time_ms become the merged figures, and
-- the health components are computed again from them and the hour's other stored
-- inputs (requests, errors, resources), as the refresh computes them. An hour without a
-- cache row (no reported data) gets one. Idempotent: it reads only the sources, so it may
-- run again after a refresh rewrote an hour from reported rows alone. Returns the rows
-- written.
DECLARE
  v_written integer;
BEGIN
  WITH collected AS (
    SELECT c.tenant_id, c.bucket AS hour_bucket, c.query_hash,
           sum(c.calls) AS calls, sum(c.slow_calls) AS slow_calls, sum(c.total_ms) AS total_ms
      FROM collected_query_stats c
     WHERE c.tenant_id = p_tenant_id AND c.resolution = '1h' AND c.bucket >= date_trunc('hour', p_from, 'UTC') AND c.bucket < p_to
     GROUP BY 1, 2, 3
  ), hours AS (
    -- Collected figures per hour, and the reported figures of the same fingerprints.
    SELECT c.tenant_id, c.hour_bucket, sum(c.calls) AS calls, sum(c.slow_calls) AS slow_calls, sum(c.total_ms) AS total_ms,
           coalesce(sum(r.calls), 0) AS overlap_calls, coalesce(sum(r.slow_calls), 0) AS overlap_slow,
           coalesce(sum(r.total_ms), 0) AS overlap_ms
      FROM collected c
      LEFT JOIN query_metrics_rollup r
        ON r.tenant_id = c.tenant_id AND r.resolution = '1h' AND r.query_hash = c.query_hash AND r.bucket = c.hour_bucket
     GROUP BY 1, 2
  ), merged AS (
    SELECT h.tenant_id, h.hour_bucket,
           (h.calls + coalesce(q.calls, 0) - h.overlap_calls)::bigint AS calls,
           (h.slow_calls + coalesce(q.slow_calls, 0) - h.overlap_slow)::bigint AS slow_calls,
           h.total_ms + coalesce(q.total_ms, 0) - h.overlap_ms AS total_ms
      FROM hours h
      LEFT JOIN LATERAL (
        SELECT sum(r.calls) AS calls, sum(r.slow_calls) AS slow_calls, sum(r.total_ms) AS total_ms
          FROM query_metrics_rollup r
         WHERE r.tenant_id = h.tenant_id AND r.resolution = '1h' AND r.bucket = h.hour_bucket) q ON true
  )
  INSERT INTO performance_metrics_cache AS p (
    tenant_id, hour_bucket, total_queries, slow_query_count, avg_query_time_ms,
    apdex, latency_deduction, error_deduction, slow_query_deduction, resource_deduction, health_score,
    health_model_version, last_updated)
  SELECT m.tenant_id, m.hour_bucket, m.calls, m.slow_calls, m.total_ms / nullif(m.calls, 0),
         hc.apdex, hc.latency_deduction, hc.error_deduction, hc.slow_query_deduction, hc.resource_deduction, hc.health_score,
         2, now()
    FROM merged m
    LEFT JOIN performance_metrics_cache c ON c.tenant_id = m.tenant_id AND c.hour_bucket = m.hour_bucket
   CROSS JOIN LATERAL health_score_components(
     c.total_requests, c.satisfied_count, c.tolerating_count, c.error_count, m.calls, m.slow_calls,
     c.max_cpu_usage_percent, c.max_memory_used_mb, c.memory_total_mb, c.max_active_connections, c.pool_max) hc
  ON CONFLICT (tenant_id, hour_bucket) DO UPDATE SET
    total_queries = EXCLUDED.total_queries,
    slow_query_count = EXCLUDED.slow_query_count,
    avg_query_time_ms = EXCLUDED.avg_query_time_ms,
    apdex = EXCLUDED.apdex,
    latency_deduction = EXCLUDED.latency_deduction,
    error_deduction = EXCLUDED.error_deduction,
    slow_query_deduction = EXCLUDED.slow_query_deduction,
    resource_deduction = EXCLUDED.resource_deduction,
    health_score = EXCLUDED.health_score,
    health_model_version = EXCLUDED.health_model_version,
    last_updated = EXCLUDED.last_updated;
  GET DIAGNOSTICS v_written = ROW_COUNT;
  RETURN v_written;
END
$fn$;

COMMENT ON FUNCTION merge_collected_into_cache(uuid, timestamptz, timestamptz) IS
  'Rewrites one tenant''s performance_metrics_cache hours that have collected rows in [hour of p_from, p_to): queries and slow queries with collected calls replacing the reported calls of the same fingerprint, and the health components from them. Run after each refresh.';

REVOKE EXECUTE ON FUNCTION merge_collected_into_cache(uuid, timestamptz, timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION merge_collected_into_cache(uuid, timestamptz, timestamptz) TO agog_app;
REVOKE EXECUTE ON FUNCTION merged_query_counts(timestamptz, timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION merged_query_counts(timestamptz, timestamptz) TO agog_app, agog_readonly;
GRANT SELECT, INSERT, DELETE ON collected_query_stats TO agog_app;
GRANT SELECT ON collected_query_stats TO agog_readonly;
GRANT SELECT, INSERT, UPDATE, DELETE ON collector_snapshots TO agog_app;

ALTER TABLE collected_query_stats ENABLE ROW LEVEL SECURITY;
ALTER TABLE collector_snapshots ENABLE ROW LEVEL SECURITY;

-- The tenant policies of the other tenant tables (V0.0.48).
DO $policies$
DECLARE
  v_table text;
BEGIN
  FOREACH v_table IN ARRAY ARRAY['collected_query_stats', 'collector_snapshots']
  LOOP
    EXECUTE format(
      'CREATE POLICY tenant_isolation_app ON %I TO agog_app
         USING (tenant_id = (SELECT nullif(current_setting(''app.tenant_id'', true), '''')::uuid))', v_table);
  END LOOP;
  EXECUTE
    'CREATE POLICY tenant_scope_readonly ON collected_query_stats FOR SELECT TO agog_readonly
       USING ((SELECT nullif(current_setting(''app.tenant_id'', true), '''')) IS NULL
              OR tenant_id = (SELECT nullif(current_setting(''app.tenant_id'', true), '''')::uuid))';
END
$policies$;
