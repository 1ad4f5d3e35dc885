-- Every hostname belongs to at most one organization, for good: an
-- organization keeps its former hostnames as inactive ones. A claim is
-- written before the command that introduces the hostname is appended and
-- confirmed by that append (trigger below, same transaction); a claim left
-- unconfirmed by a process that died in between lapses after a minute.
CREATE TABLE hostname_claims (
    hostname        text PRIMARY KEY,
    organization_id text NOT NULL,
    confirmed       boolean NOT NULL DEFAULT false,
    claimed_at      timestamptz NOT NULL DEFAULT now()
);

-- Every person is a member of at most one organization. Claimed before the
-- append of `MemberJoined`, confirmed by it, and deleted by the append of
-- `MemberDeparted`, so the registry never disagrees with the log.
CREATE TABLE membership_claims (
    person_id       text PRIMARY KEY,
    organization_id text NOT NULL,
    confirmed       boolean NOT NULL DEFAULT false,
    claimed_at      timestamptz NOT NULL DEFAULT now()
);

-- Only the claims an event names are touched, so that a concurrent,
-- unrelated command of the same organization never confirms a claim whose
-- own command may still fail.
CREATE FUNCTION maintain_organization_claims() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    CASE NEW.event_type
    WHEN 'OrganizationCreated' THEN
        UPDATE hostname_claims SET confirmed = true
         WHERE hostname = NEW.payload->'OrganizationCreated'->>'hostname'
           AND organization_id = NEW.aggregate_id;
    WHEN 'HostnameChanged' THEN
        UPDATE hostname_claims SET confirmed = true
         WHERE hostname = NEW.payload->'HostnameChanged'->>'hostname'
           AND organization_id = NEW.aggregate_id;
    WHEN 'MemberJoined' THEN
        UPDATE membership_claims SET confirmed = true
         WHERE person_id = NEW.payload->'MemberJoined'->>'person'
           AND organization_id = NEW.aggregate_id;
    WHEN 'MemberDeparted' THEN
        DELETE FROM membership_claims
         WHERE person_id = NEW.payload->'MemberDeparted'->>'person'
           AND organization_id = NEW.aggregate_id;
    ELSE
        NULL;
    END CASE;
    RETURN NULL;
END;
$$;

CREATE TRIGGER organization_events_maintain_claims AFTER INSERT ON events
    FOR EACH ROW WHEN (NEW.aggregate_type = 'Organization')
    EXECUTE FUNCTION maintain_organization_claims();

-- Every organization, as GET /organizations/{uid} and the public lookup
-- answer it.
CREATE TABLE organization_view_v1 (
    organization_id    text PRIMARY KEY,
    external_uid       text,
    profile            jsonb NOT NULL,
    hostname           text NOT NULL,
    inactive_hostnames text[] NOT NULL DEFAULT '{}',
    mfa_required       boolean NOT NULL,
    member_limit       integer NOT NULL,
    member_count       integer NOT NULL DEFAULT 0,
    has_avatar         boolean NOT NULL DEFAULT false,
    created_at         timestamptz NOT NULL
);

CREATE INDEX organization_view_v1_by_hostname ON organization_view_v1 (hostname);
CREATE INDEX organization_view_v1_by_inactive_hostname
    ON organization_view_v1 USING gin (inactive_hostnames);

-- Who is a member where, with which roles.
CREATE TABLE membership_view_v1 (
    person_id       text PRIMARY KEY,
    organization_id text NOT NULL,
    roles           text[] NOT NULL,
    reference       text,
    joined_at       timestamptz NOT NULL
);

CREATE INDEX membership_view_v1_by_organization ON membership_view_v1 (organization_id);

-- The signaling feed's own copy of memberships, kept in step with the
-- events it fans out, so that it never depends on another projection's
-- progress.
CREATE TABLE signaling_members_v1 (
    person_id       text PRIMARY KEY,
    organization_id text NOT NULL
);

CREATE INDEX signaling_members_v1_by_organization ON signaling_members_v1 (organization_id);

ALTER TABLE profile_view_v1
    ADD COLUMN cluster_roles text[] NOT NULL DEFAULT '{}',
    ADD COLUMN is_disabled boolean NOT NULL DEFAULT false;
