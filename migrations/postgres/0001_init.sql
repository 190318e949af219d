CREATE TABLE IF NOT EXISTS tcx_users (
    id          TEXT   PRIMARY KEY,
    app_id      TEXT   NOT NULL,
    external_id TEXT   NOT NULL,
    email       TEXT   NOT NULL,
    first_name  TEXT   NOT NULL,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL,
    UNIQUE (app_id, external_id)
);

CREATE TABLE IF NOT EXISTS tcx_api_keys (
    seq        BIGSERIAL,
    id         TEXT   PRIMARY KEY,
    app_id     TEXT   NOT NULL,
    label      TEXT   NOT NULL DEFAULT '',
    digest     BYTEA  NOT NULL UNIQUE,
    created_at BIGINT NOT NULL,
    revoked_at BIGINT
);

CREATE INDEX IF NOT EXISTS tcx_api_keys_app ON tcx_api_keys (app_id);
