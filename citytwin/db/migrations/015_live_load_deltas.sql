-- Live loads append their sensor hours here (one narrow row per sensor, variable, hour and
-- flagged of the readings they stored), as their cell rollups go to `cell_rollup_deltas`,
-- instead of upserting them into the large `sensor_hours` index; the compaction
-- (citytwin.db.compaction) folds them in off the loads' path. Readers add both: an hour may be
-- in several rows, which they add up as they already add flagged and unflagged rows.
CREATE TABLE sensor_hour_deltas (LIKE sensor_hours);
CREATE INDEX sensor_hour_deltas_key_idx ON sensor_hour_deltas (sensor_id, variable_id, hour);

-- The rollup deltas lose their identity column and its index: a compaction takes committed
-- rows in any order (their sums commute), so a load's COPY need not number and index them.
ALTER TABLE cell_rollup_deltas DROP COLUMN id;

-- Every load rewrites the latest state of each series it carries: room on each page lets the
-- new row versions stay on it (HOT updates, no index entries), which a full page forbids.
-- Rewritten at once (one row per series: small), so that existing pages get the room too.
ALTER TABLE latest_readings SET (fillfactor = 50);
CLUSTER latest_readings USING latest_readings_pkey;
