-- V0.0.41: baseline of everything after the seed-compatible V0.0.40, ordered by concern.
--
-- Nothing here upgrades a database migrated by a development build before the first
-- release (other files under the versions V0.0.41 to V0.0.60, or an earlier text of this
-- one): the migration runner refuses such a database with a message saying how to reset
-- it (docs/operations.md, "A database from an earlier build").
--
-- Sections: settings; latency histograms (the bigint[] form and the packed form the
-- rollups store); raw-log text once per fingerprint; the raw logs' time indexes;
-- rollups and the refresh; API tokens; scheduler bookkeeping; recommendations and storage
-- snapshots; ingest idempotency keys; statistics collected from pg_stat_statements; the
-- alerting role and its functions; retention and upkeep; grants and row-level security.
--
-- How rows flow:
--   the service's group commit ──(COPY, and the rows' deltas, same transaction)──►
--     raw logs and *_rollup_pending (service/src/ingest/rollupDeltas.ts); nothing in the
--     database reacts to an INSERT, so distributed tables can take the same path
--   refresh_performance_metrics_incremental() ──► merges pending deltas into the rollups
--     (requests: 5-minute, hourly, daily, and 30-minute rows of the tenant's total;
--     queries: 5-minute, hourly, daily and weekly rows per fingerprint) and recomputes
--     performance_metrics_cache for the hours touched, then deletes the merged deltas.
-- Its cost grows with the rows that arrived since the last refresh, never with history.
--
-- Fine rows: 5-minute rollup rows per endpoint (api_metrics_rollup, endpoint <> '') and
-- per fingerprint (query_metrics_rollup) are kept only for the current and the previous
-- UTC day, from fine_rollup_start(now()) on. The refresh does not write older ones and
-- the upkeep (maintain_performance_partitions) deletes them. The tenant's totals
-- (endpoint '') keep 5- and 30-minute rows for the whole retention, as the 1h and 1d rows
-- do. A reader that needs an endpoint's or a fingerprint's series before that window
-- reads the hourly rows.
--
-- tenant_id is the first column of every tenant table's primary key (the distribution
-- column if the tables are ever distributed with Citus).
-- Undo: migrations/rollback/rollback_V0.0.41.sql.

-- ---------------------------------------------------------------------------------
-- Settings of the refresh and the raw reads. One row; the service writes it at start-up
-- from LATENCY_TARGET_MS and SLOW_QUERY_THRESHOLD_MS, and classifies rows by the same
-- values when it computes their deltas.
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
-- value in it. Bucket 0 holds durations under 0.01 ms (representative 0). Merging
-- histograms adds counts, so percentiles over any set of hours are as exact as over one
-- hour (no averaging of percentiles). The query API merges them with the same
-- definition (service/src/rollups/histogram.ts).
--
-- A histogram has two forms:
--   bigint[]  sorted by bucket; element = bucket * 2^40 + count. The pending deltas,
--             hist_from_buckets and the cache's latency_hist use it.
--   packed    bytea, as the rollup tables store it: big-endian unsigned 32-bit elements,
--             bucket * 2^20 + count, in ascending bucket order; count is 1 .. 2^20 - 1,
--             and a bucket holding more is written as several elements of that bucket
--             (readers add them). Buckets are latency_bucket()'s (at most 4000 < 2^12).
--             4 bytes per non-empty bucket and no array header; a range's histograms are
--             read by concatenating their bytes (string_agg), with no function call per
--             element as a bigint[] needs (service/bench/reports/grafana-panels.md).
-- hist_pack and hist_unpack convert between them.
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

-- The packed form.
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

