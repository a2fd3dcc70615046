-- Per sensor, variable and UTC hour: count, sum, sum of squares, min and max of its readings,
-- flagged and unflagged ones in rows of their own (aggregates leave flagged ones out, the quality
-- stage judges on all of them). Each load adds what it stored (citytwin.db.sensor_hours), so its
-- cost follows the readings it carries; the quality stage reads a feed's history here instead of
-- the raw readings, and per-sensor hourly answers (temporal aggregates) start here.
-- No foreign key to sensors, as for readings: the loader owns integrity.
CREATE TABLE sensor_hours (
    sensor_id   integer NOT NULL,
    variable_id smallint NOT NULL,
    hour        timestamptz NOT NULL,
    flagged     boolean NOT NULL,
    count       integer NOT NULL,
    sum         double precision NOT NULL,
    sum_sq      double precision NOT NULL,
    min         double precision NOT NULL,
    max         double precision NOT NULL,
    PRIMARY KEY (sensor_id, variable_id, hour, flagged)
);

INSERT INTO sensor_hours
SELECT sensor_id, variable_id, date_trunc('hour', time, 'UTC'), flagged,
       count(*), sum(value), sum(value * value), min(value), max(value)
FROM readings
GROUP BY 1, 2, 3, 4
ORDER BY 1, 2, 3, 4;
