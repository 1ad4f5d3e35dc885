-- The ES256 key ring, shared by every instance. A key signs until
-- `retires_at` and is published in the JWKS until `expires_at`, when no
-- token it signed can still be valid.
CREATE TABLE signing_keys (
    kid         text PRIMARY KEY,
    private_der bytea       NOT NULL,
    public_x    text        NOT NULL,
    public_y    text        NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    retires_at  timestamptz NOT NULL,
    expires_at  timestamptz NOT NULL,
    CHECK (retires_at <= expires_at)
);
