-- When each token was revoked, so API servers can poll for revocations
-- made since their last look (the revocation feed). Existing rows get 0:
-- a poller's first, full load still sees them.
ALTER TABLE revoked_tokens ADD COLUMN revoked_at BIGINT NOT NULL DEFAULT 0;
CREATE INDEX revoked_tokens_feed ON revoked_tokens (app_id, revoked_at);
