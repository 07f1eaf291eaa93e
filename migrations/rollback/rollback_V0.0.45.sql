-- Rollback of V0.0.45__retention_everywhere.sql: puts back V0.0.40's
-- maintain_performance_partitions (monthly partitions only; no purge of DEFAULT rows or
-- derived tables). Deleted rows are not restored.
BEGIN;

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
  END LOOP;
  RETURN;
END
$fn$;

COMMENT ON FUNCTION maintain_performance_partitions(integer, interval, timestamptz) IS
  'Creates monthly partitions for the current month and p_months_ahead more, moving matching rows out of the DEFAULT partition; drops monthly partitions older than p_retention; never drops DEFAULT partitions. Idempotent; serialized by an advisory lock.';


DO $history$
BEGIN
  IF to_regclass('agog_schema_history') IS NOT NULL THEN
    DELETE FROM agog_schema_history WHERE version = '0.0.45';
  END IF;
END
$history$;

COMMIT;
