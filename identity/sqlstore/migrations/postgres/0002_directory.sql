-- Gatehouse schema, version 2 (PostgreSQL): what the directory server needs.

-- Admin API keys: the credentials API servers present to the directory. A
-- key belongs to one application and sees only it. Only the SHA-256 of the
-- secret is stored (identity/apikey), as for account keys.
CREATE TABLE admin_keys (
    id          TEXT   NOT NULL PRIMARY KEY,
    app_id      TEXT   NOT NULL REFERENCES applications (id) ON DELETE CASCADE,
    secret_hash BYTEA  NOT NULL,
    status      TEXT   NOT NULL,
    created_at  BIGINT NOT NULL
);
CREATE INDEX admin_keys_app ON admin_keys (app_id);

-- Answers of writes sent with an Idempotency-Key. status is NULL while the
-- first request is running; a row older than 24 hours counts as absent.
CREATE TABLE idempotency_keys (
    app_id      TEXT   NOT NULL REFERENCES applications (id) ON DELETE CASCADE,
    key         TEXT   COLLATE "C" NOT NULL,
    fingerprint BYTEA  NOT NULL,
    status      INTEGER,
    location    TEXT   NOT NULL DEFAULT '',
    body        BYTEA,
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (app_id, key)
);
CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);
