-- V0.0.55: idempotency keys of ingest batches.
--
-- A client that loses its connection while the service commits cannot know whether its
-- batch was stored. It sends the batch again with the same Idempotency-Key header; the
-- group commit inserts the key in the same transaction as the batch's rows
-- (service/src/db/idempotencyKeys.ts), so a key present means the rows are there, and a
-- retry is answered with the first answer instead of storing the rows twice.
--
-- Written and read only by the service's own connection (the tables' owner); neither
-- agog_app nor agog_readonly is granted anything. Keys are deleted a day after they were
-- stored by the service's daily upkeep (job maintain).

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

ALTER TABLE ingest_idempotency_keys ENABLE ROW LEVEL SECURITY;
