-- Loads that cost what they carry. A load into days that already have rollups appends narrow
-- per-slot rows here (one per variable, day, base cell and base bucket: about one per reading of
-- a live load) instead of merging slot arrays into `cell_rollups` row by row; a compaction
-- (citytwin.db.compaction) later folds them into the day rows, off the load's path. Readers
-- add both: a slot here is `day + slot * bucket`, with the same numbers as a slot of a day row.
CREATE TABLE cell_rollup_deltas (
    id          bigint GENERATED ALWAYS AS IDENTITY,
    variable_id smallint NOT NULL,
    day         timestamptz NOT NULL,
    cell        bigint NOT NULL,
    slot        smallint NOT NULL,
    count       integer NOT NULL,
    sum         double precision NOT NULL,
    sum_sq      double precision NOT NULL,
    min         double precision NOT NULL,
    max         double precision NOT NULL
);
CREATE INDEX cell_rollup_deltas_key_idx ON cell_rollup_deltas (variable_id, day, cell);
-- The backlog (newest id less oldest) in two index probes: when a load must compact itself.
CREATE INDEX cell_rollup_deltas_id_idx ON cell_rollup_deltas (id);

-- City-wide aggregates over whole days read the day totals alone, by index-only scans, never
-- the slot arrays beside them in the heap.
CREATE INDEX cell_rollups_day_totals_idx ON cell_rollups (variable_id, day)
    INCLUDE (cell, count, sum, sum_sq, min, max);

-- Tile caches forget by place and time: the version keys a load bumped are those above the
-- highest version a server has seen.
CREATE INDEX tile_versions_version_idx ON tile_versions (version);
