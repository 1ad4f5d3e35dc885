-- Which person a password reset key belongs to, by the key's SHA-256: the
-- key itself is only in the sealed event and the mail.
CREATE TABLE password_reset_view_v1 (
    key_digest text PRIMARY KEY,
    person_id  text NOT NULL,
    expires_at timestamptz NOT NULL
);

CREATE INDEX password_reset_view_v1_by_person ON password_reset_view_v1 (person_id);
