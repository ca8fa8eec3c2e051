-- Bulkhead inventory schema, version 1. Times are Unix nanoseconds (UTC),
-- NULL when unknown; booleans are 0/1; lists and maps are JSON text.

CREATE TABLE hosts (
    name          TEXT PRIMARY KEY,
    os            TEXT NOT NULL DEFAULT '',
    kernel        TEXT NOT NULL DEFAULT '',
    arch          TEXT NOT NULL DEFAULT '',
    agent_id      TEXT NOT NULL DEFAULT '',
    agent_version TEXT NOT NULL DEFAULT '',
    engine        TEXT NOT NULL DEFAULT '',
    labels        TEXT NOT NULL DEFAULT '{}',
    distro        TEXT NOT NULL DEFAULT '',
    sbom          BYTEA,
    scanned       BIGINT,
    first_seen    BIGINT NOT NULL,
    last_seen     BIGINT NOT NULL
);

CREATE TABLE containers (
    id            TEXT PRIMARY KEY,
    name          TEXT NOT NULL DEFAULT '',
    host          TEXT NOT NULL,
    image_id      TEXT NOT NULL DEFAULT '',
    image_ref     TEXT NOT NULL DEFAULT '',
    repo_tags     TEXT NOT NULL DEFAULT '[]',
    repo_digests  TEXT NOT NULL DEFAULT '[]',
    labels        TEXT NOT NULL DEFAULT '{}',
    state         TEXT NOT NULL,
    created       BIGINT,
    started       BIGINT,
    finished      BIGINT,
    destroyed     BIGINT,
    exit_code     INTEGER,
    command       TEXT NOT NULL DEFAULT '[]',
    usr           TEXT NOT NULL DEFAULT '',
    privileged    INTEGER NOT NULL DEFAULT 0,
    cap_add       TEXT NOT NULL DEFAULT '[]',
    cap_drop      TEXT NOT NULL DEFAULT '[]',
    mounts        TEXT NOT NULL DEFAULT '[]',
    networks      TEXT NOT NULL DEFAULT '[]',
    ports         TEXT NOT NULL DEFAULT '[]',
    restart_count INTEGER NOT NULL DEFAULT 0,
    observed      BIGINT NOT NULL,
    first_seen    BIGINT NOT NULL,
    last_seen     BIGINT NOT NULL
);
CREATE INDEX containers_host ON containers (host, state);
CREATE INDEX containers_image ON containers (image_id, state, host);
-- Covers the impact query's probes when a label selector drives it.
CREATE INDEX containers_cover ON containers (id, state, image_id, host);
CREATE INDEX containers_destroyed ON containers (destroyed);

CREATE TABLE container_labels (
    container_id TEXT NOT NULL,
    key          TEXT NOT NULL,
    value        TEXT NOT NULL,
    PRIMARY KEY (container_id, key)
);
CREATE INDEX container_labels_kv ON container_labels (key, value, container_id);

CREATE TABLE images (
    id           TEXT PRIMARY KEY,
    repo_tags    TEXT NOT NULL DEFAULT '[]',
    repo_digests TEXT NOT NULL DEFAULT '[]',
    labels       TEXT NOT NULL DEFAULT '{}',
    os           TEXT NOT NULL DEFAULT '',
    arch         TEXT NOT NULL DEFAULT '',
    config       TEXT NOT NULL DEFAULT '',
    distro       TEXT NOT NULL DEFAULT '',
    packages     INTEGER NOT NULL DEFAULT 0,
    sbom         BYTEA,
    first_seen   BIGINT NOT NULL,
    last_seen    BIGINT NOT NULL
);

CREATE TABLE image_tags (
    image_id TEXT NOT NULL,
    tag      TEXT NOT NULL,
    repo     TEXT NOT NULL,
    PRIMARY KEY (image_id, tag)
);
CREATE INDEX image_tags_tag ON image_tags (tag);
CREATE INDEX image_tags_repo ON image_tags (repo);

CREATE TABLE image_labels (
    image_id TEXT NOT NULL,
    key      TEXT NOT NULL,
    value    TEXT NOT NULL,
    PRIMARY KEY (image_id, key)
);
CREATE INDEX image_labels_kv ON image_labels (key, value, image_id);

CREATE TABLE layers (
    diff_id TEXT PRIMARY KEY,
    size    BIGINT NOT NULL DEFAULT 0
);

CREATE TABLE image_layers (
    image_id TEXT NOT NULL,
    idx      INTEGER NOT NULL,
    diff_id  TEXT NOT NULL,
    PRIMARY KEY (image_id, idx)
);
CREATE INDEX image_layers_diff ON image_layers (diff_id);

