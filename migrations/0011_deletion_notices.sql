-- The address of a member whose removal is to be told to them (#62
-- `inform=true`), kept only until the notice has gone out. The removal
-- deletes the account, and the deletion destroys the key that seals the
-- address in the log, so the notice cannot read it from the events.
CREATE TABLE deletion_notices (
    person_id    text PRIMARY KEY,
    address      text NOT NULL,
    organization text NOT NULL,
    requested_at timestamptz NOT NULL DEFAULT now()
);
