-- V0.0.52: stored percentiles where a series reads one row per step, in every rollup
-- such series read.
--
-- query_metrics_rollup gains p50/p90/p95/p99 per row, kept by the trigger that keeps
-- api_metrics_rollup's (V0.0.43) and api_metrics_rollup_5s's (V0.0.50). One fingerprint's
-- series (query type queryDetail) whose step is the rollup's resolution read every row's
-- histogram to take its percentiles; the histograms grow with traffic (at 10 M queries a
-- month the busiest fingerprint's 5-minute rows hold 35 buckets, against 4 at 1 M), so
-- that read grew with it. It now reads the stored percentiles, and the range's own
-- percentile comes from the range's histogram (src/db/rangeHistograms.ts), whose number
-- of rows does not grow with traffic.
--
-- api_metrics_rollup_5s's primary key now covers the columns a series reads without the
-- histogram (counts and stored percentiles), so an hour of 5-second rows is an
-- index-only range: 13 pages rather than about a page per row (measured at 10 M requests
-- a month: 301 heap pages for 720 rows). The key grows by about 40 bytes per row; a
-- second, covering index would have cost its whole size (95 bytes per row) on top.
--
-- Rows written before this migration keep NULL percentiles until the refresh next
-- changes them; the series sends such a row's histogram instead (src/db/queryRollups.ts).
-- Filling them here would rewrite the whole table (measured: 94 s for 1.24 M rows).
-- Rebuilding the key takes an exclusive lock on api_metrics_rollup_5s while it sorts every
-- row, so the refresh waits for it (measured: see migrations/README.md).
-- Undo: migrations/rollback/rollback_V0.0.52.sql.

ALTER TABLE query_metrics_rollup
  ADD COLUMN p50_ms real,
  ADD COLUMN p90_ms real,
  ADD COLUMN p95_ms real,
  ADD COLUMN p99_ms real;
COMMENT ON COLUMN query_metrics_rollup.p95_ms IS
  'Percentile of this row''s histogram, kept by trigger query_metrics_rollup_percentiles (as are p50_ms, p90_ms, p99_ms); NULL on a row last written before V0.0.52.';

-- The function names the columns, which all three tables name alike.
CREATE TRIGGER query_metrics_rollup_percentiles BEFORE INSERT OR UPDATE OF hist ON query_metrics_rollup
  FOR EACH ROW EXECUTE FUNCTION api_metrics_rollup_percentiles();

ALTER TABLE api_metrics_rollup_5s
  DROP CONSTRAINT api_metrics_rollup_5s_pkey,
  ADD CONSTRAINT api_metrics_rollup_5s_pkey PRIMARY KEY (tenant_id, bucket)
    INCLUDE (requests, errors, client_errors, sum_ms, p50_ms, p90_ms, p95_ms, p99_ms);
COMMENT ON INDEX api_metrics_rollup_5s_pkey IS
  'The refresh upserts by (tenant_id, bucket); series over a window read the counts and stored percentiles index-only, and the histograms from the table only for buckets with deltas not yet refreshed.';
