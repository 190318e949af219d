CREATE TABLE IF NOT EXISTS tcx_replay (
    jti        TEXT    PRIMARY KEY,
    expires_at BIGINT  NOT NULL
);

CREATE INDEX IF NOT EXISTS tcx_replay_expiry ON tcx_replay (expires_at);

CREATE TABLE IF NOT EXISTS tcx_sessions (
    id         TEXT    PRIMARY KEY,
    user_id    TEXT    NOT NULL,
    app_id     TEXT    NOT NULL,
    created_at BIGINT  NOT NULL,
    expires_at BIGINT  NOT NULL,
    revoked_at BIGINT 
);

CREATE INDEX IF NOT EXISTS tcx_sessions_expiry ON tcx_sessions (expires_at);

CREATE TABLE IF NOT EXISTS tcx_refresh_tokens (
    digest     BYTEA   PRIMARY KEY,
    session_id TEXT    NOT NULL REFERENCES tcx_sessions (id) ON DELETE CASCADE,
    created_at BIGINT  NOT NULL,
    rotated_at BIGINT 
);

CREATE INDEX IF NOT EXISTS tcx_refresh_tokens_session ON tcx_refresh_tokens (session_id);
