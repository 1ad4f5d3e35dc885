-- Every ID token, as GET /auth lists them and as the blacklist loads them.
-- User agent and client address are personal data, opened from the sealed
-- events; they go with the person when the account is deleted.
CREATE TABLE token_view_v1 (
    jti            text PRIMARY KEY,
    person_id      text NOT NULL,
    issued_for     text NOT NULL,
    auth_level     smallint NOT NULL,
    set_password   boolean NOT NULL,
    issued_at      timestamptz NOT NULL,
    expires_at     timestamptz NOT NULL,
    user_agent     text,
    client_address text,
    is_blacklisted boolean NOT NULL DEFAULT false
);

CREATE INDEX token_view_v1_by_person ON token_view_v1 (person_id, expires_at);
CREATE INDEX token_view_v1_blacklisted ON token_view_v1 (expires_at) WHERE is_blacklisted;
