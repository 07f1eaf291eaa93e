-- V0.0.53: running totals within a day and within an hour, for the edges of a range.
--
-- A p95 over a long range reads each key's whole days as two running totals (V0.0.48),
-- but its edges (the hours before its first whole day and after its last, and the
-- 5-minute buckets around them) as rollup rows: up to 12 hours and 6 buckets on each
-- side, as own rows or as an enclosing row less the rows outside the range
-- (src/db/rangeHistograms.ts edgePieces). A key with data in most buckets reads about 25
-- edge rows; measured on the query benchmark's data, the top fingerprints over 30 days
-- read 3.0 rows each at 1 M queries a month and 24.8 at 10 M.
--
-- Counts add up within a day too: the sum of a key's hours [f, t) of one day is its
-- running total within the day through the last hour before t less the one through the
-- last hour before f; the same for 5-minute buckets within an hour. Two rows per edge.
--
--   query_metrics_prefix (tenant_id, resolution, query_hash, bucket): for resolution '1h',
--     calls and hist summed over the fingerprint's hour rows of query_metrics_rollup from
--     the start of the bucket's day up to and including `bucket`; for '5m', over its
--     5-minute rows from the start of the bucket's hour. A row only where the fingerprint
--     has a row at that resolution and bucket.
--   api_metrics_prefix (tenant_id, resolution, endpoint, bucket): the same for
--     api_metrics_rollup (requests and hist).
--
-- cumulate_rollup_prefixes() builds them a period (a key's day of hours, its hour of
-- 5-minute buckets) at a time, from the rollup rows in one statement, and records on each
-- the count of the period's enclosing row (the key's day row, its hour row) in that same
-- snapshot: period_n. The refresh writes every resolution from the same deltas in one
-- statement, so the enclosing row counts every value of the period's finer rows, and it
-- changes whenever they do. A period whose enclosing row no longer counts period_n is
-- rebuilt at the next run (late data).
--
-- Readers never trust them blindly: the query API uses a key's running totals for an
-- edge only when its enclosing row, read in the same statement, still counts period_n,
-- and otherwise reads the rows (src/db/rangeHistograms.ts). A rollup row only grows, so
-- an unchanged count means unchanged rows, and two running totals of the period differ
-- by exactly the rows between them. Readers use them only where the finer rows cannot
-- have expired (5-minute buckets younger than 7 days, hours younger than 399 days), as
-- for edges read as an enclosing row less other rows.
--
-- The primary keys include the counts, so a reader finds a key's running total at an
-- edge from the index alone; period_n also names the row's version for the service's
-- cache (src/db/runningTotalsCache.ts): a period rebuilt at the same count of its
-- enclosing row has the same rows, so the same bytes.
--
-- Expiry: each run deletes the running totals older than the oldest rollup row of their
-- resolution (5-minute rows go after at least 8 days, hours after 400,
-- maintain_partitions_and_rollups). Undo: rollback/rollback_V0.0.53.sql.

CREATE TABLE query_metrics_prefix (
  tenant_id  uuid        NOT NULL,
  resolution text        NOT NULL CHECK (resolution IN ('5m', '1h')),
  query_hash bigint      NOT NULL,
  bucket     timestamptz NOT NULL,
  calls      bigint      NOT NULL,
  period_n   bigint      NOT NULL,
  hist       bigint[],
  PRIMARY KEY (tenant_id, resolution, query_hash, bucket) INCLUDE (calls, period_n)
);
COMMENT ON TABLE query_metrics_prefix IS
  'Running totals per fingerprint of query_metrics_rollup''s hour rows within their day (resolution 1h) and 5-minute rows within their hour (5m), through `bucket` included; built by cumulate_rollup_prefixes().';

CREATE TABLE api_metrics_prefix (
  tenant_id  uuid        NOT NULL,
  resolution text        NOT NULL CHECK (resolution IN ('5m', '1h')),
  endpoint   text        NOT NULL,
  bucket     timestamptz NOT NULL,
  requests   bigint      NOT NULL,
  period_n   bigint      NOT NULL,
  hist       bigint[],
  PRIMARY KEY (tenant_id, resolution, endpoint, bucket) INCLUDE (requests, period_n)
);
COMMENT ON COLUMN query_metrics_prefix.period_n IS
  'calls of the enclosing row (the day''s for 1h, the hour''s for 5m) when the period was built: the running totals hold while it still counts this.';
