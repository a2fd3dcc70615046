-- The sensor store: feeds, variables, sensors, time-partitioned readings and H3 cell rollups.
CREATE EXTENSION IF NOT EXISTS postgis;

CREATE TABLE store_config (
    key   text PRIMARY KEY,
    value text NOT NULL
);

CREATE TABLE feeds (
    name       text PRIMARY KEY,
    kind       text NOT NULL CHECK (kind IN ('traffic', 'air', 'energy')),
    definition jsonb NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- Variables are global so that cells aggregate one variable across feeds.
CREATE TABLE variables (
    id   smallint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name text NOT NULL UNIQUE,
    unit text NOT NULL
);

CREATE TABLE sensors (
    id          integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    feed        text NOT NULL REFERENCES feeds (name),
    external_id text NOT NULL,
    name        text,
    geom        geometry(Point, 4326) NOT NULL,
    cell        bigint NOT NULL,
    mobile      boolean NOT NULL DEFAULT false,
    properties  jsonb NOT NULL DEFAULT '{}',
    created_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (feed, external_id)
);
CREATE INDEX sensors_geom_idx ON sensors USING gist (geom);
CREATE INDEX sensors_cell_idx ON sensors (cell);

-- One row per (sensor, variable, time): a replay finds its rows already there.
-- `cell` is the reading's own base-resolution cell; `geom` is set only where the reading was
-- taken away from its sensor's registered point (mobile sensors).
-- No foreign key to sensors: its per-row trigger would halve COPY speed; the loader owns integrity.
CREATE TABLE readings (
    sensor_id   integer NOT NULL,
    variable_id smallint NOT NULL,
    time        timestamptz NOT NULL,
    value       double precision NOT NULL,
    cell        bigint NOT NULL,
    flagged     boolean NOT NULL DEFAULT false,
    geom        geometry(Point, 4326),
    PRIMARY KEY (sensor_id, variable_id, time)
) PARTITION BY RANGE (time);
CREATE INDEX readings_time_idx ON readings USING brin (time);
CREATE INDEX readings_geom_idx ON readings USING gist (geom) WHERE geom IS NOT NULL;

-- Every base-resolution cell that holds data, with its centre: areas select cells through it.
CREATE TABLE cells (
    cell   bigint PRIMARY KEY,
    center geometry(Point, 4326) NOT NULL
);
CREATE INDEX cells_center_idx ON cells USING gist (center);

-- Aggregates of a variable in a base cell, one row per UTC day: the day's totals, and the same
-- per base bucket of the day in slot arrays (slot i covers day + (i - 1) * bucket; an empty slot
-- holds count 0, sum 0, min +inf, max -inf). Whole days are answered from the totals, finer
-- buckets from the slots; a day row costs one heap tuple where hourly rows would cost 24.
CREATE TABLE cell_rollups (
    variable_id smallint NOT NULL,
    day         timestamptz NOT NULL,
    cell        bigint NOT NULL,
    count       bigint NOT NULL,
    sum         double precision NOT NULL,
    sum_sq      double precision NOT NULL,
    min         double precision NOT NULL,
    max         double precision NOT NULL,
    slot_count  integer[] NOT NULL,
    slot_sum    double precision[] NOT NULL,
    slot_sum_sq double precision[] NOT NULL,
    slot_min    double precision[] NOT NULL,
    slot_max    double precision[] NOT NULL,
    PRIMARY KEY (variable_id, day, cell)
);
-- Tiles and cell series ask for a few cells over many days: cell before day.
CREATE INDEX cell_rollups_cell_idx ON cell_rollups (variable_id, cell, day);

-- Element-wise merges of slot arrays (rollups of two loads of the same day).
CREATE FUNCTION slots_add(a anyarray, b anyarray) RETURNS anyarray
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT ARRAY(SELECT x + y FROM unnest(a, b) WITH ORDINALITY AS t (x, y, i) ORDER BY i)
$$;

CREATE FUNCTION slots_least(a anyarray, b anyarray) RETURNS anyarray
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT ARRAY(SELECT least(x, y) FROM unnest(a, b) WITH ORDINALITY AS t (x, y, i) ORDER BY i)
$$;

CREATE FUNCTION slots_greatest(a anyarray, b anyarray) RETURNS anyarray
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT ARRAY(SELECT greatest(x, y) FROM unnest(a, b) WITH ORDINALITY AS t (x, y, i) ORDER BY i)
$$;

-- Parent of an H3 cell at resolution r, by bit operations on the BIGINT index
-- (h3-pg is not packaged by Debian): set the resolution field, fill digits r+1..15 with 7.
CREATE FUNCTION h3_parent(h bigint, r integer) RETURNS bigint
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
RETURN (h & ~(15::bigint << 52)) | (r::bigint << 52) | ((1::bigint << (3 * (15 - r))) - 1);

-- Monthly (UTC) partitions of readings covering [t_from, t_to], created as data arrives.
CREATE FUNCTION ensure_readings_partitions(t_from timestamptz, t_to timestamptz) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    month timestamp := date_trunc('month', t_from AT TIME ZONE 'UTC');
    name  text;
BEGIN
    WHILE month <= t_to AT TIME ZONE 'UTC' LOOP
        name := format('readings_%s', to_char(month, 'YYYY_MM'));
        IF to_regclass(name) IS NULL THEN
            EXECUTE format(
                'CREATE TABLE %I PARTITION OF readings FOR VALUES FROM (%L) TO (%L)',
                name, month AT TIME ZONE 'UTC', (month + interval '1 month') AT TIME ZONE 'UTC');
        END IF;
        month := month + interval '1 month';
    END LOOP;
END $$;
