-- One key per person for the personal data sealed inside events. Deleting a
-- person's account sets `key` to NULL: the data becomes unreadable, and the
-- row stays so that nothing new is ever sealed for that person again.
CREATE TABLE person_keys (
    person_id  text PRIMARY KEY,
    key        bytea CHECK (key IS NULL OR length(key) = 32),
    created_at timestamptz NOT NULL DEFAULT now(),
    destroyed_at timestamptz,
    CHECK ((key IS NULL) = (destroyed_at IS NOT NULL))
);
