-- V0.0.48: running totals of the daily rollup histograms, per fingerprint and per endpoint.
--
-- A p95 over a long range merges each key's histograms of every day in it: a 30-day
-- ranking of fingerprints read about 29 daily histograms of 100 to 150 buckets per key,
-- and that reading was most of its time. Counts add up, so the sum over days [a, b) is
-- the running total through the last day before b minus the running total through the
-- last day before a: two histograms per key, whatever the length of the range.
--
--   query_metrics_cumulative (tenant_id, query_hash, day): calls and hist summed over the
--     fingerprint's daily rows of query_metrics_rollup up to and including `day`; a row
--     only for the days the fingerprint has a daily row.
--   api_metrics_cumulative (tenant_id, endpoint, day): the same for api_metrics_rollup
--     (requests and hist; endpoint '' is the tenant's total, as in the rollup).
--   rollup_cumulative_state (tenant_id, rollup): built_until, the day up to which (not
--     included) the running totals are built; checked_from, the first day compared with
--     the rollup (older days were expired, see below).
--
-- cumulate_rollup_histograms() builds them, one day after another, for days that ended
-- at least an hour ago; the service runs it as its 'cumulate' job. It first compares the
-- running totals with the daily rows (each day's count must be the difference of two
-- running totals) and rebuilds from the first day that differs, so late data that
-- reached an old day is taken in at the next run.
--
-- Readers never trust them blindly: the query API uses a key's running totals for
-- [a, b) only when their counts differ by exactly the count of the key's daily rows in
-- [a, b), and otherwise reads the daily rows (src/db/rangeHistograms.ts). A rollup only
-- grows (the refresh adds values, each adding 1 to a count and to a histogram bucket),
-- so equal counts mean equal histograms; the answer is the same either way.
--
-- Expiry: daily rollups are kept 400 days (V0.0.45). Running totals older than that are
-- deleted except the newest one per key, which stays as the base later ones are
-- compared with.
--
-- Row-level security read once per statement: the policies compared every row's tenant
-- with nullif(current_setting('app.tenant_id', true), ''), a function call per row (a
-- stable function is evaluated for each row it filters). Written as a scalar subquery
-- the setting is read once per statement and each row costs one comparison; the rows
-- admitted are the same. A 30-day ranking reads about 13 000 rollup rows, whose filter
-- went from about 15 ms to 8 ms on the query benchmark's data. Undo:
-- rollback/rollback_V0.0.48.sql.

CREATE TABLE query_metrics_cumulative (
  tenant_id  uuid        NOT NULL,
  query_hash bigint      NOT NULL,
  day        timestamptz NOT NULL,
  calls      bigint      NOT NULL,
  hist       bigint[],
  coarse     bigint[],
  PRIMARY KEY (tenant_id, query_hash, day)
);
COMMENT ON TABLE query_metrics_cumulative IS
  'Running totals per fingerprint of the daily rows of query_metrics_rollup (calls, hist), through `day` included; built by cumulate_rollup_histograms().';
COMMENT ON COLUMN query_metrics_cumulative.coarse IS
  'hist_coarsen(hist, 2): the same counts in buckets 4 times wider, for bounding p95 rankings cheaply.';

CREATE TABLE api_metrics_cumulative (
  tenant_id uuid        NOT NULL,
  endpoint  text        NOT NULL,
  day       timestamptz NOT NULL,
  requests  bigint      NOT NULL,
  hist      bigint[],
  coarse    bigint[],
  PRIMARY KEY (tenant_id, endpoint, day)
);
COMMENT ON COLUMN api_metrics_cumulative.coarse IS
  'hist_coarsen(hist, 2): the same counts in buckets 4 times wider, for bounding p95 rankings cheaply.';
COMMENT ON TABLE api_metrics_cumulative IS
  'Running totals per endpoint of the daily rows of api_metrics_rollup (requests, hist), through `day` included; built by cumulate_rollup_histograms().';

CREATE TABLE rollup_cumulative_state (
  tenant_id    uuid        NOT NULL,
  rollup       text        NOT NULL CHECK (rollup IN ('query', 'api')),
  built_until  timestamptz,
  checked_from timestamptz NOT NULL,
  updated_at   timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, rollup)
);
COMMENT ON TABLE rollup_cumulative_state IS
  'Per tenant and rollup (query: query_metrics_cumulative, api: api_metrics_cumulative): running totals are built for the days before built_until; days before checked_from were expired and are not compared.';

