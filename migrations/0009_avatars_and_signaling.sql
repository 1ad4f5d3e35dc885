-- Which stored image is a person's avatar.
ALTER TABLE profile_view_v1 ADD COLUMN avatar_id text;

-- Avatar images, one row per rendition, stored before the command that
-- makes them the avatar. They are personal data: erased with the person.
CREATE TABLE avatar_blobs (
    avatar_id  text    NOT NULL,
    person_id  text    NOT NULL,
    size       integer NOT NULL,
    jpeg       bytea   NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (avatar_id, size)
);

CREATE INDEX avatar_blobs_by_person ON avatar_blobs (person_id);

-- The SignalingEvents each person should hear of, in the order they were
-- projected (one projector at a time writes here, so ids follow that order).
CREATE TABLE signaling_feed_v1 (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    person_id   text NOT NULL,
    event_type  text NOT NULL,
    subject     text NOT NULL,
    occurred_at timestamptz NOT NULL
);

CREATE INDEX signaling_feed_v1_by_person ON signaling_feed_v1 (person_id, id);
