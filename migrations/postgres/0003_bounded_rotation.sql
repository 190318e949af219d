-- Each refresh token's place in its family (0 for the first), so that a rotation keeps only
-- the last few rotated tokens; and when a rotated token was accepted once more within the
-- reuse interval (TCX_REFRESH_REUSE_INTERVAL).
ALTER TABLE tcx_refresh_tokens ADD COLUMN generation BIGINT NOT NULL DEFAULT 0;
ALTER TABLE tcx_refresh_tokens ADD COLUMN grace_used_at BIGINT;

-- A rotation forgets the token ROTATED_TOKENS_KEPT generations back by this key: one index
-- entry, however many dead ones an older family has left behind.
CREATE INDEX IF NOT EXISTS tcx_refresh_tokens_generation ON tcx_refresh_tokens (session_id, generation);
