-- Every email address belongs to at most one person. A claim is written
-- before the command that introduces the address is appended, and confirmed
-- by the append itself (the trigger below runs in the same transaction).
-- A claim left unconfirmed by a process that died in between lapses after a
-- minute and is then free for anyone.
CREATE TABLE email_claims (
    address    text PRIMARY KEY,
    person_id  text NOT NULL,
    confirmed  boolean NOT NULL DEFAULT false,
    claimed_at timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX email_claims_by_person ON email_claims (person_id);

CREATE FUNCTION confirm_email_claims() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE email_claims SET confirmed = true
     WHERE person_id = NEW.aggregate_id AND NOT confirmed;
    RETURN NULL;
END;
$$;

CREATE TRIGGER person_events_confirm_claims AFTER INSERT ON events
    FOR EACH ROW WHEN (NEW.aggregate_type = 'Person')
    EXECUTE FUNCTION confirm_email_claims();
