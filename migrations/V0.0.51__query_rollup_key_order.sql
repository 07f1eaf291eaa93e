-- V0.0.51: query_metrics_rollup's primary key ordered for one fingerprint's rows.
--
-- The key was (tenant_id, resolution, bucket, query_hash), the same order as the covering
-- index query_metrics_rollup_totals (V0.0.47). Reads of one fingerprint, or of a few,
-- over a time range (queryDetail's series; the histograms of the top N fingerprints,
-- src/db/rangeHistograms.ts) scanned the index entries of every fingerprint in that
-- range to find theirs: at 10 M queries a month, the series of the busiest fingerprint
-- over a day walked the entries of all 200 fingerprints of its tenant, and the work grows
-- with the number of fingerprints. (PostgreSQL 18 skips through them, 177 index searches
-- for 289 rows; PostgreSQL 15 cannot.)
--
-- In the order (tenant_id, resolution, query_hash, bucket), as api_metrics_rollup's
-- per-endpoint index (V0.0.44), those reads are one range scan per fingerprint. Rankings
-- over every fingerprint keep reading query_metrics_rollup_totals, whose order is the
-- former key's. The refresh upserts by the same columns (ON CONFLICT names the columns,
-- not the order). The index keeps its name and size.
--
-- Rebuilding the key takes an exclusive lock on the table while it sorts every row
-- (measured: see migrations/README.md); the refresh waits for it.
ALTER TABLE query_metrics_rollup
  DROP CONSTRAINT query_metrics_rollup_pkey,
  ADD CONSTRAINT query_metrics_rollup_pkey PRIMARY KEY (tenant_id, resolution, query_hash, bucket);

COMMENT ON INDEX query_metrics_rollup_pkey IS
  'One or a few fingerprints over a time range at one resolution (series, range histograms); the refresh upserts by this key. Rankings read query_metrics_rollup_totals.';
