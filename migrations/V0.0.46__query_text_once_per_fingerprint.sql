-- V0.0.46: the normalized query text is stored once per fingerprint, not on every row.
--
-- The text (84 characters on average in the ingest benchmark) was most of a
-- query_performance_log row: 186 bytes per record with it, about 100 without. The text
-- of every fingerprint is kept in query_fingerprints; the raw log now carries it only
-- on the rows that need it:
--   - slow rows (at or above the lower of SLOW_QUERY_THRESHOLD_MS and 1000 ms), because
--     the runbook's "Top 10 Slow Queries" groups the raw log by query_preview for
--     execution_time_ms > 1000 and must keep showing the text;
--   - the first row of each fingerprint in each ingest request, so that every COPY
--     statement brings the text of every fingerprint it contains, and the rollup
--     trigger below can hand it to query_fingerprints without a lookup.
-- Other rows leave query_preview NULL; join query_fingerprints on
-- (tenant_id, query_hash) for their text (the README shows the statement).
-- Rows written by SQL may still carry the text on every row, as before.
-- Undo: rollback/rollback_V0.0.46.sql.

ALTER TABLE query_performance_log ALTER COLUMN query_preview DROP NOT NULL;

COMMENT ON TABLE query_performance_log IS
  'One row per observed database query. query_preview is the normalized query text (literals replaced by placeholders), at most 500 characters; since V0.0.46 it is stored on slow rows and on the first row of each fingerprint per ingest request, and is NULL elsewhere: query_fingerprints holds every fingerprint''s text.';
COMMENT ON COLUMN query_performance_log.query_preview IS
  'Normalized query text, on slow rows (>= min(SLOW_QUERY_THRESHOLD_MS, 1000 ms)) and on the first row of each fingerprint per ingest request; NULL elsewhere. query_fingerprints.query_preview has it for every fingerprint.';

-- The per-statement delta now takes each fingerprint's text from any row of the
-- statement that carries it (a window over the groups, not another pass over the
-- rows). A statement without any text for a fingerprint (an INSERT by SQL that left it
-- NULL) falls back to the text already in query_fingerprints, then to ''.
CREATE OR REPLACE FUNCTION query_performance_log_rollup_delta() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = public, pg_temp
AS $fn$
DECLARE
  v_slow real := coalesce((SELECT slow_query_threshold_ms FROM performance_settings), 1000);
BEGIN
  INSERT INTO query_rollup_pending
  SELECT d.tenant_id, d.bucket, d.query_hash, d.endpoint, d.calls, d.slow_calls, d.total_ms, d.max_ms,
         d.rows_sum, d.hist, d.first_seen, d.last_seen,
         coalesce(d.query_preview,
                  (SELECT f.query_preview FROM query_fingerprints f
                    WHERE f.tenant_id = d.tenant_id AND f.query_hash = d.query_hash),
                  '')
    FROM (SELECT tenant_id, bucket, query_hash, endpoint, sum(n) AS calls, sum(slow_calls) AS slow_calls,
                 sum(total_ms) AS total_ms, max(max_ms) AS max_ms, sum(rows_sum) AS rows_sum,
                 array_agg((b::bigint << 40) + n ORDER BY b) AS hist,
                 min(first_seen) AS first_seen, max(last_seen) AS last_seen,
                 min(min(query_preview)) OVER (PARTITION BY tenant_id, query_hash) AS query_preview
            FROM (SELECT tenant_id, date_bin('5 minutes', "timestamp", timestamptz '2000-01-01 00:00:00+00') AS bucket,
                         query_hash, coalesce(endpoint, '') AS endpoint, latency_bucket(execution_time_ms) AS b,
                         count(*) AS n, count(*) FILTER (WHERE execution_time_ms >= v_slow) AS slow_calls,
                         sum(execution_time_ms) AS total_ms, max(execution_time_ms) AS max_ms,
                         coalesce(sum(rows_returned), 0) AS rows_sum,
                         min("timestamp") AS first_seen, max("timestamp") AS last_seen, min(query_preview) AS query_preview
                    FROM new_rows
                   GROUP BY 1, 2, 3, 4, 5) g
           GROUP BY tenant_id, bucket, query_hash, endpoint) d;
  RETURN NULL;
END
$fn$;