COMMENT ON COLUMN api_metrics_prefix.period_n IS
  'requests of the enclosing row (the day''s for 1h, the hour''s for 5m) when the period was built: the running totals hold while it still counts this.';
COMMENT ON TABLE api_metrics_prefix IS
  'Running totals per endpoint of api_metrics_rollup''s hour rows within their day (resolution 1h) and 5-minute rows within their hour (5m), through `bucket` included; built by cumulate_rollup_prefixes().';

-- ---------------------------------------------------------------------------------
-- cumulate_rollup_prefixes(tenant, max_periods): for one tenant or all (NULL), one row
-- per tenant, rollup and resolution: how many periods of keys it rebuilt (at most
-- p_max_periods each, the newest first: a first run on existing data spreads over
-- several runs) and how many rows it wrote. Runs with the owner's rights, as the refresh
-- does, so the service's role needs only EXECUTE.
-- ---------------------------------------------------------------------------------
CREATE FUNCTION cumulate_rollup_prefixes(p_tenant_id uuid DEFAULT NULL, p_max_periods integer DEFAULT 20000)
RETURNS TABLE (tenant_id uuid, rollup text, resolution text, periods_built integer, rows_built bigint)
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = public, pg_temp
AS $fn$
DECLARE
  v_origin  constant timestamptz := timestamptz '2000-01-01 00:00:00+00';
  v_spec    record;
  v_level   record;
  v_tenant  uuid;
  v_oldest  timestamptz;
  v_from    timestamptz;
  v_keys    text[];
  v_periods timestamptz[];
  v_rows    bigint;
