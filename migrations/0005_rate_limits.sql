-- Leaky buckets shared by every instance: `level` drops, draining at the
-- caller's rate from `updated_at` on.
CREATE TABLE rate_limit_buckets (
    bucket     text PRIMARY KEY,
    level      double precision NOT NULL,
    updated_at timestamptz NOT NULL
);

-- Adds one drop if it fits. The row lock serializes concurrent requests for
-- one bucket, whichever instance they reach.
CREATE FUNCTION rate_limit_add_drop(
    p_bucket text, p_capacity double precision, p_drain_per_sec double precision,
    OUT new_level double precision, OUT is_accepted boolean
) LANGUAGE plpgsql AS $$
DECLARE
    drained double precision;
BEGIN
    INSERT INTO rate_limit_buckets (bucket, level, updated_at)
    VALUES (p_bucket, 0, clock_timestamp())
    ON CONFLICT (bucket) DO NOTHING;

    SELECT greatest(0, b.level - extract(epoch FROM clock_timestamp() - b.updated_at) * p_drain_per_sec)
      INTO drained
      FROM rate_limit_buckets b WHERE b.bucket = p_bucket
       FOR UPDATE;

    is_accepted := drained + 1 <= p_capacity;
    new_level := drained + CASE WHEN is_accepted THEN 1 ELSE 0 END;

    UPDATE rate_limit_buckets
       SET level = new_level, updated_at = clock_timestamp()
     WHERE bucket = p_bucket;
END;
$$;
