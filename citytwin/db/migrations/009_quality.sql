-- Quality codes of readings (citytwin.quality.checks bit flags: 1 range, 2 stuck, 4 spike,
-- 8 offset, 16 drift, 32 noise), set by the quality stage at ingest. A smallint after the other
-- columns: a constant default adds it without rewriting the table, and COPY writes two bytes more.
-- `flagged` stays the one column aggregates test: a reading is flagged when its code holds a
-- kind the exclusion policy names (all of them), so rollups, tiles and models leave it out.
ALTER TABLE readings ADD COLUMN quality smallint NOT NULL DEFAULT 0;

-- Readings flagged before this migration were flagged by validation (out of range, below zero).
UPDATE readings SET quality = 1 WHERE flagged;

-- A sensor's health looks back over its own flagged readings: a partial index keeps that small.
CREATE INDEX readings_quality_idx ON readings (sensor_id, variable_id, time) WHERE quality <> 0;