BEGIN
  IF p_max_periods IS NULL OR p_max_periods < 1 THEN
    RAISE EXCEPTION 'p_max_periods must be at least 1, got %', p_max_periods;
  END IF;
  FOR v_spec IN
    SELECT * FROM (VALUES ('query', 'query_metrics_rollup', 'query_metrics_prefix', 'query_hash', 'calls', 'bigint'),
                          ('api',   'api_metrics_rollup',   'api_metrics_prefix',   'endpoint',   'requests', 'text'))
      AS s(rollup, src, pre, key, n, key_type)
  LOOP
    -- Tenants with rollup rows: a skip scan, one probe per tenant.
    FOR v_tenant IN EXECUTE format(
      'WITH RECURSIVE t(id) AS (
         (SELECT r.tenant_id FROM %1$I r WHERE $1::uuid IS NULL OR r.tenant_id = $1::uuid ORDER BY 1 LIMIT 1)
         UNION ALL
         SELECT (SELECT r.tenant_id FROM %1$I r WHERE r.tenant_id > t.id AND $1::uuid IS NULL ORDER BY 1 LIMIT 1)
           FROM t WHERE t.id IS NOT NULL)
       SELECT id FROM t WHERE id IS NOT NULL', v_spec.src) USING p_tenant_id
    LOOP
      FOR v_level IN
        SELECT * FROM (VALUES ('1h', '1d', interval '1 day'), ('5m', '1h', interval '1 hour')) AS l(res, enc, width)
      LOOP
        -- Expire the running totals of rows older than the oldest row of the resolution
        -- (a period that expiry cut keeps those of its remaining rows).
        EXECUTE format('SELECT min(r.bucket) FROM %I r WHERE r.tenant_id = $1 AND r.resolution = $2', v_spec.src)
          INTO v_oldest USING v_tenant, v_level.res;
        EXECUTE format('DELETE FROM %I p WHERE p.tenant_id = $1 AND p.resolution = $2 AND ($3::timestamptz IS NULL OR p.bucket < $3)',
                       v_spec.pre) USING v_tenant, v_level.res, v_oldest;
        CONTINUE WHEN v_oldest IS NULL;
        v_from := date_bin(v_level.width, v_oldest, v_origin);

        -- Stale periods: the enclosing row's count is not the one the period was built at.
        EXECUTE format(
          'SELECT coalesce(array_agg(s.key), ''{}''), coalesce(array_agg(s.bucket), ''{}'')
             FROM (SELECT e.%2$I::text AS key, e.bucket
             FROM %1$I e
             LEFT JOIN LATERAL (SELECT p.period_n FROM %3$I p
                                 WHERE p.tenant_id = $1 AND p.resolution = $2 AND p.%2$I = e.%2$I
                                   AND p.bucket >= e.bucket AND p.bucket < e.bucket + $3
                                 LIMIT 1) l ON true
            WHERE e.tenant_id = $1 AND e.resolution = $4 AND e.bucket >= $5
              AND e.%4$I > 0 AND e.%4$I IS DISTINCT FROM l.period_n
            ORDER BY e.bucket DESC LIMIT $6) s',
          v_spec.src, v_spec.key, v_spec.pre, v_spec.n)
          INTO v_keys, v_periods USING v_tenant, v_level.res, v_level.width, v_level.enc, v_from, p_max_periods;

        v_rows := 0;
        IF cardinality(v_keys) > 0 THEN
          EXECUTE format(
            'DELETE FROM %1$I p USING unnest($3::text[], $4::timestamptz[]) AS s(key, period)
              WHERE p.tenant_id = $1 AND p.resolution = $2 AND p.%2$I = s.key::%3$s
                AND p.bucket >= s.period AND p.bucket < s.period + $5',
            v_spec.pre, v_spec.key, v_spec.key_type) USING v_tenant, v_level.res, v_keys, v_periods, v_level.width;
          -- Each period's rows in one window, with its enclosing row's count, from one
          -- snapshot of the rollup.
          EXECUTE format(
            'INSERT INTO %1$I (tenant_id, resolution, %2$I, bucket, %4$I, period_n, hist)
             SELECT $1, $2, r.%2$I, r.bucket,
                    sum(r.%4$I) OVER w, e.%4$I, hist_union(r.hist) OVER w
               FROM unnest($3::text[], $4::timestamptz[]) AS s(key, period)
               JOIN %5$I e ON e.tenant_id = $1 AND e.resolution = $6 AND e.%2$I = s.key::%3$s AND e.bucket = s.period
               JOIN %5$I r ON r.tenant_id = $1 AND r.resolution = $2 AND r.%2$I = s.key::%3$s
                          AND r.bucket >= s.period AND r.bucket < s.period + $5
             WINDOW w AS (PARTITION BY r.%2$I, s.period ORDER BY r.bucket)',
            v_spec.pre, v_spec.key, v_spec.key_type, v_spec.n, v_spec.src)
            USING v_tenant, v_level.res, v_keys, v_periods, v_level.width, v_level.enc;
          GET DIAGNOSTICS v_rows = ROW_COUNT;
        END IF;

        tenant_id := v_tenant;
        rollup := v_spec.rollup;
        resolution := v_level.res;
        periods_built := cardinality(v_keys);
        rows_built := v_rows;
        RETURN NEXT;
      END LOOP;
    END LOOP;
  END LOOP;
  RETURN;
END
$fn$;
COMMENT ON FUNCTION cumulate_rollup_prefixes(uuid, integer) IS
  'Builds the running totals of rollup histograms within a day (hours) and within an hour (5-minute buckets), query_metrics_prefix and api_metrics_prefix, rebuilding the periods whose enclosing rollup row changed (at most p_max_periods per tenant, rollup and resolution, newest first); expires them with the rollup rows.';

REVOKE EXECUTE ON FUNCTION cumulate_rollup_prefixes(uuid, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION cumulate_rollup_prefixes(uuid, integer) TO agog_app;
GRANT SELECT ON query_metrics_prefix, api_metrics_prefix TO agog_app, agog_readonly;

ALTER TABLE query_metrics_prefix ENABLE ROW LEVEL SECURITY;
ALTER TABLE api_metrics_prefix ENABLE ROW LEVEL SECURITY;

-- The tenant policies as V0.0.48 left them (the setting read once per statement).
DO $policies$
DECLARE
  v_table text;
BEGIN
  FOREACH v_table IN ARRAY ARRAY['query_metrics_prefix', 'api_metrics_prefix']
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
