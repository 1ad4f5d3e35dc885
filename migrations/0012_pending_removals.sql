-- Members an administrator removed whose account is not yet deleted.
-- Removal is two steps on two aggregates (the organization's
-- `MemberDeparted`, then the person's `PersonDeleted`); a row that stays
-- here longer than a moment means the process died between them, and the
-- upkeep sweep finishes the deletion.
CREATE TABLE pending_removals_v1 (
    person_id       text PRIMARY KEY,
    organization_id text NOT NULL,
    removed_at      timestamptz NOT NULL
);
