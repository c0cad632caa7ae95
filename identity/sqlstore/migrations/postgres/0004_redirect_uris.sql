-- The allow-list of hosted-login redirect URIs of each application. A URI
-- is stored normalised (identity.NormalizeRedirectURI) and matched exactly.
CREATE TABLE redirect_uris (
    app_id     TEXT   NOT NULL REFERENCES applications (id) ON DELETE CASCADE,
    uri        TEXT   NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (app_id, uri)
);
