-- V0.0.45: retention for every table, not only the monthly partitions.
--
-- Until now the DEFAULT partitions were never emptied (rows with far-past timestamps
-- outlived the retention) and the rollups, cache, fingerprints and recommendations grew
-- forever. maintain_performance_partitions keeps its signature and gains:
--   - DEFAULT partition rows older than the retention cutoff are deleted;
--   - 5-minute and resource rollups older than the retention plus a week are deleted;
--   - hourly and daily rollups, the cache, fingerprints, fingerprint endpoints and
--     recommendations older than 400 days (the longest range the query API answers) are
--     deleted.
-- Each deletion is reported as an action 'purged'. Undo: rollback/rollback_V0.0.45.sql.

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

  -- Derived data. Five-minute rollups and resource rollups follow the raw retention (a
  -- week of slack, so a month being dropped still has them); hourly and daily rollups,
  -- the cache, fingerprints and recommendations are kept for the longest range the query
  -- API answers (400 days).
  FOR v_rec IN
    SELECT * FROM (VALUES
      ('api_metrics_rollup',      'resolution = ''5m'' AND bucket < $1',            p_now - p_retention - interval '7 days'),
      ('query_metrics_rollup',    'resolution = ''5m'' AND bucket < $1',            p_now - p_retention - interval '7 days'),
      ('resource_metrics_rollup', 'bucket < $1',                                     p_now - p_retention - interval '7 days'),
      ('api_metrics_rollup',      'resolution IN (''1h'', ''1d'') AND bucket < $1', p_now - interval '400 days'),
      ('query_metrics_rollup',    'resolution IN (''1h'', ''1d'') AND bucket < $1', p_now - interval '400 days'),
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
  'Creates monthly partitions for the current month and p_months_ahead more, moving matching rows out of the DEFAULT partition; drops monthly partitions older than p_retention and deletes older DEFAULT rows; expires derived rollups (5-minute: retention + 7 days; hourly, daily, cache, fingerprints, recommendations: 400 days); never drops DEFAULT partitions. Idempotent; serialized by an advisory lock.';