-- hist_coarsen(hist, shift): the histogram with bucket b counted in bucket b >> shift,
-- in the same format; bucket c then holds values of buckets c * 2^shift to
-- (c + 1) * 2^shift - 1. A ranking by p95 first bounds each key from the coarse running
-- totals (about a third of the elements) and reads full histograms only for the keys left
-- (src/db/rangeHistograms.ts).
CREATE FUNCTION hist_coarsen(p_hist bigint[], p_shift integer) RETURNS bigint[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $fn$
  SELECT array_agg((b << 40) + n ORDER BY b)
    FROM (SELECT (e >> 40) >> p_shift AS b, sum(e & 1099511627775)::bigint AS n
            FROM unnest(p_hist) AS e
           GROUP BY 1) s
$fn$;
COMMENT ON FUNCTION hist_coarsen(bigint[], integer) IS
  'A latency histogram with its buckets merged 2^p_shift at a time (bucket b counted in b >> p_shift), same format.';

-- ---------------------------------------------------------------------------------
-- cumulate_rollup_histograms(tenant, max_days, now): builds at most p_max_days days per
-- tenant and rollup, for one tenant or all (NULL). One row per tenant and rollup it
-- looked at: from which day it (re)built, how many days, and built_until after it.
-- Serialized per tenant and rollup by the lock on its state row. Runs with the owner's
-- rights, as the refresh does, so the service's role needs only EXECUTE.
-- ---------------------------------------------------------------------------------
CREATE FUNCTION cumulate_rollup_histograms(p_tenant_id uuid DEFAULT NULL, p_max_days integer DEFAULT 62,
                                           p_now timestamptz DEFAULT now())
RETURNS TABLE (tenant_id uuid, rollup text, rebuilt_from timestamptz, days_built integer, built_until timestamptz)
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = public, pg_temp
AS $fn$
DECLARE
  v_origin   constant timestamptz := timestamptz '2000-01-01 00:00:00+00';
  -- Days that ended at least an hour ago; and the expiry of daily rollups (V0.0.45).
  v_settled  timestamptz := date_bin('1 day', p_now - interval '1 hour', v_origin);
  v_cutoff   timestamptz := date_bin('1 day', p_now - interval '400 days', v_origin);
  v_spec     record;
  v_tenant   uuid;
  v_state    record;
  v_from     timestamptz;
  v_stale    timestamptz;
  v_day      timestamptz;
  v_days     integer;
  v_until    timestamptz;
BEGIN
  IF p_max_days IS NULL OR p_max_days < 1 THEN
    RAISE EXCEPTION 'p_max_days must be at least 1, got %', p_max_days;
  END IF;
  FOR v_spec IN
    SELECT * FROM (VALUES ('query', 'query_metrics_rollup', 'query_metrics_cumulative', 'query_hash', 'calls'),
                          ('api',   'api_metrics_rollup',   'api_metrics_cumulative',   'endpoint',   'requests'))
      AS s(rollup, src, cum, key, n)
  LOOP
    -- Tenants with daily rows: a skip scan of the primary key, one probe per tenant.
    FOR v_tenant IN EXECUTE format(
      'WITH RECURSIVE t(id) AS (
         (SELECT r.tenant_id FROM %1$I r WHERE $1::uuid IS NULL OR r.tenant_id = $1::uuid ORDER BY 1 LIMIT 1)
         UNION ALL
         SELECT (SELECT r.tenant_id FROM %1$I r WHERE r.tenant_id > t.id AND $1::uuid IS NULL ORDER BY 1 LIMIT 1)
           FROM t WHERE t.id IS NOT NULL)
       SELECT id FROM t WHERE id IS NOT NULL', v_spec.src) USING p_tenant_id
    LOOP
      INSERT INTO rollup_cumulative_state AS s (tenant_id, rollup, built_until, checked_from)
      VALUES (v_tenant, v_spec.rollup, NULL, v_cutoff)
      ON CONFLICT ON CONSTRAINT rollup_cumulative_state_pkey DO NOTHING;
      SELECT s.built_until, s.checked_from INTO v_state
        FROM rollup_cumulative_state s
       WHERE s.tenant_id = v_tenant AND s.rollup = v_spec.rollup
         FOR UPDATE;

      -- Expire: keep the newest running total before the cutoff per key, as a base.
      IF v_cutoff > v_state.checked_from THEN
        EXECUTE format(
          'DELETE FROM %1$I c
            WHERE c.tenant_id = $1 AND c.day < $2
              AND EXISTS (SELECT 1 FROM %1$I n
                           WHERE n.tenant_id = $1 AND n.%2$I = c.%2$I AND n.day > c.day AND n.day < $2)',
          v_spec.cum, v_spec.key) USING v_tenant, v_cutoff;
        v_state.checked_from := v_cutoff;
      END IF;

      -- Compare: each built day's count must be the difference of two running totals.
      v_stale := NULL;
      IF v_state.built_until IS NOT NULL THEN
        EXECUTE format(
          'WITH c AS (
             SELECT c.%2$I AS key, c.day, c.%4$I - coalesce(lag(c.%4$I) OVER (PARTITION BY c.%2$I ORDER BY c.day), 0) AS n
               FROM %1$I c WHERE c.tenant_id = $1
           ), d AS (
             SELECT r.%2$I AS key, r.bucket AS day, r.%4$I AS n
               FROM %3$I r
              WHERE r.tenant_id = $1 AND r.resolution = ''1d'' AND r.bucket >= $2 AND r.bucket < $3
           )
           SELECT min(coalesce(c.day, d.day))
             FROM (SELECT * FROM c WHERE c.day >= $2 AND c.day < $3) c
             FULL JOIN d ON d.key = c.key AND d.day = c.day
            WHERE c.n IS DISTINCT FROM d.n',
          v_spec.cum, v_spec.key, v_spec.src, v_spec.n)
          INTO v_stale USING v_tenant, v_state.checked_from, v_state.built_until;
      END IF;

      v_from := CASE WHEN v_state.built_until IS NULL THEN v_state.checked_from
                     ELSE least(v_state.built_until, coalesce(v_stale, v_state.built_until)) END;
      IF v_stale IS NOT NULL OR v_state.built_until IS NULL THEN
        EXECUTE format('DELETE FROM %I c WHERE c.tenant_id = $1 AND c.day >= $2', v_spec.cum) USING v_tenant, v_from;
      END IF;

      -- Build day after day: each key's running total is its previous one plus the day.
      -- Stopped by p_max_days, built_until is the first day not built; otherwise every
      -- settled day is built (days without rows need nothing).
      v_days := 0;
      v_until := greatest(v_from, v_settled);
      FOR v_day IN EXECUTE format(
        'SELECT DISTINCT r.bucket FROM %I r
          WHERE r.tenant_id = $1 AND r.resolution = ''1d'' AND r.bucket >= $2 AND r.bucket < $3
          ORDER BY 1', v_spec.src) USING v_tenant, v_from, v_settled
      LOOP
        IF v_days >= p_max_days THEN
          v_until := v_day;
          EXIT;
        END IF;
        EXECUTE format(
          'INSERT INTO %1$I (tenant_id, %2$I, day, %4$I, hist, coarse)
           SELECT t.tenant_id, t.key, t.bucket, t.n, t.hist, hist_coarsen(t.hist, 2)
             FROM (SELECT r.tenant_id, r.%2$I AS key, r.bucket, coalesce(p.n, 0) + r.%4$I AS n, hist_merge(p.hist, r.hist) AS hist
             FROM %3$I r
             LEFT JOIN LATERAL (SELECT c.%4$I AS n, c.hist FROM %1$I c
                                 WHERE c.tenant_id = r.tenant_id AND c.%2$I = r.%2$I AND c.day < r.bucket
                                 ORDER BY c.day DESC LIMIT 1) p ON true
            WHERE r.tenant_id = $1 AND r.resolution = ''1d'' AND r.bucket = $2) t',
          v_spec.cum, v_spec.key, v_spec.src, v_spec.n) USING v_tenant, v_day;
        v_days := v_days + 1;
      END LOOP;

      UPDATE rollup_cumulative_state s
         SET built_until = v_until, checked_from = v_state.checked_from, updated_at = p_now
       WHERE s.tenant_id = v_tenant AND s.rollup = v_spec.rollup;

      tenant_id := v_tenant;
      rollup := v_spec.rollup;
      rebuilt_from := CASE WHEN v_stale IS NOT NULL THEN v_from END;
      days_built := v_days;
      built_until := v_until;
      RETURN NEXT;
    END LOOP;
  END LOOP;
  RETURN;
END
$fn$;
COMMENT ON FUNCTION cumulate_rollup_histograms(uuid, integer, timestamptz) IS
  'Builds the running totals of daily rollup histograms (query_metrics_cumulative, api_metrics_cumulative) for settled days, at most p_max_days per tenant and rollup, rebuilding from the first day whose daily rows changed; expires them with the daily rollups (400 days).';

REVOKE EXECUTE ON FUNCTION cumulate_rollup_histograms(uuid, integer, timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION cumulate_rollup_histograms(uuid, integer, timestamptz) TO agog_app;
GRANT SELECT ON query_metrics_cumulative, api_metrics_cumulative, rollup_cumulative_state TO agog_app, agog_readonly;
GRANT EXECUTE ON FUNCTION hist_coarsen(bigint[], integer) TO agog_app, agog_readonly;

ALTER TABLE query_metrics_cumulative ENABLE ROW LEVEL SECURITY;
ALTER TABLE api_metrics_cumulative ENABLE ROW LEVEL SECURITY;
ALTER TABLE rollup_cumulative_state ENABLE ROW LEVEL SECURITY;

DO $policies$
DECLARE
  v_table text;
BEGIN
  FOREACH v_table IN ARRAY ARRAY['query_metrics_cumulative', 'api_metrics_cumulative', 'rollup_cumulative_state']
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

-- Every tenant policy of V0.0.40, V0.0.41, V0.0.42 and this file, with the setting read
-- once per statement (the WITH CHECK of writes stays as it is).
DO $policies$
DECLARE
  v_policy record;
BEGIN
  FOR v_policy IN
    SELECT tablename, policyname FROM pg_policies
     WHERE schemaname = 'public' AND policyname IN ('tenant_isolation_app', 'tenant_scope_readonly')
  LOOP
    IF v_policy.policyname = 'tenant_isolation_app' THEN
      EXECUTE format(
        'ALTER POLICY tenant_isolation_app ON %I
           USING (tenant_id = (SELECT nullif(current_setting(''app.tenant_id'', true), '''')::uuid))', v_policy.tablename);
    ELSE
      EXECUTE format(
        'ALTER POLICY tenant_scope_readonly ON %I
           USING ((SELECT nullif(current_setting(''app.tenant_id'', true), '''')) IS NULL
                  OR tenant_id = (SELECT nullif(current_setting(''app.tenant_id'', true), '''')::uuid))', v_policy.tablename);
    END IF;
  END LOOP;
END
$policies$;
