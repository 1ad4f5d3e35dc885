-- How far each projection has read, in the store's global order.
CREATE TABLE projection_checkpoints (
    projection      text PRIMARY KEY,
    transaction_id  bigint NOT NULL DEFAULT 0,
    global_sequence bigint NOT NULL DEFAULT 0,
    updated_at      timestamptz NOT NULL DEFAULT now()
);

-- The profile of every person, as GET /profile answers it.
CREATE TABLE profile_view_v1 (
    person_id     text PRIMARY KEY,
    name          text,
    locale        text NOT NULL,
    time_zone     text NOT NULL,
    has_avatar    boolean NOT NULL DEFAULT false,
    created_at    timestamptz NOT NULL,
    last_login_at timestamptz
);

-- Every address of every person, keyed by its case-folded form.
CREATE TABLE email_view_v1 (
    canonical_address text PRIMARY KEY,
    address           text NOT NULL,
    person_id         text NOT NULL,
    is_primary        boolean NOT NULL,
    is_verified       boolean NOT NULL,
    added_at          timestamptz NOT NULL,
    remove_at         timestamptz
);

CREATE INDEX email_view_v1_by_person ON email_view_v1 (person_id);
