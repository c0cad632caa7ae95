-- Gatehouse schema, version 1 (SQLite).
--
-- Times are INTEGER unix milliseconds (UTC). Every table is scoped by
-- application. The "seq" columns are rowid aliases used only to order rows
-- by insertion; the opaque "id" columns are what the application sees.

CREATE TABLE applications (
    id         TEXT    NOT NULL PRIMARY KEY,
    name       TEXT    NOT NULL UNIQUE,
    created_at INTEGER NOT NULL
);

CREATE TABLE accounts (
    seq                  INTEGER PRIMARY KEY,
    id                   TEXT    NOT NULL UNIQUE,
    app_id               TEXT    NOT NULL REFERENCES applications (id) ON DELETE CASCADE,
    username             TEXT    NOT NULL,
    username_key         TEXT    NOT NULL,
    email                TEXT    NOT NULL DEFAULT '',
    email_key            TEXT    NOT NULL DEFAULT '',
    given_name           TEXT    NOT NULL DEFAULT '',
    given_name_key       TEXT    NOT NULL DEFAULT '',
    surname              TEXT    NOT NULL DEFAULT '',
    surname_key          TEXT    NOT NULL DEFAULT '',
    status               TEXT    NOT NULL,
    password_hash        TEXT    NOT NULL,
    created_at           INTEGER NOT NULL,
    modified_at          INTEGER NOT NULL,
    password_modified_at INTEGER NOT NULL
);
CREATE INDEX accounts_app_seq ON accounts (app_id, seq);

-- One namespace of login keys per application: an account's folded username
-- and, when different, its folded email. The primary key is what makes a
-- login name at most one account.
CREATE TABLE account_logins (
    app_id     TEXT NOT NULL REFERENCES applications (id) ON DELETE CASCADE,
    login_key  TEXT NOT NULL,
    account_id TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    PRIMARY KEY (app_id, login_key)
) WITHOUT ROWID;
CREATE INDEX account_logins_account ON account_logins (account_id);

CREATE TABLE api_keys (
    seq         INTEGER PRIMARY KEY,
    id          TEXT    NOT NULL UNIQUE,
    app_id      TEXT    NOT NULL REFERENCES applications (id) ON DELETE CASCADE,
    account_id  TEXT    NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    name        TEXT    NOT NULL DEFAULT '',
    status      TEXT    NOT NULL,
    secret_hash BLOB    NOT NULL,
    created_at  INTEGER NOT NULL
);
CREATE INDEX api_keys_account_seq ON api_keys (account_id, seq);

CREATE TABLE custom_data (
    account_id TEXT NOT NULL PRIMARY KEY REFERENCES accounts (id) ON DELETE CASCADE,
    data       TEXT NOT NULL
);

CREATE TABLE groups (
    id          TEXT    NOT NULL PRIMARY KEY,
    app_id      TEXT    NOT NULL REFERENCES applications (id) ON DELETE CASCADE,
    name        TEXT    NOT NULL,
    name_key    TEXT    NOT NULL,
    description TEXT    NOT NULL DEFAULT '',
    created_at  INTEGER NOT NULL,
    modified_at INTEGER NOT NULL,
    UNIQUE (app_id, name_key)
);

CREATE TABLE memberships (
    account_id TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    group_id   TEXT NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
    PRIMARY KEY (account_id, group_id)
) WITHOUT ROWID;
CREATE INDEX memberships_group ON memberships (group_id);

CREATE TABLE revoked_tokens (
    app_id     TEXT    NOT NULL REFERENCES applications (id) ON DELETE CASCADE,
    jti        BLOB    NOT NULL, -- any bytes the caller gave
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (app_id, jti)
) WITHOUT ROWID;
CREATE INDEX revoked_tokens_expires ON revoked_tokens (expires_at);

CREATE TABLE signing_keys (
    seq         INTEGER PRIMARY KEY,
    app_id      TEXT    NOT NULL REFERENCES applications (id) ON DELETE CASCADE,
    id          TEXT    NOT NULL,
    private_key BLOB    NOT NULL,
    created_at  INTEGER NOT NULL,
    retire_at   INTEGER,
    UNIQUE (app_id, id)
);
CREATE INDEX signing_keys_app_seq ON signing_keys (app_id, seq);
