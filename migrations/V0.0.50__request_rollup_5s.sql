-- V0.0.50: 5-second request totals per tenant, for series over windows of up to an hour.
--
-- A latency or throughput series over the last hour in 5-second steps read the tenant's
-- raw requests of that hour, and visited every tenant's rows in its heap blocks: its cost
-- grew with the number of requests (2777 rows of the tenant and 231 heap blocks at 10 M
-- rows a month, against 278 and 40 at 1 M). Counts and histograms add up, so the same
-- series can be summed from at most 720 rows per tenant and hour, however busy it was.
--
--   api_metrics_rollup_5s (tenant_id, bucket): requests, errors, client errors, the sum
--     and maximum of the response times, the latency histogram and its p50/p90/p95/p99 of
--     every 5-second bucket in which the tenant had requests; the total over all
--     endpoints only. A series in 5-second steps reads the stored percentiles.
--   api_rollup_5s_pending: the same, per inserting statement, written by the request
--     log's delta trigger in the inserting transaction and merged by the refresh. Readers
--     add it to the rollup, so a series is complete up to the last committed insert, not
--     up to the last refresh.
--   api_rollup_5s_state.complete_from: the rollup holds every request from this time on.
--     The trigger only sees rows inserted after this migration; on a database that held
--     requests, complete_from is a day after the migration (ingest takes timestamps up to
--     a day ahead). Earlier windows are read from the raw rows as before.
--
-- The delta trigger groups each statement's rows once, by two grouping sets (the 5-minute
-- key of V0.0.41 and the 5-second one), so the rows are read once. Measured on inserts
-- of 5000 rows of one tenant over 5 seconds, five alternating rounds of 20 each: 17.1 ms
-- before and 18.2 ms after (the median of the rounds' medians).
--
-- refresh_performance_metrics_incremental and maintain_performance_partitions keep their
-- signatures; each now runs its former body (renamed refresh_rollups_from_pending and
-- maintain_partitions_and_rollups, both under their former advisory locks) and then does
-- the 5-second part: the refresh merges the pending rows, the upkeep deletes 5-second
-- rows older than the retention plus a week, as it does for the 5-minute rollups.
-- Undo: rollback/rollback_V0.0.50.sql.

CREATE TABLE api_rollup_5s_pending (
  tenant_id     uuid        NOT NULL,
  bucket        timestamptz NOT NULL,   -- 5-second bucket
  requests      bigint      NOT NULL,
  errors        bigint      NOT NULL,   -- status >= 500
  client_errors bigint      NOT NULL,   -- status 400..499
  sum_ms        double precision NOT NULL,
  max_ms        real        NOT NULL,
  hist          bigint[]    NOT NULL
);
CREATE INDEX api_rollup_5s_pending_tenant_bucket ON api_rollup_5s_pending (tenant_id, bucket);
COMMENT ON TABLE api_rollup_5s_pending IS
  'Request deltas per tenant and 5-second bucket since the last refresh; read with api_metrics_rollup_5s.';

CREATE TABLE api_metrics_rollup_5s (
  tenant_id     uuid        NOT NULL,
  bucket        timestamptz NOT NULL,   -- 5-second bucket, on the 2000-01-01 UTC grid
  requests      bigint      NOT NULL,
  errors        bigint      NOT NULL,
  client_errors bigint      NOT NULL,
  sum_ms        double precision NOT NULL,
  max_ms        real        NOT NULL,
  hist          bigint[]    NOT NULL,
  p50_ms        real,
  p90_ms        real,
  p95_ms        real,
  p99_ms        real,
  PRIMARY KEY (tenant_id, bucket)
);
COMMENT ON TABLE api_metrics_rollup_5s IS
  'Requests per tenant and 5-second bucket (all endpoints), with a latency histogram and its p50/p90/p95/p99: series over windows of up to an hour.';

-- The percentiles of each row's histogram, kept by V0.0.43's trigger function (it sets
-- p50_ms, p90_ms, p95_ms and p99_ms from hist), as on api_metrics_rollup.
CREATE TRIGGER api_metrics_rollup_5s_percentiles BEFORE INSERT OR UPDATE OF hist ON api_metrics_rollup_5s
  FOR EACH ROW EXECUTE FUNCTION api_metrics_rollup_percentiles();

CREATE TABLE api_rollup_5s_state (
  id            boolean     PRIMARY KEY DEFAULT true CHECK (id),
  complete_from timestamptz NOT NULL
);
COMMENT ON TABLE api_rollup_5s_state IS
  'complete_from: api_metrics_rollup_5s with api_rollup_5s_pending holds every request from this time on.';
INSERT INTO api_rollup_5s_state (complete_from)
SELECT CASE WHEN EXISTS (SELECT 1 FROM api_performance_log) THEN now() + interval '1 day' ELSE '-infinity' END;

CREATE OR REPLACE FUNCTION api_performance_log_rollup_delta() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = public, pg_temp
AS $fn$
DECLARE
  v_t real := coalesce((SELECT apdex_target_ms FROM performance_settings), 100);
BEGIN
  WITH g AS MATERIALIZED (
    SELECT tenant_id, bucket, fine, endpoint, b, grouping(fine) AS by_5m, count(*) AS n,
           count(*) FILTER (WHERE status_code >= 500) AS errors,
           count(*) FILTER (WHERE status_code BETWEEN 400 AND 499) AS client_errors,
           count(*) FILTER (WHERE response_time_ms <= v_t) AS satisfied,
           count(*) FILTER (WHERE response_time_ms > v_t AND response_time_ms <= 4 * v_t) AS tolerating,
           sum(response_time_ms) AS sum_ms, max(response_time_ms) AS max_ms, max("timestamp") AS last_seen
      FROM (SELECT tenant_id, "timestamp", response_time_ms, status_code,
                   date_bin('5 minutes', "timestamp", timestamptz '2000-01-01 00:00:00+00') AS bucket,
                   date_bin('5 seconds', "timestamp", timestamptz '2000-01-01 00:00:00+00') AS fine,
                   coalesce(nullif(endpoint, ''), '(none)') AS endpoint,
                   latency_bucket(response_time_ms) AS b
              FROM new_rows) r
     GROUP BY GROUPING SETS ((tenant_id, bucket, endpoint, b), (tenant_id, fine, b))),
  five_seconds AS (
    INSERT INTO api_rollup_5s_pending
    SELECT tenant_id, fine, sum(n), sum(errors), sum(client_errors), sum(sum_ms), max(max_ms),
           array_agg((b::bigint << 40) + n ORDER BY b)
      FROM g WHERE by_5m = 0
     GROUP BY tenant_id, fine)
  INSERT INTO api_rollup_pending
  SELECT tenant_id, bucket, CASE WHEN grouping(endpoint) = 1 THEN '' ELSE endpoint END,
         sum(n), sum(errors), sum(client_errors), sum(satisfied), sum(tolerating), sum(sum_ms), max(max_ms),
         array_agg((b::bigint << 40) + n ORDER BY b), max(last_seen)
    FROM g WHERE by_5m = 1
   GROUP BY GROUPING SETS ((tenant_id, bucket, endpoint), (tenant_id, bucket));
  RETURN NULL;
END
$fn$;

-- The refresh: its former body, then the 5-second merge in the same transaction (and so
-- under the advisory lock the former body takes).
ALTER FUNCTION refresh_performance_metrics_incremental(uuid) RENAME TO refresh_rollups_from_pending;
REVOKE EXECUTE ON FUNCTION refresh_rollups_from_pending(uuid) FROM PUBLIC, agog_app;

CREATE FUNCTION refresh_performance_metrics_incremental(p_tenant_id uuid DEFAULT NULL)
RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = public, pg_temp
AS $fn$
DECLARE
  v_written integer;
BEGIN
  v_written := refresh_rollups_from_pending(p_tenant_id);

  WITH moved AS (DELETE FROM api_rollup_5s_pending WHERE p_tenant_id IS NULL OR tenant_id = p_tenant_id RETURNING *)
  INSERT INTO api_metrics_rollup_5s AS r (tenant_id, bucket, requests, errors, client_errors, sum_ms, max_ms, hist)
  SELECT tenant_id, bucket, sum(requests), sum(errors), sum(client_errors), sum(sum_ms), max(max_ms), hist_union(hist)
    FROM moved
   GROUP BY tenant_id, bucket
  ON CONFLICT (tenant_id, bucket) DO UPDATE SET
    requests = r.requests + EXCLUDED.requests,
    errors = r.errors + EXCLUDED.errors,
    client_errors = r.client_errors + EXCLUDED.client_errors,
    sum_ms = r.sum_ms + EXCLUDED.sum_ms,
    max_ms = greatest(r.max_ms, EXCLUDED.max_ms),
    hist = hist_merge(r.hist, EXCLUDED.hist);
  RETURN v_written;
END
$fn$;
COMMENT ON FUNCTION refresh_performance_metrics_incremental(uuid) IS
  'Merges the rows that arrived since the last refresh (pending deltas) into the rollups for one tenant (NULL: all), 5-second totals included, recomputes the cache rows of exactly the hours they touched, stamps last_updated; returns the number of cache rows written.';
GRANT EXECUTE ON FUNCTION refresh_performance_metrics_incremental(uuid) TO agog_app;
REVOKE EXECUTE ON FUNCTION refresh_performance_metrics_incremental(uuid) FROM PUBLIC;

-- The upkeep: its former body, then the 5-second rows older than the retention plus a
-- week (as the 5-minute rollups), reported like its other deletions.
ALTER FUNCTION maintain_performance_partitions(integer, interval, timestamptz) RENAME TO maintain_partitions_and_rollups;

CREATE FUNCTION maintain_performance_partitions(
  p_months_ahead integer  DEFAULT 3,
  p_retention    interval DEFAULT interval '30 days',
  p_now          timestamptz DEFAULT now()
) RETURNS TABLE (action text, table_name text, detail text)
LANGUAGE plpgsql
SET search_path = public, pg_temp
AS $fn$
DECLARE
  v_cutoff  timestamptz := p_now - p_retention - interval '7 days';
  v_deleted bigint;
BEGIN
  RETURN QUERY SELECT * FROM maintain_partitions_and_rollups(p_months_ahead, p_retention, p_now);
  DELETE FROM api_metrics_rollup_5s WHERE bucket < v_cutoff;
  GET DIAGNOSTICS v_deleted = ROW_COUNT;
  IF v_deleted > 0 THEN
    action := 'purged';
    table_name := 'api_metrics_rollup_5s';
    detail := format('%s rows before %s', v_deleted, v_cutoff);
    RETURN NEXT;
  END IF;
  RETURN;
END
$fn$;
COMMENT ON FUNCTION maintain_performance_partitions(integer, interval, timestamptz) IS
  'Creates monthly partitions for the current month and p_months_ahead more, moving matching rows out of the DEFAULT partition; drops monthly partitions older than p_retention and deletes older DEFAULT rows; expires derived rollups (5-second and 5-minute: retention + 7 days; hourly, daily, cache, fingerprints, recommendations: 400 days); never drops DEFAULT partitions. Idempotent; serialized by an advisory lock.';
REVOKE EXECUTE ON FUNCTION maintain_performance_partitions(integer, interval, timestamptz) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION maintain_partitions_and_rollups(integer, interval, timestamptz) FROM PUBLIC;

-- Privileges and row-level security (as V0.0.48 writes them).
GRANT SELECT ON api_metrics_rollup_5s, api_rollup_5s_pending, api_rollup_5s_state TO agog_app, agog_readonly;
ALTER TABLE api_metrics_rollup_5s ENABLE ROW LEVEL SECURITY;
ALTER TABLE api_rollup_5s_pending ENABLE ROW LEVEL SECURITY;

DO $policies$
DECLARE
  v_table text;
BEGIN
  FOREACH v_table IN ARRAY ARRAY['api_metrics_rollup_5s', 'api_rollup_5s_pending']
  LOOP
    EXECUTE format(
      'CREATE POLICY tenant_isolation_app ON %I TO agog_app
         USING (tenant_id = (SELECT nullif(current_setting(''app.tenant_id'', true), '''')::uuid))', v_table);
    EXECUTE format(
      'CREATE POLICY tenant_scope_readonly ON %I FOR SELECT TO agog_readonly
         USING ((SELECT nullif(current_setting(''app.tenant_id'', true), '''')) IS NULL
                OR tenant_id = (SELECT nullif(current_setting(''app.tenant_id'', true), '''')::uuid))', v_table);
  END LOOP;
END
$policies$;
