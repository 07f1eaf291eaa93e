-- V0.0.42: what the optimization engine finds, and daily storage snapshots.
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
-- Undo: migrations/rollback/rollback_V0.0.42.sql.

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

GRANT SELECT ON optimization_recommendations, storage_snapshots TO agog_app, agog_readonly;

ALTER TABLE optimization_recommendations ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation_app ON optimization_recommendations TO agog_app
  USING (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid);
CREATE POLICY tenant_scope_readonly ON optimization_recommendations FOR SELECT TO agog_readonly
  USING (nullif(current_setting('app.tenant_id', true), '') IS NULL
         OR tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid);
