-- V0.0.57: the alert rules count collected statements through two functions, so that
-- agog_alerting (V0.0.54) still reads no fingerprint.
--
-- Since V0.0.56 the health-score and slow-query rules count a fingerprint collected from
-- pg_stat_statements by its collected calls instead of its reported ones. Telling the two
-- apart needs each row's fingerprint (query_hash), which agog_alerting may not read. These
-- functions do that part as their owner and return per-tenant counts only:
--   alert_query_counts(from, to)        merged_query_counts(from, to) for every tenant
--                                        (the health-score rule)
--   alert_collected_slow_calls(from, to) per tenant: slow calls collected in [from, to]
--                                        (5-minute buckets), and the raw log's slow rows in
--                                        [from, to] of those same fingerprints, which the
--                                        slow-query rule subtracts from its own count of
--                                        the raw log
-- Both are SECURITY DEFINER with a fixed search_path, executable by agog_alerting only
-- (EXECUTE is revoked from PUBLIC). Parameters are the rule's window; both ends are
-- included, as Grafana's $__timeFilter includes them.
-- ---------------------------------------------------------------------------------
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

REVOKE EXECUTE ON FUNCTION alert_query_counts(timestamptz, timestamptz) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION alert_collected_slow_calls(timestamptz, timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION alert_query_counts(timestamptz, timestamptz) TO agog_alerting;
GRANT EXECUTE ON FUNCTION alert_collected_slow_calls(timestamptz, timestamptz) TO agog_alerting;
