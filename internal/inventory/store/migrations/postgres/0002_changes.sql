-- Change numbers (docs/inventory.md, decision 10): every write to a
-- container row stamps it with its transaction id (pg_current_xact_id),
-- and a prune leaves a tombstone, so each server's in-memory container
-- index catches up by reading the rows of transactions it has not seen
-- (from its last snapshot's xmin on).
ALTER TABLE containers ADD COLUMN chg BIGINT NOT NULL DEFAULT 0;
CREATE INDEX containers_chg ON containers (chg);
CREATE TABLE container_tombstones (
    id      TEXT PRIMARY KEY,
    chg     BIGINT NOT NULL,
    deleted BIGINT NOT NULL
);
CREATE INDEX container_tombstones_chg ON container_tombstones (chg);
