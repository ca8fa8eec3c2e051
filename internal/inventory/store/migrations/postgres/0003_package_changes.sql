-- Package-set change numbers (docs/inventory.md, decision 10): the
-- transaction that stores an image's SBOM or replaces a host's packages
-- stamps the row, so the in-memory index also knows which images and
-- hosts hold which package records.
ALTER TABLE images ADD COLUMN pkg_chg BIGINT NOT NULL DEFAULT 0;
CREATE INDEX images_pkg_chg ON images (pkg_chg);
ALTER TABLE hosts ADD COLUMN pkg_chg BIGINT NOT NULL DEFAULT 0;
CREATE INDEX hosts_pkg_chg ON hosts (pkg_chg);