-- ---------------------------------------------------------------------------------
-- The raw query log stores the normalized text once per fingerprint, not on every row.
-- It is kept on slow rows (the runbook's "Top 10 Slow Queries" groups slow rows by it)
-- and on the first row of each fingerprint per ingest request, so that every COPY brings
-- the text of each fingerprint it contains to its deltas; query_fingerprints keeps every
-- fingerprint's text.
-- ---------------------------------------------------------------------------------
ALTER TABLE query_performance_log ALTER COLUMN query_preview DROP NOT NULL;
COMMENT ON TABLE query_performance_log IS
  'One row per observed database query. query_preview is the normalized query text (literals replaced by placeholders), at most 500 characters; it is stored on slow rows and on the first row of each fingerprint per ingest request, and is NULL elsewhere: query_fingerprints holds every fingerprint''s text.';
COMMENT ON COLUMN query_performance_log.query_preview IS
  'Normalized query text, on slow rows (>= min(SLOW_QUERY_THRESHOLD_MS, 1000 ms)) and on the first row of each fingerprint per ingest request; NULL elsewhere. query_fingerprints.query_preview has it for every fingerprint.';

-- ---------------------------------------------------------------------------------
-- The resource log is indexed like the other two raw logs, by a BRIN index on time, in
-- place of V0.0.40's b-tree on (tenant_id, "timestamp"). Samples arrive in time order,
-- the panels read them from resource_metrics_rollup except for windows of an hour or
-- less, and the b-tree was nearly as large as the samples themselves, on a budget of
-- bytes per record ingested (service/bench/reports/grafana-panels.md).
-- ---------------------------------------------------------------------------------
DROP INDEX system_resource_metrics_tenant_time;
CREATE INDEX system_resource_metrics_timestamp_brin
  ON system_resource_metrics USING brin ("timestamp") WITH (pages_per_range = 32, autosummarize = on);
COMMENT ON INDEX system_resource_metrics_timestamp_brin IS
  'Time-window scans: rollup refresh and short-window raw resource series (a few minutes of every tenant''s samples).';

-- ---------------------------------------------------------------------------------
-- The three raw logs' BRIN indexes summarize each page range as soon as inserts move
-- past it (autosummarize: a work item the next autovacuum round runs), instead of only
-- when autovacuum vacuums the partition, which for an insert-only log happens after
-- inserts of a fifth of its rows. Until a range is summarized every scan of the index
-- reads it, and every range's last partial 5 minutes are read from the raw logs: with
-- the last two and a half days of a month's partition unsummarized, the benchmark's
-- 10 M data read about 11,600 blocks for a 2-minute edge instead of 44. A partitioned
-- index takes no ALTER ... SET, and the partitions attached later copy its options, so
-- V0.0.40's indexes on the request and query logs are made again with the option
-- (same names and comments).
-- ---------------------------------------------------------------------------------
DROP INDEX query_performance_log_timestamp_brin;
CREATE INDEX query_performance_log_timestamp_brin
  ON query_performance_log USING brin ("timestamp") WITH (pages_per_range = 32, autosummarize = on);
COMMENT ON INDEX query_performance_log_timestamp_brin IS
  'Time-window scans: rollup refresh, recent slow queries, N+1 detection, runbook 1-hour/24-hour filters.';

DROP INDEX api_performance_log_timestamp_brin;
CREATE INDEX api_performance_log_timestamp_brin
  ON api_performance_log USING brin ("timestamp") WITH (pages_per_range = 32, autosummarize = on);
COMMENT ON INDEX api_performance_log_timestamp_brin IS
  'Time-window scans: rollup refresh and short-range raw reads of requests.';

-- ---------------------------------------------------------------------------------
-- Rollups and the refresh.
--
-- fine_rollup_start(now): the first 5-minute bucket for which rows per endpoint and per
-- fingerprint are kept: the start of the previous UTC day. Readers call it too.
-- ---------------------------------------------------------------------------------
CREATE FUNCTION fine_rollup_start(p_now timestamptz) RETURNS timestamptz
LANGUAGE sql IMMUTABLE PARALLEL SAFE
-- UTC day and a fixed 24-hour step: the result does not depend on the session's TimeZone.
RETURN date_trunc('day', p_now, 'UTC') - interval '24 hours';
COMMENT ON FUNCTION fine_rollup_start(timestamptz) IS
  'First 5-minute bucket kept for rows per endpoint and per fingerprint: the start of the UTC day before p_now. Older 5-minute rows exist only for the tenant''s total (endpoint '''').';

-- Pending deltas: append-only heaps without indexes, written by the service's group
-- commit in the transaction of the rows they count, consumed whole (per tenant or all)
-- and deleted by the refresh. Endpoint '' is the total over all endpoints. Rows written
-- into the raw logs by SQL, not through the service, have no deltas: the rollups never
-- see them.
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

-- Rollup tables, keyed by tenant first.
-- The tenant's total (endpoint '') also has a 30-minute level: a 30-day latency series
-- at 1800 points has 30-minute steps, and reads 1 440 of these rows instead of summing
-- six 5-minute histograms per step (docs/design/rollups.md). It follows the retention
-- of the 5-minute totals.
CREATE TABLE api_metrics_rollup (
  tenant_id     uuid        NOT NULL,
  resolution    text        NOT NULL,   -- 5m, 30m (the total only), 1h, 1d
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
  hist          bytea,                  -- packed
  last_seen     timestamptz,
  PRIMARY KEY (tenant_id, resolution, endpoint, bucket),
  CONSTRAINT api_metrics_rollup_resolution_check
    CHECK (resolution IN ('5m', '30m', '1h', '1d') AND (resolution <> '30m' OR endpoint = ''))
);
COMMENT ON TABLE api_metrics_rollup IS
  'Request rollups per tenant, resolution (5m, 30m, 1h, 1d), bucket and endpoint ('''' = all), with a latency histogram. 5-minute rows of an endpoint are kept from fine_rollup_start(now()) on; 30-minute rows exist for the tenant''s total ('''') only; the total at every resolution for the whole retention.';
COMMENT ON COLUMN api_metrics_rollup.hist IS
  'Latency histogram, packed: 4-byte big-endian elements bucket * 2^20 + count in bucket order (hist_unpack gives the bigint[] form). NULL on rows with database time only.';
COMMENT ON INDEX api_metrics_rollup_pkey IS
  'One endpoint''s (or the total''s) rows over a time range are one index range, read in series order; a range of every endpoint is one range per endpoint (a skip scan where the server has one). The refresh upserts by this key.';

-- Fingerprints also have a weekly level (resolution '1w', weeks from Monday 00:00 UTC
-- as date_trunc('week') gives them): a 30-day ranking by p95 reads about 4 weekly rows
-- per fingerprint for its whole weeks instead of about 30 daily ones (docs/design/rollups.md,
-- "Weekly fingerprint rows"). Endpoints have no weekly level: a tenant has tens of them,
-- not hundreds.
CREATE TABLE query_metrics_rollup (
  tenant_id     uuid        NOT NULL,
  resolution    text        NOT NULL CHECK (resolution IN ('5m', '1h', '1d', '1w')),
  bucket        timestamptz NOT NULL,
  query_hash    bigint      NOT NULL,
  calls         bigint      NOT NULL DEFAULT 0,
  slow_calls    bigint      NOT NULL DEFAULT 0,
  total_ms      double precision NOT NULL DEFAULT 0,
  max_ms        real,
  rows_sum      bigint      NOT NULL DEFAULT 0,
  hist          bytea,                  -- packed
  PRIMARY KEY (tenant_id, resolution, query_hash, bucket)
);
COMMENT ON TABLE query_metrics_rollup IS
  'Query rollups per tenant, resolution (5m, 1h, 1d, 1w), fingerprint and bucket, with a latency histogram. 5-minute rows are kept from fine_rollup_start(now()) on; weekly rows begin on Mondays, 00:00 UTC.';
COMMENT ON COLUMN query_metrics_rollup.hist IS
  'Latency histogram, packed: 4-byte big-endian elements bucket * 2^20 + count in bucket order (hist_unpack gives the bigint[] form).';
COMMENT ON INDEX query_metrics_rollup_pkey IS
  'One or a few fingerprints over a time range at one resolution (series, range histograms); the refresh upserts by this key.';

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

-- Health model v2, on one hour's numbers. Kept in one function so the refresh, the
-- tests and the README agree. Returns NULL when the hour had no requests and no queries.
--   latency_deduction    = 40 * (1 - apdex),  apdex = (satisfied + tolerating/2) / requests
--   error_deduction      = min(30, 300 * server_errors / requests)      (10 % errors: all 30)
--   slow_query_deduction = min(15, 150 * slow_queries / queries)       (10 % slow: all 15)
--   resource_deduction   = 15 * max(cpu pressure, memory pressure, pool pressure), each
--                          0..1: (max cpu - 80)/20, (memory % - 90)/10, (connections/pool - 0.9)/0.1
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

-- refresh_performance_metrics_incremental(tenant)  (replaces V0.0.40's version)
--
-- Merges the pending deltas of one tenant (NULL: all tenants) into the rollups:
--   requests     5-minute, hourly and daily rows per endpoint and in total ('') (an
--                endpoint's 5-minute rows only from fine_rollup_start(now()) on), and
--                30-minute rows of the total; the database time of the queries tagged
--                with each endpoint goes into the same upsert, so each row is written once
--   queries      5-minute (only from fine_rollup_start(now()) on), hourly, daily and
--                weekly rows per fingerprint
--   fingerprint tables and the resource rollup
-- The histograms of a rollup row's deltas are summed per bucket in one pass and packed
-- (an aggregate merging them one by one costs a merge each). Then it recomputes
-- performance_metrics_cache (with histogram percentiles and health components) for
-- exactly the hours that received rows, and stamps last_updated. Serialized by an
-- advisory lock. Returns the number of cache rows written.
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

  -- Requests and the database time of queries tagged with an endpoint, at four
  -- resolutions (30-minute rows for the total only), in one upsert per row (an
  -- endpoint's 5-minute rows only from v_fine on).
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

COMMENT ON FUNCTION refresh_performance_metrics_incremental(uuid) IS
  'Merges the rows that arrived since the last refresh (pending deltas) into the rollups for one tenant (NULL: all), recomputes the cache rows of exactly the hours they touched, stamps last_updated; returns the number of cache rows written.';

-- get_performance_summary(tenant, hours)  (replaces V0.0.40's version)
-- Over the last p_hours hours of the cache for one tenant: totals, request-weighted
-- averages, p95 from the merged histograms (exact to 1 %), and the health score
-- recomputed with model v2 from the summed components.
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
-- Recommendations and storage snapshots.
--
-- optimization_recommendations: one row per tenant and finding. The engine
-- (service/src/optimizer/engine.ts) runs as a scheduled job, upserts what each detector
-- sees (last_seen moves, first_seen stays), and marks findings it no longer sees as
-- resolved. The query API's `recommendations` and `annotations` query types read it.
--
-- storage_snapshots: the size and partition count of each raw log once a day (the
-- latest run of the day wins), for growth per day and "partition count growing". It
-- describes the database, not a tenant, so it has no tenant_id (like
-- performance_settings); under Citus it would be a reference table.
-- ---------------------------------------------------------------------------------
CREATE TABLE optimization_recommendations (
  tenant_id   uuid        NOT NULL,
  id          text        NOT NULL CHECK (id ~ '^[0-9a-f]{16}$'),
  kind        text        NOT NULL CHECK (kind IN ('missingIndex', 'nPlusOne', 'slowEndpoint', 'highErrorRate',
                                                   'poolSaturation', 'cpuPressure', 'memoryPressure', 'staleCache',
                                                   'partitions', 'unusedIndex', 'duplicateIndex')),
  severity    text        NOT NULL CHECK (severity IN ('critical', 'warning', 'info')),
  title       text        NOT NULL CHECK (length(title) <= 300),
  evidence    jsonb       NOT NULL,
  action      text        NOT NULL CHECK (length(action) <= 4000),
  query_hash  bigint,
  endpoint    text        CHECK (length(endpoint) <= 500),
  table_name  text        CHECK (length(table_name) <= 300),
  first_seen  timestamptz NOT NULL,
  last_seen   timestamptz NOT NULL,
  resolved_at timestamptz,
  PRIMARY KEY (tenant_id, id),
  CHECK (last_seen >= first_seen)
);
COMMENT ON TABLE optimization_recommendations IS
  'Findings of the optimization engine per tenant: stable id (hash of kind and subject), evidence, a concrete action, first and last seen; resolved_at set when a later run no longer sees it.';
COMMENT ON COLUMN optimization_recommendations.id IS
  '16 hex digits of SHA-256 over the kind and the subject (fingerprint, endpoint, table or index): equal across runs and replicas.';

CREATE INDEX optimization_recommendations_tenant_last_seen
  ON optimization_recommendations (tenant_id, last_seen);
COMMENT ON INDEX optimization_recommendations_tenant_last_seen IS
  'Recommendations of one tenant seen in a time range (query types recommendations and annotations).';

CREATE TABLE storage_snapshots (
  taken_on      date        NOT NULL,
  table_name    text        NOT NULL,
  partitions    integer     NOT NULL CHECK (partitions >= 0),
  total_bytes   bigint      NOT NULL CHECK (total_bytes >= 0),
  row_estimate  bigint      NOT NULL CHECK (row_estimate >= 0),
  taken_at      timestamptz NOT NULL,
  PRIMARY KEY (taken_on, table_name)
);
COMMENT ON TABLE storage_snapshots IS
  'Daily size, row estimate and partition count of each raw log (latest of the day), for growth per day.';

-- ---------------------------------------------------------------------------------
-- Ingest idempotency keys.
--
-- A client that loses its connection while the service commits cannot know whether its
-- batch was stored. It sends the batch again with the same Idempotency-Key header; the
-- group commit inserts the key in the same transaction as the batch's rows
-- (service/src/db/idempotencyKeys.ts), so a key present means the rows are there, and a
-- retry is answered with the first answer instead of storing the rows twice. Written and
-- read only by the service's own connection (the owner); neither agog_app nor
-- agog_readonly is granted anything. The service's daily upkeep (job maintain) deletes
-- keys older than a day.
-- ---------------------------------------------------------------------------------
CREATE TABLE ingest_idempotency_keys (
  tenant_id uuid NOT NULL,
  idempotency_key text NOT NULL CHECK (length(idempotency_key) BETWEEN 1 AND 128),
  accepted integer NOT NULL,
  sampled_out integer NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, idempotency_key)
);
CREATE INDEX ingest_idempotency_keys_created_at ON ingest_idempotency_keys USING brin (created_at);
COMMENT ON TABLE ingest_idempotency_keys IS
  'Idempotency keys of committed ingest batches, with the counts the first answer carried; a retry with a stored key is answered from here and stores nothing. Kept a day.';

-- ---------------------------------------------------------------------------------
-- Statistics collected from monitored databases' pg_stat_statements (the service's
-- collector, service/src/collector/; docs/collector.md).
--
--   collected_query_stats  per tenant, 5-minute or hourly bucket, fingerprint and monitored
--                          database: what the statement's counters grew by in the rounds
--                          that ended in the bucket (deltas, never negative). The
--                          fingerprint is the one ingest computes from the normalized text,
--                          so both sources meet on query_hash.
--   collector_snapshots    the counters read by the last round of each monitored database,
--                          the base of the next round's deltas, written in the same
--                          transaction as the deltas.
--   merged_query_counts    calls and slow calls per tenant over a window with the two
--                          sources merged: a fingerprint collected in the window counts its
--                          collected calls, any other its reported ones.
--   merge_collected_into_cache
--                          the same merge per hour into performance_metrics_cache; the
--                          service runs it after each refresh.
-- ---------------------------------------------------------------------------------
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

-- ---------------------------------------------------------------------------------
-- Grafana's alerting data source: the role agog_alerting and the functions it calls.
--
-- The alert rules (alerts/rules-*.yaml) evaluate on Grafana's server, and anyone who can
-- use that data source can run any SELECT its login may run. agog_alerting reads only the
-- columns the rules read, for every tenant (one rule labels its instances by tenant):
--   performance_metrics_cache   tenant_id, hour_bucket, last_updated
--   api_metrics_rollup          the request counts and histogram of each bucket
--   query_metrics_rollup        the call counts of each bucket (no fingerprint, no text)
--   resource_metrics_rollup     the resource samples of each bucket
--   query_performance_log       tenant_id, "timestamp", execution_time_ms
--   performance_settings        slow_query_threshold_ms
-- and may run the functions the rules call. Counting collected statements needs each
-- row's fingerprint, which it may not read: alert_query_counts and
-- alert_collected_slow_calls do that part as their owner (SECURITY DEFINER, fixed
-- search_path, EXECUTE for agog_alerting only) and return per-tenant counts. Their
-- windows include both ends, as Grafana's $__timeFilter does. A rule that reads another
-- column needs a grant in a new migration; service/test/security.alertingReader.test.ts
-- runs every rule as a login of this role and fails first. The login itself is created
-- outside the migrations by the operator (docker/postgres-init/10-roles.sh in compose);
-- its statement timeout is a setting of that login (SECURITY.md).
-- ---------------------------------------------------------------------------------
DO $roles$
BEGIN
  BEGIN
    CREATE ROLE agog_alerting NOLOGIN;
  EXCEPTION WHEN duplicate_object OR unique_violation THEN
    NULL;
  END;
END
$roles$;

CREATE FUNCTION alert_query_counts(p_from timestamptz, p_to timestamptz)
RETURNS TABLE (tenant_id uuid, calls bigint, slow_calls bigint)
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = public, pg_temp
AS $fn$
  SELECT m.tenant_id, m.calls, m.slow_calls FROM merged_query_counts(p_from, p_to) m
$fn$;

COMMENT ON FUNCTION alert_query_counts(timestamptz, timestamptz) IS
  'merged_query_counts for every tenant, for the alert rules: per-tenant counts only, so agog_alerting needs no fingerprint.';

CREATE FUNCTION alert_collected_slow_calls(p_from timestamptz, p_to timestamptz)
RETURNS TABLE (tenant_id uuid, collected_slow_calls bigint, reported_slow_replaced bigint)
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = public, pg_temp
AS $fn$
  WITH collected AS (
    SELECT c.tenant_id, c.query_hash, sum(c.slow_calls)::bigint AS slow_calls
      FROM collected_query_stats c
     WHERE c.resolution = '5m' AND c.bucket BETWEEN p_from AND p_to
     GROUP BY c.tenant_id, c.query_hash
  ), replaced AS (
    SELECT l.tenant_id, count(*)::bigint AS slow_rows
      FROM query_performance_log l
      JOIN collected c ON c.tenant_id = l.tenant_id AND c.query_hash = l.query_hash
     WHERE l."timestamp" BETWEEN p_from AND p_to
       AND l.execution_time_ms >= (SELECT s.slow_query_threshold_ms FROM performance_settings s)
     GROUP BY l.tenant_id
  )
  SELECT c.tenant_id, sum(c.slow_calls)::bigint, coalesce(max(r.slow_rows), 0)::bigint
    FROM collected c
    LEFT JOIN replaced r ON r.tenant_id = c.tenant_id
   GROUP BY c.tenant_id
$fn$;

COMMENT ON FUNCTION alert_collected_slow_calls(timestamptz, timestamptz) IS
  'Per tenant: slow calls collected in [p_from, p_to], and the raw log''s slow rows of the same fingerprints in that window, which the slow-query rule replaces by the collected ones.';

-- ---------------------------------------------------------------------------------
-- Retention and upkeep: maintain_performance_partitions (replaces V0.0.40's version;
-- the service's job maintain and `npx agog-perf maintain` call it).
-- ---------------------------------------------------------------------------------
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

-- ---------------------------------------------------------------------------------
-- Roles, grants and row-level security.
--
-- agog_app reads and writes its tenant's rows (app.tenant_id); agog_readonly reads its
-- tenant's rows, or every tenant's while app.tenant_id is unset; agog_alerting reads the
-- columns granted above, every tenant's. Grants are on parent tables only. Tables without
-- a grant (pending deltas, tokens, scheduler bookkeeping, idempotency keys) are reached
-- only by the owner and SECURITY DEFINER functions. Each policy reads the setting once
-- per statement (a sub-select), not once per row.
-- ---------------------------------------------------------------------------------
GRANT SELECT ON api_metrics_rollup, query_metrics_rollup, query_fingerprints, query_endpoints,
                resource_metrics_rollup, performance_settings, rollup_refresh_state,
                optimization_recommendations, storage_snapshots
  TO agog_app, agog_readonly;
GRANT SELECT, INSERT, DELETE ON collected_query_stats TO agog_app;
GRANT SELECT ON collected_query_stats TO agog_readonly;
GRANT SELECT, INSERT, UPDATE, DELETE ON collector_snapshots TO agog_app;

GRANT EXECUTE ON FUNCTION hist_percentile(bigint[], double precision), hist_merge(bigint[], bigint[]),
  hist_percentile(bytea, double precision), hist_merge(bytea, bytea), hist_pack(bigint[]), hist_unpack(bytea),
  hist_values(bytea), hist_element(bigint, bigint), hist_split_element(bigint, bigint),
  latency_bucket(double precision), latency_bucket_value(bigint), fine_rollup_start(timestamptz)
  TO agog_app, agog_readonly;
REVOKE EXECUTE ON FUNCTION refresh_performance_metrics_incremental(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION refresh_performance_metrics_incremental(uuid) TO agog_app;
GRANT EXECUTE ON FUNCTION get_performance_summary(uuid, integer) TO agog_app, agog_readonly;
REVOKE EXECUTE ON FUNCTION merge_collected_into_cache(uuid, timestamptz, timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION merge_collected_into_cache(uuid, timestamptz, timestamptz) TO agog_app;
REVOKE EXECUTE ON FUNCTION merged_query_counts(timestamptz, timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION merged_query_counts(timestamptz, timestamptz) TO agog_app, agog_readonly;
REVOKE EXECUTE ON FUNCTION maintain_performance_partitions(integer, interval, timestamptz) FROM PUBLIC;

-- agog_alerting: columns, functions and every tenant's rows.
GRANT USAGE ON SCHEMA public TO agog_alerting;
GRANT SELECT (tenant_id, hour_bucket, last_updated) ON performance_metrics_cache TO agog_alerting;
GRANT SELECT (tenant_id, resolution, endpoint, bucket, requests, satisfied, tolerating, errors, hist)
  ON api_metrics_rollup TO agog_alerting;
GRANT SELECT (tenant_id, resolution, bucket, calls, slow_calls) ON query_metrics_rollup TO agog_alerting;
GRANT SELECT (tenant_id, bucket, source, samples, sum_cpu, max_cpu, sum_memory, max_memory, memory_total,
              sum_connections, max_connections, pool_max)
  ON resource_metrics_rollup TO agog_alerting;
GRANT SELECT (tenant_id, "timestamp", execution_time_ms) ON query_performance_log TO agog_alerting;
GRANT SELECT (slow_query_threshold_ms) ON performance_settings TO agog_alerting;
GRANT EXECUTE ON FUNCTION
  health_score_components(bigint, bigint, bigint, bigint, bigint, bigint, double precision, double precision,
                          double precision, integer, integer),
  hist_percentile(bigint[], double precision), hist_union(bigint[]),
  hist_percentile(bytea, double precision), hist_union(bytea), hist_merge(bytea, bytea), hist_unpack(bytea),
  hist_values(bytea), hist_element(bigint, bigint), hist_split_element(bigint, bigint)
  TO agog_alerting;
REVOKE EXECUTE ON FUNCTION alert_query_counts(timestamptz, timestamptz) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION alert_collected_slow_calls(timestamptz, timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION alert_query_counts(timestamptz, timestamptz) TO agog_alerting;
GRANT EXECUTE ON FUNCTION alert_collected_slow_calls(timestamptz, timestamptz) TO agog_alerting;

ALTER TABLE api_metrics_rollup ENABLE ROW LEVEL SECURITY;
ALTER TABLE query_metrics_rollup ENABLE ROW LEVEL SECURITY;
ALTER TABLE query_fingerprints ENABLE ROW LEVEL SECURITY;
ALTER TABLE query_endpoints ENABLE ROW LEVEL SECURITY;
ALTER TABLE resource_metrics_rollup ENABLE ROW LEVEL SECURITY;
ALTER TABLE optimization_recommendations ENABLE ROW LEVEL SECURITY;
ALTER TABLE ingest_idempotency_keys ENABLE ROW LEVEL SECURITY;
ALTER TABLE collected_query_stats ENABLE ROW LEVEL SECURITY;
ALTER TABLE collector_snapshots ENABLE ROW LEVEL SECURITY;

-- The tenant policies of V0.0.40's tables read the setting once per statement too.
DO $policies$
DECLARE
  v_table text;
BEGIN
  FOREACH v_table IN ARRAY ARRAY['query_performance_log', 'api_performance_log', 'system_resource_metrics',
                                 'performance_metrics_cache']
  LOOP
    EXECUTE format(
      'ALTER POLICY tenant_isolation_app ON %I
         USING (tenant_id = (SELECT nullif(current_setting(''app.tenant_id'', true), '''')::uuid))', v_table);
    EXECUTE format(
      'ALTER POLICY tenant_scope_readonly ON %I
         USING ((SELECT nullif(current_setting(''app.tenant_id'', true), '''')) IS NULL
                OR tenant_id = (SELECT nullif(current_setting(''app.tenant_id'', true), '''')::uuid))', v_table);
  END LOOP;

  -- agog_app: its tenant's rows. agog_readonly: its tenant's, or all while unset.
  -- collector_snapshots is the collector's own state: no agog_readonly policy (and no grant).
  FOREACH v_table IN ARRAY ARRAY['api_metrics_rollup', 'query_metrics_rollup', 'query_fingerprints',
                                 'query_endpoints', 'resource_metrics_rollup', 'optimization_recommendations',
                                 'collected_query_stats', 'collector_snapshots']
  LOOP
    EXECUTE format(
      'CREATE POLICY tenant_isolation_app ON %I TO agog_app
         USING (tenant_id = (SELECT nullif(current_setting(''app.tenant_id'', true), '''')::uuid))', v_table);
    CONTINUE WHEN v_table = 'collector_snapshots';
    EXECUTE format(
      'CREATE POLICY tenant_scope_readonly ON %I FOR SELECT TO agog_readonly
         USING ((SELECT nullif(current_setting(''app.tenant_id'', true), '''')) IS NULL
                OR tenant_id = (SELECT nullif(current_setting(''app.tenant_id'', true), '''')::uuid))', v_table);
  END LOOP;

  FOREACH v_table IN ARRAY ARRAY['performance_metrics_cache', 'api_metrics_rollup', 'query_metrics_rollup',
                                 'resource_metrics_rollup', 'query_performance_log']
  LOOP
    EXECUTE format('CREATE POLICY alerting_all_tenants ON %I FOR SELECT TO agog_alerting USING (true)', v_table);
  END LOOP;
END
$policies$;
