-- V0.0.56: query statistics collected from monitored databases (pg_stat_statements,
-- read by the service's collector, service/src/collector/), beside the statistics the
-- application reports.
--
--   collected_query_stats  one row per tenant, round, fingerprint and monitored database:
--                          what the statement's counters grew by since the round before
--                          (deltas, never negative; statements that did not run are not
--                          written). The fingerprint is the one ingest computes from the
--                          normalized text, so both sources meet on query_hash.
--   collector_snapshots    the counters read by the last round of each monitored database,
--                          the base of the next round's deltas. Written in the same
--                          transaction as the deltas, so a round counts once or not at all.
--   merged_query_counts    calls and slow calls per tenant over a window with the two sources
--                          merged: a fingerprint collected in the window counts its collected
--                          calls, any other its reported ones (the alert rules read it).
-- Undo: rollback/rollback_V0.0.56.sql.

CREATE TABLE collected_query_stats (
  tenant_id uuid NOT NULL,
  "timestamp" timestamptz NOT NULL,
  query_hash bigint NOT NULL,
  source text NOT NULL,
  period_start timestamptz NOT NULL,
  calls bigint NOT NULL CHECK (calls > 0),
  total_ms double precision NOT NULL CHECK (total_ms >= 0),
  rows_sum bigint NOT NULL CHECK (rows_sum >= 0),
  slow_calls bigint NOT NULL CHECK (slow_calls >= 0 AND slow_calls <= calls),
  mean_ms double precision NOT NULL,
  stddev_ms double precision,
  min_ms double precision,
  max_ms double precision,
  shared_blks_hit bigint NOT NULL CHECK (shared_blks_hit >= 0),
  shared_blks_read bigint NOT NULL CHECK (shared_blks_read >= 0),
  PRIMARY KEY (tenant_id, "timestamp", query_hash, source)
);
CREATE INDEX collected_query_stats_fingerprint ON collected_query_stats (tenant_id, query_hash, "timestamp");

COMMENT ON TABLE collected_query_stats IS
  'Per tenant, collection round ("timestamp", the end of the period since period_start), fingerprint and monitored database (source): how much a statement''s pg_stat_statements counters grew. calls, total_ms, rows_sum and the shared blocks are deltas; mean_ms and stddev_ms describe the calls of the period (stddev derived from the entries'' counts, means and standard deviations); min_ms and max_ms are the period''s where pg_stat_statements'' extremes moved in it (the entry began in the period, or its min fell or its max rose), NULL where they did not (pg_stat_statements keeps no per-period extremes); slow_calls counts an entry''s calls of the period as slow when their mean is at or above the slow-query threshold.';

CREATE TABLE collector_snapshots (
  tenant_id uuid NOT NULL,
  source text NOT NULL,
  taken_at timestamptz NOT NULL,
  stats_reset timestamptz,
  server_version_num integer NOT NULL,
  entries jsonb NOT NULL,
  PRIMARY KEY (tenant_id, source)
);

COMMENT ON TABLE collector_snapshots IS
  'The pg_stat_statements counters of each monitored database as its last collection round read them (entries: one object per statement entry), with pg_stat_statements_info.stats_reset: the base of the next round''s deltas.';

CREATE FUNCTION merged_query_counts(p_from timestamptz, p_to timestamptz)
RETURNS TABLE (tenant_id uuid, calls bigint, slow_calls bigint)
LANGUAGE sql STABLE
SET search_path = public, pg_temp
AS $fn$
  -- A fingerprint with collected rows in [p_from, p_to) counts those; any other counts
  -- its reported calls from the 5-minute rollups. One statement seen both ways counts once.
  WITH collected AS (
    SELECT c.tenant_id, c.query_hash, sum(c.calls)::bigint AS calls, sum(c.slow_calls)::bigint AS slow_calls
      FROM collected_query_stats c
     WHERE c."timestamp" >= p_from AND c."timestamp" < p_to
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
