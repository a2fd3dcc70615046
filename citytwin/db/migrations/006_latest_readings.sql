-- The twin's live state: the latest reading of every (sensor, variable), written by the loader in
-- each load's own transaction, so `/twin/state` reads one small table instead of `readings`.
-- The reading before it and the run of equal values ending with it feed the suspect rules.
CREATE TABLE latest_readings (
    sensor_id   integer NOT NULL,
    variable_id smallint NOT NULL,
    time        timestamptz NOT NULL,
    value       double precision NOT NULL,
    flagged     boolean NOT NULL,
    cell        bigint NOT NULL,       -- where this reading was taken (base resolution)
    prev_time   timestamptz,           -- the reading before it; NULL while there is only one
    prev_value  double precision,
    run_length  integer NOT NULL,      -- readings in a row, ending with this one, equal to value
    PRIMARY KEY (sensor_id, variable_id)
);
CREATE INDEX latest_readings_variable_cell_idx ON latest_readings (variable_id, cell);

-- What each load changed, for `/twin/stream`: the (variable, base cell) pairs whose latest state
-- changed, element-wise in two arrays. The id orders events (loads are serialised and write their
-- event last, so ids commit in order); a load announces it with pg_notify('citytwin_twin', id).
-- Loads delete events older than an hour.
CREATE TABLE twin_events (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    created      timestamptz NOT NULL DEFAULT now(),
    variable_ids smallint[] NOT NULL,
    cells        bigint[] NOT NULL
);

-- The state of readings stored before this migration: newest first per series, the run is the
-- rows before the first one whose value differs from the newest.
WITH ranked AS (
    SELECT sensor_id, variable_id, time, value, flagged, cell,
           row_number() OVER w AS n, first_value(value) OVER w AS newest
    FROM readings
    WINDOW w AS (PARTITION BY sensor_id, variable_id ORDER BY time DESC)
)
INSERT INTO latest_readings (sensor_id, variable_id, time, value, flagged, cell, prev_time,
                             prev_value, run_length)
SELECT sensor_id, variable_id,
       max(time) FILTER (WHERE n = 1),
       max(value) FILTER (WHERE n = 1),
       bool_or(flagged) FILTER (WHERE n = 1),
       max(cell) FILTER (WHERE n = 1),
       max(time) FILTER (WHERE n = 2),
       max(value) FILTER (WHERE n = 2),
       coalesce(min(n) FILTER (WHERE value <> newest), count(*) + 1) - 1
FROM ranked
GROUP BY sensor_id, variable_id;
