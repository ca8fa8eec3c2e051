-- Change numbers (docs/inventory.md, decision 10): every write to a
-- container row stamps it with its transaction's change number, and a
-- prune leaves a tombstone, so a server's in-memory container index
-- catches up by reading what was stamped since it last looked. SQLite
-- has one writer: numbers come from a counter in commit order.
ALTER TABLE containers ADD COLUMN chg BIGINT NOT NULL DEFAULT 0;
CREATE INDEX containers_chg ON containers (chg);
CREATE TABLE container_tombstones (
    id      TEXT PRIMARY KEY,
    chg     BIGINT NOT NULL,
    deleted BIGINT NOT NULL
);
CREATE INDEX container_tombstones_chg ON container_tombstones (chg);
CREATE TABLE change_seq (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    n  BIGINT NOT NULL
);
INSERT INTO change_seq (id, n) VALUES (1, 0);