-- One row per distinct package record, shared by every image and host
-- holding it. pkey is a hash of the fields matching depends on.
CREATE TABLE packages (
    pkey           TEXT PRIMARY KEY,
    type           TEXT NOT NULL,
    name           TEXT NOT NULL,
    version        TEXT NOT NULL,
    purl           TEXT NOT NULL DEFAULT '',
    distro         TEXT NOT NULL DEFAULT '',
    source_name    TEXT NOT NULL DEFAULT '',
    source_version TEXT NOT NULL DEFAULT '',
    arch           TEXT NOT NULL DEFAULT '',
    grp            TEXT NOT NULL DEFAULT '',
    owned          INTEGER NOT NULL DEFAULT 0,
    first_seen     BIGINT NOT NULL
);
CREATE INDEX packages_name ON packages (name);

CREATE TABLE image_packages (
    image_id TEXT NOT NULL,
    pkey     TEXT NOT NULL,
    layer    TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (image_id, pkey)
);
CREATE INDEX image_packages_by_pkey ON image_packages (pkey, image_id);

CREATE TABLE host_packages (
    host TEXT NOT NULL,
    pkey TEXT NOT NULL,
    PRIMARY KEY (host, pkey)
);
CREATE INDEX host_packages_by_pkey ON host_packages (pkey, host);

-- Vulnerabilities per package record: an image's (or host's) vulnerability
-- findings are those of its packages (images are immutable by digest).
CREATE TABLE vulns (
    pkey       TEXT NOT NULL,
    vuln_id    TEXT NOT NULL,
    severity   TEXT NOT NULL,
    sev_rank   INTEGER NOT NULL,
    kev        INTEGER NOT NULL DEFAULT 0,
    fixable    INTEGER NOT NULL DEFAULT 0,
    data       TEXT NOT NULL,
    origin     TEXT NOT NULL,
    first_seen BIGINT NOT NULL,
    last_seen  BIGINT NOT NULL,
    resolved   BIGINT,
    PRIMARY KEY (pkey, vuln_id)
);
CREATE INDEX vulns_id ON vulns (vuln_id, pkey);

-- Every identifier a vulnerability is known by (itself included).
CREATE TABLE vuln_aliases (
    alias   TEXT NOT NULL,
    vuln_id TEXT NOT NULL,
    PRIMARY KEY (alias, vuln_id)
);

-- Non-package findings (misconfig, runtime, agent-reported) per subject.
CREATE TABLE findings (
    subject_kind TEXT NOT NULL,
    subject_id   TEXT NOT NULL,
    kind         TEXT NOT NULL,
    fkey         TEXT NOT NULL,
    finding_id   TEXT NOT NULL,
    severity     TEXT NOT NULL DEFAULT '',
    data         TEXT NOT NULL,
    count        INTEGER NOT NULL DEFAULT 1,
    first_seen   BIGINT NOT NULL,
    last_seen    BIGINT NOT NULL,
    resolved     BIGINT,
    PRIMARY KEY (subject_kind, subject_id, kind, fkey)
);
CREATE INDEX findings_id ON findings (finding_id);

CREATE TABLE agents (
    id        TEXT PRIMARY KEY,
    host      TEXT NOT NULL,
    version   TEXT NOT NULL DEFAULT '',
    token_id  TEXT NOT NULL DEFAULT '',
    enrolled  BIGINT NOT NULL,
    last_seen BIGINT NOT NULL
);

CREATE TABLE agent_streams (
    agent_id TEXT NOT NULL,
    stream   TEXT NOT NULL,
    seq      BIGINT NOT NULL,
    updated  BIGINT NOT NULL,
    PRIMARY KEY (agent_id, stream)
);

CREATE TABLE tokens (
    id         TEXT PRIMARY KEY,
    kind       TEXT NOT NULL,
    name       TEXT NOT NULL,
    hash       TEXT NOT NULL UNIQUE,
    agent_id   TEXT NOT NULL DEFAULT '',
    created    BIGINT NOT NULL,
    created_by TEXT NOT NULL DEFAULT '',
    revoked    BIGINT,
    last_used  BIGINT
);

CREATE TABLE audit (
    id     BIGSERIAL PRIMARY KEY,
    time   BIGINT NOT NULL,
    actor  TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT NOT NULL DEFAULT '',
    detail TEXT NOT NULL DEFAULT ''
);
CREATE INDEX audit_time ON audit (time);
